"""What a request needs from its caller's permissions, in terms every layer shares.

Each served API declares what its requests need (``Need``: an IAM action, and for ``iam:PassRole`` the
role it passes); ``protocol/authorization.py`` only matches needs against the caller's access key.
Most needs follow from the validated request and are checked before the operation runs. Some are
only known while it runs — the roles and tags a Cloud Control patch leaves on a resource depend on the
resource's current state — so the operation states them itself with ``require``, before it changes
anything; the server sets the caller's grants around the call (``call_as``). Without grants (``--auth
none``) everything is allowed.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sagemaker_images.errors import ServiceError

PASS_ROLE = "iam:PassRole"

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class Need:
    """One IAM action a request needs; ``resource`` is the ARN it acts on, where that matters."""

    action: str
    resource: str | None = None


def pass_role(role_arn: str) -> Need:
    """Handing ``role_arn`` to a service: ``iam:PassRole`` on that role."""
    return Need(PASS_ROLE, role_arn)


class AccessDeniedException(ServiceError):
    code = "AccessDeniedException"
    status = 403


class Grants(Protocol):
    """What a caller may do: ``require`` raises AccessDeniedException for the first need not granted."""

    def require(self, needs: Iterable[Need]) -> None: ...


_grants: contextvars.ContextVar[Grants | None] = contextvars.ContextVar("grants", default=None)


def require(needs: Iterable[Need]) -> None:
    """Refuse the running call unless its caller has every need (a no-op without authentication)."""
    grants = _grants.get()
    if grants is not None:
        grants.require(needs)


def call_as(grants: Grants | None, function: Callable[..., R], *args: object) -> R:
    """``function(*args)`` with ``grants`` as the caller's, on whichever thread runs it."""
    token = _grants.set(grants)
    try:
        return function(*args)
    finally:
        _grants.reset(token)
