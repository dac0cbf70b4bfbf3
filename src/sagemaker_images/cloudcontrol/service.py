"""The eight Cloud Control operations, for the resource types this server knows."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import jsonpatch
import jsonpointer

from sagemaker_images import access, jsontext
from sagemaker_images.access import Need, pass_role
from sagemaker_images.cloudcontrol import patching
from sagemaker_images.cloudcontrol.errors import (
    HandlerFailure,
    InvalidRequestException,
    NotUpdatableException,
    TypeNotFoundException,
)
from sagemaker_images.cloudcontrol.handlers import Handler, SageMaker
from sagemaker_images.cloudcontrol.handlers.app_image_config import AppImageConfigHandler
from sagemaker_images.cloudcontrol.handlers.image import ImageHandler
from sagemaker_images.cloudcontrol.handlers.image_version import ImageVersionHandler
from sagemaker_images.cloudcontrol.progress import RequestTracker, request_hash
from sagemaker_images.cloudcontrol.schema import (
    APP_IMAGE_CONFIG,
    IMAGE,
    IMAGE_VERSION,
    model_validation_failed,
    parse_json_object,
    schema_for,
)
from sagemaker_images.operations import handlers, names, operation, read_only
from sagemaker_images.page_tokens import PageTokens
from sagemaker_images.shapes.model import Api
from sagemaker_images.store import Database
from sagemaker_images.tenancy import Tenant

# Cloud Control's IAM actions are named cloudformation:<Operation>.
IAM_PREFIX = "cloudformation"
# The operations that run a resource handler, and which one: they need its schema's permissions too.
HANDLER_OPERATIONS = {
    "CreateResource": "create",
    "GetResource": "read",
    "UpdateResource": "update",
    "DeleteResource": "delete",
    "ListResources": "list",
}

Request = dict[str, Any]
Response = dict[str, Any]
Operation = Callable[[Tenant, Request], Response]


class CloudControl:
    def __init__(
        self,
        sagemaker_operations: dict[str, Operation],
        database: Database,
        sagemaker_api: Api,
        tokens: PageTokens | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        sagemaker = SageMaker(sagemaker_operations, sagemaker_api)
        self.handlers: dict[str, Handler] = {}
        for kind, type_name in (
            (ImageHandler, IMAGE),
            (ImageVersionHandler, IMAGE_VERSION),
            (AppImageConfigHandler, APP_IMAGE_CONFIG),
        ):
            schema = schema_for(type_name)
            assert schema is not None
            self.handlers[type_name] = kind(schema, sagemaker)
        self.tracker = RequestTracker(database, self.handlers, clock, tokens=tokens)

    def operations(self) -> dict[str, Callable[[Tenant, Request], Response]]:
        return handlers(self)

    def needs(self, operation: str, request: Request) -> list[Need]:
        """What a validated request needs besides ``cloudformation:<Operation>``: the permissions of the
        resource type's handler (its schema's ``handlers.<handler>.permissions``) and ``iam:PassRole``
        on the role Cloud Control is asked to assume. The roles and tags of the resulting resource are
        required by the operation itself, once it knows them."""
        needs: list[Need] = []
        handler = self.handlers.get(request["TypeName"]) if operation in HANDLER_OPERATIONS else None
        if handler is not None:
            needs.extend(
                Need(action) for action in handler.schema.handler_permissions(HANDLER_OPERATIONS[operation])
            )
        if isinstance(request.get("RoleArn"), str):
            needs.append(pass_role(request["RoleArn"]))
        return needs

    def serves(self, operation: str, params: dict[str, Any]) -> bool:
        """Whether a call is for this server rather than another Cloud Control (``serve --upstream``).

        Calls naming a type are ours when the type is one of ours; calls naming a request token when
        the token is one this server issued; the rest (listing requests, malformed calls) are ours.
        """
        type_name = params.get("TypeName")
        if isinstance(type_name, str):
            return type_name in self.handlers
        token = params.get("RequestToken")
        if operation in ("GetResourceRequestStatus", "CancelResourceRequest") and isinstance(token, str):
            return self.tracker.knows(token)
        return True

    def _handler(self, type_name: str) -> Handler:
        handler = self.handlers.get(type_name)
        if handler is None:
            raise TypeNotFoundException(f"The type '{type_name}' cannot be found.")
        return handler

    def _resolve(self, handler: Handler, tenant: Tenant, identifier: str) -> dict[str, Any]:
        try:
            return handler.resolve(tenant, identifier)
        except HandlerFailure as failure:
            raise failure.as_service_error() from None

    def _read(
        self, handler: Handler, tenant: Tenant, identifier: str
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        key = self._resolve(handler, tenant, identifier)
        try:
            return key, handler.read(tenant, key, identifier)
        except HandlerFailure as failure:
            raise failure.as_service_error() from None

    # -- resources --------------------------------------------------------------------------------

    @operation("CreateResource")
    def create_resource(self, tenant: Tenant, request: Request) -> Response:
        handler = self._handler(request["TypeName"])
        desired = parse_json_object(request["DesiredState"])
        if desired is None:
            raise InvalidRequestException("DesiredState must be a JSON object.")
        access.require(handler.needs(desired))
        # The resource is busy from the moment its create is accepted, when its name is known.
        key = handler.created_key(desired)
        event = self.tracker.submit(
            tenant,
            type_name=handler.type_name,
            operation="CREATE",
            client_token=request.get("ClientToken"),
            fingerprint=_fingerprint("CreateResource", request, DesiredState=desired),
            active_key=handler.active_key(key) if key is not None else None,
            desired=desired,
        )
        return {"ProgressEvent": event}

    @operation("GetResource", reads=True)
    def get_resource(self, tenant: Tenant, request: Request) -> Response:
        handler = self._handler(request["TypeName"])
        key, model = self._read(handler, tenant, request["Identifier"])
        return {
            "TypeName": handler.type_name,
            "ResourceDescription": {
                "Identifier": handler.primary(tenant, key),
                "Properties": json.dumps(handler.schema.readable(model)),
            },
        }

    @operation("UpdateResource")
    def update_resource(self, tenant: Tenant, request: Request) -> Response:
        handler = self._handler(request["TypeName"])
        schema = handler.schema
        patch = _parse_patch(request["PatchDocument"])
        key = self._resolve(handler, tenant, request["Identifier"])
        # Busy before anything is read: a resource still being created is not "not found".
        self.tracker.refuse_if_busy(tenant, handler.active_key(key), request.get("ClientToken"))
        try:
            current = handler.read(tenant, key, request["Identifier"])
        except HandlerFailure as failure:
            raise failure.as_service_error() from None
        desired = patching.apply(patch, current)
        if not isinstance(desired, dict):
            raise InvalidRequestException("Invalid patch update: the patched model is not a JSON object.")
        create_only = schema.changed(schema.create_only, current, desired)
        if create_only:
            raise NotUpdatableException(
                f"Invalid patch update: createOnlyProperties [{', '.join(create_only)}] cannot be updated"
            )
        read_only = schema.changed(schema.read_only, current, desired)
        if read_only:
            raise InvalidRequestException(
                f"Invalid patch update: readOnlyProperties [{', '.join(read_only)}] cannot be updated"
            )
        violations = schema.violations(desired)
        if violations:
            raise InvalidRequestException(model_validation_failed(violations))
        # Authorised on what the patch does to this very model, which is what the handler applies.
        access.require(handler.needs(desired, current))
        event = self.tracker.submit(
            tenant,
            type_name=handler.type_name,
            operation="UPDATE",
            client_token=request.get("ClientToken"),
            fingerprint=_fingerprint("UpdateResource", request, PatchDocument=patch.patch),
            identifier=handler.primary(tenant, key),
            active_key=handler.active_key(key),
            desired=desired,
            previous=current,
        )
        return {"ProgressEvent": event}

    @operation("DeleteResource")
    def delete_resource(self, tenant: Tenant, request: Request) -> Response:
        handler = self._handler(request["TypeName"])
        identifier = request["Identifier"]
        active_key = None
        try:
            key = handler.resolve(tenant, identifier)
            identifier, active_key = handler.primary(tenant, key), handler.active_key(key)
        except HandlerFailure as failure:
            if failure.error_code != "NotFound":
                raise failure.as_service_error() from None
            # An identifier that names nothing: the delete handler will report NotFound.
        event = self.tracker.submit(
            tenant,
            type_name=handler.type_name,
            operation="DELETE",
            client_token=request.get("ClientToken"),
            fingerprint=_fingerprint("DeleteResource", request),
            identifier=identifier,
            active_key=active_key,
        )
        return {"ProgressEvent": event}

    @operation("ListResources")
    def list_resources(self, tenant: Tenant, request: Request) -> Response:
        handler = self._handler(request["TypeName"])
        schema = handler.schema
        resource_model: dict[str, Any] = {}
        if "ResourceModel" in request:
            parsed = parse_json_object(request["ResourceModel"])
            if parsed is None:
                raise InvalidRequestException("ResourceModel must be a JSON object.")
            resource_model = parsed
        if schema.list_needs_model:
            violations = schema.list_violations(resource_model)
            if violations:
                raise InvalidRequestException(
                    f"Missing or invalid ResourceModel property in {handler.type_name} list handler request "
                    f"input.Required property: ({', '.join(violations)})"
                )
        # MaxResults is reserved, as in AWS: the handler decides the page size.
        try:
            listing = handler.list(tenant, resource_model, request.get("NextToken"))
        except HandlerFailure as failure:
            raise failure.as_service_error() from None
        descriptions = [
            {
                "Identifier": model[schema.primary_identifier[0]],
                "Properties": json.dumps(schema.readable(model)),
            }
            for model in listing.models
        ]
        response: Response = {"TypeName": handler.type_name, "ResourceDescriptions": descriptions}
        if listing.next_token:
            response["NextToken"] = listing.next_token
        return response

    # -- requests ---------------------------------------------------------------------------------

    @operation("GetResourceRequestStatus", reads=True)
    def get_resource_request_status(self, tenant: Tenant, request: Request) -> Response:
        return {"ProgressEvent": self.tracker.status(tenant, request["RequestToken"])}

    @operation("ListResourceRequests", reads=True)
    def list_resource_requests(self, tenant: Tenant, request: Request) -> Response:
        status_filter = request.get("ResourceRequestStatusFilter", {})
        return self.tracker.list(
            tenant,
            operations=status_filter.get("Operations"),
            statuses=status_filter.get("OperationStatuses"),
            next_token=request.get("NextToken"),
            limit=request.get("MaxResults"),
        )

    @operation("CancelResourceRequest")
    def cancel_resource_request(self, tenant: Tenant, request: Request) -> Response:
        return {"ProgressEvent": self.tracker.cancel(tenant, request["RequestToken"])}


def _parse_patch(text: str) -> jsonpatch.JsonPatch:
    try:
        operations = jsontext.loads(text)
    except ValueError:
        raise InvalidRequestException("PatchDocument is not valid JSON.") from None
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise InvalidRequestException("PatchDocument must be a JSON array of RFC 6902 operations.")
    for step in operations:
        try:
            jsonpatch.JsonPatch([step])
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException, KeyError, TypeError) as exc:
            raise patching.refusal(step, exc) from None
    return jsonpatch.JsonPatch(operations)


def _fingerprint(operation: str, request: Request, **parsed: Any) -> str:
    members = {k: v for k, v in request.items() if k != "ClientToken"}
    members.update(parsed)
    return request_hash(operation, members)


# The operations this module serves, as its methods declare them.
OPERATIONS = names(CloudControl)
READ_OPERATIONS = read_only(CloudControl)
