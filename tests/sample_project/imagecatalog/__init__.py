"""imagecatalog: publishes container images as SageMaker image versions, with release notes in S3.

Plain ``boto3.client(...)`` calls, no endpoint or credentials threaded through: what user code looks like.
"""

from tests.sample_project.imagecatalog.catalog import Release, latest_release, publish, wait_until_settled

__all__ = ["Release", "latest_release", "publish", "wait_until_settled"]
