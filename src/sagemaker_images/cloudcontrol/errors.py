"""Cloud Control error codes (as the botocore ``cloudcontrol`` model names them) and handler failures."""

from __future__ import annotations

from sagemaker_images.errors import ServiceError


class AlreadyExistsException(ServiceError):
    code = "AlreadyExistsException"


class ClientTokenConflictException(ServiceError):
    code = "ClientTokenConflictException"


class ConcurrentModificationException(ServiceError):
    code = "ConcurrentModificationException"
    status = 500


class ConcurrentOperationException(ServiceError):
    code = "ConcurrentOperationException"


class GeneralServiceException(ServiceError):
    code = "GeneralServiceException"


class InvalidRequestException(ServiceError):
    code = "InvalidRequestException"


class NotStabilizedException(ServiceError):
    code = "NotStabilizedException"


class NotUpdatableException(ServiceError):
    code = "NotUpdatableException"


class RequestTokenNotFoundException(ServiceError):
    code = "RequestTokenNotFoundException"


class ResourceConflictException(ServiceError):
    code = "ResourceConflictException"


class ResourceNotFoundException(ServiceError):
    code = "ResourceNotFoundException"


class ServiceInternalErrorException(ServiceError):
    code = "ServiceInternalErrorException"
    status = 500


class ServiceLimitExceededException(ServiceError):
    code = "ServiceLimitExceededException"


class ThrottlingException(ServiceError):
    code = "ThrottlingException"


class TypeNotFoundException(ServiceError):
    code = "TypeNotFoundException"


class HandlerFailure(Exception):
    """A resource handler gave up: a HandlerErrorCode and the message AWS's handler would give.

    Asynchronous requests record it in their ProgressEvent (ErrorCode, StatusMessage); synchronous
    operations (GetResource, ListResources) answer with the matching exception.
    """

    def __init__(self, error_code: str, message: str) -> None:
        super().__init__(message)
        self.error_code = error_code
        self.message = message

    def as_service_error(self) -> ServiceError:
        kind = _EXCEPTIONS.get(self.error_code, GeneralServiceException)
        return kind(self.message)


_EXCEPTIONS: dict[str, type[ServiceError]] = {
    "AlreadyExists": AlreadyExistsException,
    "NotFound": ResourceNotFoundException,
    "InvalidRequest": InvalidRequestException,
    "NotUpdatable": NotUpdatableException,
    "ResourceConflict": ResourceConflictException,
    "NotStabilized": NotStabilizedException,
    "ServiceLimitExceeded": ServiceLimitExceededException,
    "Throttling": ThrottlingException,
    "ServiceInternalError": ServiceInternalErrorException,
    "GeneralServiceException": GeneralServiceException,
}


# The texts of the CloudFormation Java plugin's exceptions (HandlerErrorCode messages).
def not_found(type_name: str, identifier: str) -> HandlerFailure:
    return HandlerFailure(
        "NotFound", f"Resource of type '{type_name}' with identifier '{identifier}' was not found."
    )


def already_exists(type_name: str, identifier: str) -> HandlerFailure:
    return HandlerFailure(
        "AlreadyExists", f"Resource of type '{type_name}' with identifier '{identifier}' already exists."
    )


def not_stabilized(type_name: str, identifier: str) -> HandlerFailure:
    return HandlerFailure(
        "NotStabilized", f"Resource of type '{type_name}' with identifier '{identifier}' did not stabilize."
    )


def conflict(type_name: str, identifier: str, reason: str) -> HandlerFailure:
    return HandlerFailure(
        "ResourceConflict",
        f"Resource of type '{type_name}' with identifier '{identifier}' has a conflict. Reason: {reason}.",
    )


def invalid_request(detail: str) -> HandlerFailure:
    return HandlerFailure("InvalidRequest", f"Invalid request provided: {detail}")


def general(detail: str) -> HandlerFailure:
    return HandlerFailure("GeneralServiceException", f"Error occurred during operation '{detail}'.")


def limit_exceeded(type_name: str, reason: str) -> HandlerFailure:
    return HandlerFailure(
        "ServiceLimitExceeded", f"Limit exceeded for resource of type '{type_name}'. Reason: {reason}"
    )
