"""What a SageMaker image request needs from the caller's permissions besides ``sagemaker:<Operation>``.

- A role handed to SageMaker (``RoleArn`` of CreateImage and UpdateImage) needs ``iam:PassRole`` on it.
- Tags given to a Create* call need ``sagemaker:AddTags`` too: SageMaker authorises tagging on create
  as tagging ("Provide permissions for tagging SageMaker AI resources" in its developer guide: a policy
  that allows creating resources but not adding tags gets AccessDenied when it tags them).
"""

from __future__ import annotations

from typing import Any

from sagemaker_images.access import Need, pass_role

IAM_PREFIX = "sagemaker"


def needs(operation: str, request: dict[str, Any]) -> list[Need]:
    """``request`` is validated: members have their modelled types."""
    found: list[Need] = []
    if isinstance(request.get("RoleArn"), str):
        found.append(pass_role(request["RoleArn"]))
    if operation.startswith("Create") and request.get("Tags"):
        found.append(Need(f"{IAM_PREFIX}:AddTags"))
    return found
