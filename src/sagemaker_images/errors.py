"""The error every layer may raise: an AWS error code, a message and the HTTP status AWS answers with.

Domain modules subclass it with the codes their API models (``ResourceNotFound``...); the protocol
layer alone decides how an error is written on the wire.
"""

from collections.abc import Iterable


class ServiceError(Exception):
    code: str = "InternalFailure"
    status: int = 400
    # The answer closes the connection (RFC 9110 §15.5.9: a 408 means the server gave up waiting).
    closes_connection: bool = False

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status


class ValidationException(ServiceError):
    code = "ValidationException"


class ServiceUnavailable(ServiceError):
    """The backing database could not be reached; clients retry this code."""

    code = "ServiceUnavailable"
    status = 503


class SerializationException(ServiceError):
    """The body is not JSON, or a member has the wrong JSON type for its shape."""

    code = "SerializationException"


def java_list(items: Iterable[object]) -> str:
    """A list as AWS's Java services print one in a message: ``[a, b]`` (never Python's ``['a', 'b']``)."""
    return "[" + ", ".join(str(item) for item in items) + "]"
