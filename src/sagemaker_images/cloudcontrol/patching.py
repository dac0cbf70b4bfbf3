"""Applying an UpdateResource PatchDocument (RFC 6902) to the current model, refused in AWS's words.

The jsonpatch library does the work; its exception texts are Python's (``'<class 'str'>'``,
``[{'Key': 'a'}] (<class 'list'>)``), so they never reach the wire. Operations are applied one at a
time to know which one failed. A path that does not exist is refused as Cloud Control refuses it, a
``ValidationException`` naming the operation and the path (``[REPLACE Operation] noSuchPath in source,
path provided : //Behaviors/0/Criteria/DurationSeconds``, a real answer quoted in
terraform-provider-awscc issue 3235); other refusals keep the ``Invalid patch update:`` prefix of
Cloud Control's other patch errors, in plain words.
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from sagemaker_images.cloudcontrol.errors import InvalidRequestException
from sagemaker_images.errors import ServiceError, ValidationException

_FAILURES = (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, IndexError, TypeError)


def apply(patch: jsonpatch.JsonPatch, model: dict[str, Any]) -> Any:
    """The model with every operation applied in order, or the error AWS gives for the first that fails."""
    document: Any = model
    for operation in patch.patch:
        try:
            document = jsonpatch.JsonPatch([operation]).apply(document)
        except _FAILURES as exc:
            raise refusal(operation, exc) from None
    return document


def refusal(operation: Any, exc: Exception) -> ServiceError:
    """The AWS error for an operation jsonpatch could not parse or apply."""
    if not isinstance(operation, dict):
        return InvalidRequestException("Invalid patch update: each operation must be a JSON object.")
    op = operation.get("op")
    if not isinstance(op, str) or op not in ("add", "remove", "replace", "move", "copy", "test"):
        return InvalidRequestException(
            "Invalid patch update: each operation needs an op of add, remove, replace, move, copy or test."
        )
    for member in ("path", *(("from",) if op in ("move", "copy") else ())):
        if not isinstance(operation.get(member), str) or not (
            operation[member] == "" or operation[member].startswith("/")
        ):
            return InvalidRequestException(
                f"Invalid patch update: the {op} operation needs a '{member}' that is a JSON pointer."
            )
    if op in ("add", "replace", "test") and "value" not in operation:
        return InvalidRequestException(f"Invalid patch update: the {op} operation needs a 'value'.")
    if isinstance(exc, jsonpatch.JsonPatchTestFailed):
        return InvalidRequestException(
            f"Invalid patch update: the value at {operation['path']} differs from the tested value."
        )
    if isinstance(exc, jsonpatch.JsonPatchConflict) and op == "add":
        return InvalidRequestException(
            f"Invalid patch update: the add operation cannot insert at {operation['path']}."
        )
    # Everything else: a pointer that names nothing in the current model.
    path = operation["from"] if op in ("move", "copy") else operation["path"]
    return ValidationException(f"[{op.upper()} Operation] noSuchPath in source, path provided : /{path}")
