"""The AWS APIs behind resolution, through botocore: ECR's DescribeImages and IAM's GetRole.

Clients come from one botocore session with its usual credential chain (environment, shared files,
instance roles), pointed at ``--ecr-endpoint`` / ``--iam-endpoint`` — moto's server, LocalStack or
AWS itself (the value ``aws`` keeps botocore's own endpoints). Because every call goes through
botocore, moto's in-process ``mock_aws`` intercepts them too: a test that pushed an image to moto's
ECR sees it found here. ``client_factory`` lets an embedding application supply its own clients.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sagemaker_images.images import references, resolution
from sagemaker_images.images.references import Reference
from sagemaker_images.images.resolution import Failed, Outcome, Resolved, Unreachable

if TYPE_CHECKING:
    from botocore.exceptions import ClientError

# botocore's session, config and exceptions are imported where a call is made, not at import: a
# server that resolves nothing through AWS starts without them (docs/performance.md).

ClientFactory = Callable[[str, str], Any]  # (service, region) -> botocore client

_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
    }
)
_TRANSIENT = frozenset(
    {"ServerException", "ThrottlingException", "ServiceUnavailable", "InternalFailure", "Throttling"}
)


def botocore_clients(endpoint: str, timeout: float) -> ClientFactory:
    """Clients of one botocore session, cached per (service, region); ``aws`` = botocore's endpoints."""
    import botocore.session
    from botocore.config import Config

    session = botocore.session.get_session()
    config = Config(
        connect_timeout=timeout, read_timeout=timeout, retries={"max_attempts": 1, "mode": "standard"}
    )
    clients: dict[tuple[str, str], Any] = {}
    lock = threading.Lock()

    def client(service: str, region: str) -> Any:
        with lock:
            key = (service, region)
            if key not in clients:
                url = None if endpoint == "aws" else endpoint
                clients[key] = session.create_client(
                    service, region_name=region, endpoint_url=url, config=config
                )
            return clients[key]

    return client


class EcrRegistry:
    """ECR URIs resolved with DescribeImages in the account and region the URI names."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients

    def resolve(self, base_image: str, reference: Reference) -> Outcome:
        location = references.ecr_location(reference.host)
        if location is None:
            return resolution.invalid_image(base_image, "not an Amazon ECR repository URI")
        image_id = {"imageDigest": reference.digest} if reference.digest else {"imageTag": reference.manifest}
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            answer = self.clients("ecr", location.region).describe_images(
                registryId=location.account, repositoryName=reference.repository, imageIds=[image_id]
            )
        except ClientError as error:
            return _client_error(base_image, reference, error)
        except NoCredentialsError:
            return resolution.access_denied(base_image, "No AWS credentials are configured for ECR.")
        except BotoCoreError as error:
            return Unreachable(str(error))
        details = answer.get("imageDetails") or []
        digest = details[0].get("imageDigest") if details else None
        if not digest:
            return resolution.image_not_found(base_image, reference)
        return Resolved(reference.pinned(digest))


def _client_error(base_image: str, reference: Reference, error: ClientError) -> Outcome:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
    if code == "RepositoryNotFoundException":
        return resolution.repository_not_found(base_image, _sentence(message))
    if code == "ImageNotFoundException":
        return resolution.image_not_found(base_image, reference)
    if code in _DENIED:
        return resolution.access_denied(base_image, _sentence(message))
    if code in _TRANSIENT or status >= 500 or status == 429:
        return Unreachable(f"{code}: {message}")
    return resolution.invalid_image(base_image, f"{code}: {message}")


def _sentence(text: str) -> str:
    return text if text.endswith(".") else text + "."


class RoleCheck:
    """Whether a RoleArn names an existing IAM role (IAM GetRole, compared by ARN)."""

    def __init__(self, clients: ClientFactory) -> None:
        self.clients = clients

    def check(self, role_arn: str, region: str) -> Failed | Unreachable | None:
        name = role_arn.rsplit("/", 1)[-1]
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            role = self.clients("iam", region).get_role(RoleName=name)["Role"]
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            if code in _TRANSIENT or status >= 500 or status == 429:
                return Unreachable(f"{code}: {error.response.get('Error', {}).get('Message', '')}")
            return resolution.role_not_found(role_arn)
        except NoCredentialsError:
            return resolution.role_not_found(role_arn)
        except BotoCoreError as error:
            return Unreachable(str(error))
        # Same name in another account or under another path is another role.
        return None if role.get("Arn") == role_arn else resolution.role_not_found(role_arn)
