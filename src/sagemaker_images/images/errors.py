"""The errors the SageMaker image operations raise, named by their AWS error codes."""

from sagemaker_images.errors import ServiceError, ValidationException


class ResourceNotFound(ServiceError):
    code = "ResourceNotFound"


class ResourceInUse(ServiceError):
    code = "ResourceInUse"


class ResourceLimitExceeded(ServiceError):
    code = "ResourceLimitExceeded"


__all__ = ["ResourceInUse", "ResourceLimitExceeded", "ResourceNotFound", "ValidationException"]
