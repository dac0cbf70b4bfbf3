"""Testing with sagemaker-images: the in-process mock, and (``pytest_plugin``) fixtures for pytest.

from sagemaker_images.testing import mock_sagemaker_images

with mock_sagemaker_images() as images:
    boto3.client("sagemaker").create_image(...)   # answered in process, as the server answers
"""

from sagemaker_images.testing.mock import MockSageMakerImages, mock_sagemaker_images

__all__ = ["MockSageMakerImages", "mock_sagemaker_images"]
