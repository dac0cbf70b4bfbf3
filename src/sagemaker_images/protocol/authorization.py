"""Which IAM actions a request needs, and whether an access key may perform them.

- An operation of an API needs ``<iam prefix>:<Operation>``; the prefix is the service's signing name
  except where IAM names the service otherwise (Cloud Control's actions are ``cloudformation:*``).
- A Cloud Control resource operation also needs what the resource type's own handler needs: the
  ``handlers.<create|read|update|delete|list>.permissions`` of its published resource schema
  (creating an ``AWS::SageMaker::Image`` needs ``sagemaker:CreateImage`` and ``iam:PassRole``).
- A role handed to a service (any member named ``*RoleArn``: ``RoleArn``, ``ImageRoleArn``; for
  Cloud Control also its own ``RoleArn``) needs ``iam:PassRole`` on that role's ARN.

Action patterns match case-insensitively, as IAM's do; ``*`` matches any run of characters.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import regex

from sagemaker_images.errors import ServiceError
from sagemaker_images.protocol.credentials import Principal

# Services whose IAM action prefix is not their SigV4 signing name.
IAM_PREFIXES = {"cloudcontrolapi": "cloudformation"}
# Cloud Control operations that run a resource handler, and which one.
CLOUDCONTROL_HANDLERS = {
    "CreateResource": "create",
    "GetResource": "read",
    "UpdateResource": "update",
    "DeleteResource": "delete",
    "ListResources": "list",
}
PASS_ROLE = "iam:PassRole"

SchemaLookup = Callable[[str], dict[str, Any] | None]


class AccessDeniedException(ServiceError):
    code = "AccessDeniedException"
    status = 403


@functools.cache
def _wildcard(pattern: str, ignore_case: bool) -> regex.Pattern[str]:
    body = ".*".join(regex.escape(part) for part in pattern.split("*"))
    return regex.compile(body, regex.IGNORECASE if ignore_case else 0)


def matches(patterns: Iterable[str], value: str, *, ignore_case: bool = True) -> bool:
    return any(_wildcard(p, ignore_case).fullmatch(value) for p in patterns)


def iam_action(signing_name: str, operation: str) -> str:
    return f"{IAM_PREFIXES.get(signing_name, signing_name)}:{operation}"


def required_actions(
    signing_name: str, operation: str, request: dict[str, Any], schemas: SchemaLookup
) -> list[str]:
    """The IAM actions ``operation`` needs, its own first, then its resource handler's (if any)."""
    actions = [iam_action(signing_name, operation)]
    handler = CLOUDCONTROL_HANDLERS.get(operation) if signing_name == "cloudcontrolapi" else None
    if handler is not None:
        schema = schemas(request.get("TypeName", ""))
        if schema is not None:
            permissions = schema.get("handlers", {}).get(handler, {}).get("permissions", [])
            actions.extend(p for p in permissions if p not in actions)
    return actions


def passed_roles(signing_name: str, request: dict[str, Any]) -> list[str]:
    """The role ARNs a request hands to the service."""
    if signing_name == "cloudcontrolapi":
        return list(_cloudcontrol_roles(request))
    return [v for k, v in request.items() if k.endswith("RoleArn") and isinstance(v, str)]


def _cloudcontrol_roles(request: dict[str, Any]) -> Iterator[str]:
    # The role Cloud Control itself assumes (its own RoleArn member), then the resource's roles.
    if isinstance(request.get("RoleArn"), str):
        yield request["RoleArn"]
    desired = _json(request.get("DesiredState"))
    if isinstance(desired, dict):
        yield from (v for k, v in desired.items() if k.endswith("RoleArn") and isinstance(v, str))
    patch = _json(request.get("PatchDocument"))
    if isinstance(patch, list):
        for op in patch:
            if (
                isinstance(op, dict)
                and op.get("op") in ("add", "replace")
                and isinstance(op.get("path"), str)
                and op["path"].endswith("RoleArn")
                and isinstance(op.get("value"), str)
            ):
                yield op["value"]


def _json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def authorize(principal: Principal, actions: Iterable[str]) -> None:
    """Raise AccessDeniedException for the first action the key's ``allow`` list does not grant."""
    if principal.allow is None:
        return
    for action in actions:
        if not matches(principal.allow, action):
            raise _denied(principal, action)


def authorize_pass_role(principal: Principal, role_arn: str) -> None:
    """iam:PassRole on ``role_arn``: granted by ``allow`` and limited to ``pass_roles``.

    Without ``pass_roles`` a key may pass the roles of its own account only, as IAM never lets one
    account pass another's role.
    """
    if principal.allow is not None and not matches(principal.allow, PASS_ROLE):
        raise _denied(principal, PASS_ROLE, role_arn)
    allowed_roles = principal.pass_roles
    if allowed_roles is None:
        allowed_roles = (f"arn:*:iam::{principal.account}:role/*",)
    if not matches(allowed_roles, role_arn, ignore_case=False):
        raise _denied(principal, PASS_ROLE, role_arn)


def _denied(principal: Principal, action: str, resource: str | None = None) -> AccessDeniedException:
    on = f" on resource: {resource}" if resource else ""
    return AccessDeniedException(
        f"User: {principal.arn} is not authorized to perform: {action}{on} because no "
        f"identity-based policy allows the {action} action"
    )
