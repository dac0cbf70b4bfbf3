"""Faults a test asks for: the next calls of an operation fail, or the next image versions fail.

``fail_next`` errors are raised by the server before the operation runs (after authentication and
routing), so a failed call leaves nothing behind and clients retry it exactly as they retry AWS's
own throttling and 5xx answers. ``fail_next_versions`` lets the calls succeed and makes the versions
they create end ``CREATE_FAILED`` with the given ``FailureReason``.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

from sagemaker_images.errors import ServiceError

# Error codes AWS answers with a 5xx status (clients retry them); every other code is a 400.
SERVER_ERRORS = {
    "InternalFailure": 500,
    "InternalServerError": 500,
    "InternalError": 500,
    "InternalServiceError": 500,
    "InternalServiceErrorException": 500,
    "ServiceInternalErrorException": 500,
    "ServiceFailure": 500,
    "ServiceUnavailable": 503,
    "ServiceUnavailableException": 503,
    "Unavailable": 503,
}

# What AWS says with these codes, used when the test gives no message.
DEFAULT_MESSAGES = {
    "ThrottlingException": "Rate exceeded",
    "Throttling": "Rate exceeded",
    "ThrottlingError": "Rate exceeded",
    "TooManyRequestsException": "Rate exceeded",
    "RequestLimitExceeded": "Request limit exceeded.",
    "InternalFailure": "An internal error occurred. Please retry.",
    "ServiceUnavailable": "The service is unavailable. Please try again later.",
}

DEFAULT_VERSION_FAILURE = "Unable to pull the base image: simulated failure."


@dataclass(slots=True)
class _Error:
    code: str
    message: str
    status: int
    remaining: int


@dataclass(slots=True)
class _VersionFailure:
    reason: str
    image_name: str | None
    remaining: int


def _count(count: object) -> int:
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError(f"count must be a positive integer, not {count!r}")
    return count


class Faults:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._errors: dict[str, deque[_Error]] = {}
        self._versions: list[_VersionFailure] = []

    def fail_next(
        self,
        operation: str,
        error_code: str,
        count: int = 1,
        message: str | None = None,
        status: int | None = None,
    ) -> None:
        """The next ``count`` calls of ``operation`` (its AWS name) fail with ``error_code``."""
        if not isinstance(operation, str) or not operation:
            raise ValueError("operation must be an AWS operation name such as 'CreateImageVersion'")
        if not isinstance(error_code, str) or not error_code:
            raise ValueError("error_code must be an AWS error code such as 'ThrottlingException'")
        if status is None:
            status = SERVER_ERRORS.get(error_code, 400)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError(f"status must be an HTTP error status (400-599), not {status!r}")
        if message is None:
            message = DEFAULT_MESSAGES.get(error_code, f"{error_code} (a failure requested by the test).")
        error = _Error(error_code, message, status, _count(count))
        with self._lock:
            self._errors.setdefault(operation, deque()).append(error)

    def raise_injected(self, operation: str) -> None:
        """Raise the error queued for ``operation``, if any (the only cost otherwise: one dict test)."""
        if not self._errors:
            return
        with self._lock:
            queue = self._errors.get(operation)
            if not queue:
                return
            error = queue[0]
            error.remaining -= 1
            if error.remaining == 0:
                queue.popleft()
                if not queue:
                    del self._errors[operation]
        raise ServiceError(error.message, code=error.code, status=error.status)

    def fail_next_versions(
        self, count: int = 1, reason: str = DEFAULT_VERSION_FAILURE, image_name: str | None = None
    ) -> None:
        """The next ``count`` image versions created (of ``image_name``, or of any image) fail."""
        if not isinstance(reason, str) or not reason:
            raise ValueError("reason must be a non-empty string")
        if image_name is not None and (not isinstance(image_name, str) or not image_name):
            raise ValueError("image_name must be an image name or None")
        with self._lock:
            self._versions.append(_VersionFailure(reason, image_name, _count(count)))

    def version_failure(self, image_name: str) -> str | None:
        """The failure reason for a version of ``image_name`` being created now, if one is queued."""
        if not self._versions:
            return None
        with self._lock:
            for index, failure in enumerate(self._versions):
                if failure.image_name is None or failure.image_name.lower() == image_name.lower():
                    failure.remaining -= 1
                    if failure.remaining == 0:
                        del self._versions[index]
                    return failure.reason
        return None

    def pending(self) -> dict[str, object]:
        """What is still queued (for the admin API and for failure messages in tests)."""
        with self._lock:
            return {
                "errors": {
                    op: [{"code": e.code, "status": e.status, "remaining": e.remaining} for e in queue]
                    for op, queue in self._errors.items()
                },
                "versions": [
                    {"reason": v.reason, "image_name": v.image_name, "remaining": v.remaining}
                    for v in self._versions
                ],
            }

    def clear(self) -> None:
        with self._lock:
            self._errors.clear()
            self._versions.clear()
