"""Whether an access key grants what a request needs.

What a request needs is declared by the API that serves it (``services.py`` and the domains, in
``access.Need`` terms); this module only matches those needs against the key's entry in the
credentials file:

- an action is granted when it matches a pattern of the key's ``allow`` list (every action when the
  key has none);
- ``iam:PassRole`` on a role is granted when the action is, and the role matches ``pass_roles`` — by
  default the roles of the key's own account, as IAM never lets one account pass another's role.

Action patterns match case-insensitively, as IAM's do; role patterns case-sensitively, as ARNs
compare. ``*`` matches any run of characters.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

import regex

from sagemaker_images.access import PASS_ROLE, AccessDeniedException, Need
from sagemaker_images.protocol.credentials import Principal


@functools.cache
def _wildcard(pattern: str, ignore_case: bool) -> regex.Pattern[str]:
    body = ".*".join(regex.escape(part) for part in pattern.split("*"))
    return regex.compile(body, regex.IGNORECASE if ignore_case else 0)


def matches(patterns: Iterable[str], value: str, *, ignore_case: bool = True) -> bool:
    return any(_wildcard(p, ignore_case).fullmatch(value) for p in patterns)


def authorize(principal: Principal, needs: Iterable[Need]) -> None:
    """Raise AccessDeniedException for the first need the key does not grant."""
    for need in needs:
        if principal.allow is not None and not matches(principal.allow, need.action):
            raise _denied(principal, need.action, need.resource if need.action == PASS_ROLE else None)
        if need.action == PASS_ROLE and need.resource is not None:
            allowed_roles = principal.pass_roles
            if allowed_roles is None:
                allowed_roles = (f"arn:*:iam::{principal.account}:role/*",)
            if not matches(allowed_roles, need.resource, ignore_case=False):
                raise _denied(principal, PASS_ROLE, need.resource)


def _denied(principal: Principal, action: str, resource: str | None = None) -> AccessDeniedException:
    on = f" on resource: {resource}" if resource else ""
    return AccessDeniedException(
        f"User: {principal.arn} is not authorized to perform: {action}{on} because no "
        f"identity-based policy allows the {action} action"
    )
