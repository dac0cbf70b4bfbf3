"""The Cloud Control call sequences and JSON Patch generation of Terraform's awscc provider and of Pulumi
AWS Native, reproduced from their source (no Terraform or Pulumi binary can run here).

- ``create_patch``: mattbaird/jsonpatch ``CreatePatch`` at the commit awscc pins (098863c1fc24,
  2020-08-20): objects diff key by key, equal-length arrays element by element by index (so a changed
  tag becomes ``replace /Tags/1/Key``), arrays of another length as removes then adds of whole
  elements. Go iterates maps in random order; keys are taken sorted here (only the order of
  independent operations differs).
- ``awscc_patch``: terraform-provider-awscc ``internal/generic/patch.go``: ``CreatePatch``, then (builds
  from 2026-04 on) index-ended operations on key-value arrays become one whole-array ``replace``, then
  removes first, highest index first. ``/Tags/1/Key`` does not end in an index, so it is still sent.
- ``awscc_read``: builds from 2026-03 on reorder key-value lists read back to match the prior state
  (``reorderKeyValueSlicesToMatchPrior``, keys not in the prior state last, sorted); older builds keep
  the server's order.
- ``pulumi_patch``: pulumi-aws-native ``provider/pkg/naming/convert.go`` ``diffToPatch``: one operation per
  top-level input property in sorted order, whole values: ``replace`` (``add`` for write-only) when
  changed, ``add`` when new, ``remove`` when gone.
"""

from __future__ import annotations

import copy
import json
import time
from typing import Any

Patch = list[dict[str, Any]]


# -- mattbaird/jsonpatch CreatePatch -----------------------------------------------------------------


def create_patch(a: Any, b: Any) -> Patch:
    return _handle_values(a, b, "", [])


def _path(path: str, part: Any) -> str:
    key = str(part).replace("~", "~0").replace("/", "~1")
    if path == "":
        return "/" + key
    return path + key if path.endswith("/") else path + "/" + key


def _same_type(a: Any, b: Any) -> bool:
    return type(a) is type(b) or (
        isinstance(a, int | float)
        and isinstance(b, int | float)
        and not isinstance(a, bool)
        and not isinstance(b, bool)
    )


def _diff(a: dict[str, Any], b: dict[str, Any], path: str, patch: Patch) -> Patch:
    for key in sorted(b):
        p = _path(path, key)
        if key not in a:
            patch.append({"op": "add", "path": p, "value": b[key]})
        elif not _same_type(a[key], b[key]):
            patch.append({"op": "replace", "path": p, "value": b[key]})
        else:
            patch = _handle_values(a[key], b[key], p, patch)
    for key in sorted(a):
        if key not in b:
            patch.append({"op": "remove", "path": _path(path, key)})
    return patch


def _handle_values(a: Any, b: Any, path: str, patch: Patch) -> Patch:
    if isinstance(a, dict):
        return _diff(a, b, path, patch)
    if isinstance(a, list):
        if not isinstance(b, list):
            patch.append({"op": "replace", "path": path, "value": b})
        elif len(a) != len(b):
            patch.extend(_compare_array(a, b, path))
        else:
            for i in range(len(b)):
                patch = _handle_values(a[i], b[i], _path(path, i), patch)
        return patch
    if a is None:
        if b is not None:
            patch.append({"op": "add", "path": path, "value": b})
        return patch
    if a != b or not _same_type(a, b):
        patch.append({"op": "replace", "path": path, "value": b})
    return patch


def _compare_array(a: list[Any], b: list[Any], path: str) -> Patch:
    # At the pinned commit the removes are not yet reversed (awscc sorts them itself).
    removes = [{"op": "remove", "path": _path(path, i)} for i, _ in _unmatched(a, b)]
    adds = [{"op": "add", "path": _path(path, i), "value": v} for i, v in _unmatched(b, a)]
    return removes + adds


def _unmatched(a: list[Any], b: list[Any]) -> list[tuple[int, Any]]:
    taken: set[int] = set()
    missing = []
    for i, value in enumerate(a):
        match = next((j for j, other in enumerate(b) if j not in taken and other == value), None)
        if match is None:
            missing.append((i, value))
        else:
            taken.add(match)
    return missing


# -- terraform-provider-awscc ---------------------------------------------------------------------------


def awscc_patch(old: dict[str, Any], new: dict[str, Any], *, generation: int) -> Patch:
    patch = create_patch(old, new)
    if generation >= 2026:
        patch = _key_value_arrays_replaced(patch, new)
    removes = sorted(
        (op for op in patch if op["op"] == "remove"), key=lambda op: _numeric_parts(op["path"]), reverse=True
    )
    return removes + [op for op in patch if op["op"] != "remove"]


def _numeric_parts(path: str) -> list[tuple[int, Any]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in path.split("/")]


def _array_path(path: str) -> str:
    head, _, last = path.rpartition("/")
    return head if head and last.isdigit() else ""


def _key_value_arrays_replaced(patch: Patch, new: dict[str, Any]) -> Patch:
    arrays = {_array_path(op["path"]) for op in patch} - {""}
    key_value = set()
    for path in arrays:
        value = _at(new, path)
        all_removes = all(op["op"] == "remove" for op in patch if op["path"].startswith(path + "/"))
        if (
            isinstance(value, list)
            and value
            and isinstance(value[0], dict)
            and ("Key" in value[0] or "key" in value[0])
        ) or all_removes:
            key_value.add(path)
    if not key_value:
        return patch
    kept = [op for op in patch if _array_path(op["path"]) not in key_value]
    for path in sorted(key_value):
        value = _at(new, path)
        kept.append(
            {"op": "replace", "path": path, "value": value}
            if value is not None
            else {"op": "remove", "path": path}
        )
    return kept


def _at(document: Any, path: str) -> Any:
    for part in path.strip("/").split("/"):
        if isinstance(document, dict):
            document = document.get(part)
        elif isinstance(document, list) and part.isdigit() and int(part) < len(document):
            document = document[int(part)]
        else:
            return None
    return document


def awscc_read(model: dict[str, Any], prior: dict[str, Any] | None, *, generation: int) -> dict[str, Any]:
    """The state awscc records from a GetResource model (only reordering matters here)."""
    model = copy.deepcopy(model)
    if generation >= 2026 and prior is not None:
        for key, value in model.items():
            if isinstance(value, list) and value and isinstance(value[0], dict) and "Key" in value[0]:
                order = [item.get("Key") for item in prior.get(key) or []]
                known = [item for k in order for item in value if item["Key"] == k]
                model[key] = known + sorted(
                    (i for i in value if i["Key"] not in order), key=lambda i: i["Key"]
                )
    return model


# -- pulumi-aws-native ------------------------------------------------------------------------------------


def pulumi_patch(
    old_inputs: dict[str, Any], new_inputs: dict[str, Any], *, write_only: tuple[str, ...] = ()
) -> Patch:
    ops: Patch = []
    for name in sorted(set(old_inputs) | set(new_inputs)):
        if name in old_inputs and name in new_inputs and old_inputs[name] != new_inputs[name]:
            ops.append(
                {
                    "op": "add" if name in write_only else "replace",
                    "path": "/" + name,
                    "value": new_inputs[name],
                }
            )
        elif name in new_inputs and name not in old_inputs:
            ops.append({"op": "add", "path": "/" + name, "value": new_inputs[name]})
        elif name in old_inputs and name not in new_inputs:
            ops.append({"op": "remove", "path": "/" + name})
    return ops


# -- the Cloud Control calls both make -----------------------------------------------------------------------


class CloudControl:
    """CreateResource / UpdateResource / DeleteResource, each awaited by polling GetResourceRequestStatus
    (as both providers do), and GetResource for reads and imports."""

    def __init__(self, client: Any, type_name: str) -> None:
        self.client = client
        self.type_name = type_name
        self.patches: list[Patch] = []

    def _settle(self, event: dict[str, Any]) -> dict[str, Any]:
        for _ in range(1200):
            status = self.client.get_resource_request_status(RequestToken=event["RequestToken"])[
                "ProgressEvent"
            ]
            if status["OperationStatus"] in ("SUCCESS", "FAILED", "CANCEL_COMPLETE"):
                assert status["OperationStatus"] == "SUCCESS", status
                return status
            time.sleep(0.05)
        raise AssertionError(f"request {event['RequestToken']} did not finish")

    def create(self, desired: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        event = self.client.create_resource(TypeName=self.type_name, DesiredState=json.dumps(desired))[
            "ProgressEvent"
        ]
        identifier = self._settle(event)["Identifier"]
        return identifier, self.read(identifier)

    def read(self, identifier: str) -> dict[str, Any]:
        described = self.client.get_resource(TypeName=self.type_name, Identifier=identifier)[
            "ResourceDescription"
        ]
        return json.loads(described["Properties"])

    def update(self, identifier: str, patch: Patch) -> dict[str, Any]:
        self.patches.append(patch)
        if patch:  # both providers skip the call when there is nothing to change
            event = self.client.update_resource(
                TypeName=self.type_name, Identifier=identifier, PatchDocument=json.dumps(patch)
            )["ProgressEvent"]
            self._settle(event)
        return self.read(identifier)

    def delete(self, identifier: str) -> None:
        event = self.client.delete_resource(TypeName=self.type_name, Identifier=identifier)["ProgressEvent"]
        self._settle(event)


def drift(config: dict[str, Any], state: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """What a plan shows: configured properties whose recorded value differs (Optional+Computed ones that
    are not configured keep the state's value)."""
    return {k: (v, state.get(k)) for k, v in config.items() if state.get(k) != v}
