"""AWS::SageMaker::Image, handled as aws-cloudformation-resource-providers-sagemaker handles it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagemaker_images.cloudcontrol.errors import (
    HandlerFailure,
    already_exists,
    conflict,
    invalid_request,
    limit_exceeded,
    not_found,
)
from sagemaker_images.cloudcontrol.handlers import (
    CREATING,
    DELETING,
    UPDATING,
    Context,
    Handler,
    Listing,
    Model,
    Operation,
    Phase,
    Progress,
    Step,
)
from sagemaker_images.images.arns import image_arn, parse_image_arn
from sagemaker_images.images.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)
from sagemaker_images.tenancy import Tenant

# Model property <-> DescribeImage / UpdateImage member.
_OPTIONAL = (("ImageDisplayName", "DisplayName"), ("ImageDescription", "Description"))


class ImageHandler(Handler):
    tag_actions = ("sagemaker:AddTags", "sagemaker:DeleteTags")

    # -- identifiers ------------------------------------------------------------------------------

    def resolve_primary(self, tenant: Tenant, value: str, shown: str) -> dict[str, Any]:
        ref = parse_image_arn(value)
        if (
            ref is None
            or ref.version is not None
            or ref.tenant != tenant
            or ref.partition != tenant.partition
        ):
            raise not_found(self.type_name, shown)
        return {"ImageName": ref.name}

    def resolve_additional(self, tenant: Tenant, given: dict[str, Any], shown: str) -> dict[str, Any]:
        return {"ImageName": given["ImageName"]}

    def created_key(self, desired: Model) -> dict[str, Any] | None:
        name = desired.get("ImageName")
        return {"ImageName": name} if self.schema.accepts("ImageName", name) else None

    def primary(self, tenant: Tenant, key: dict[str, Any]) -> str:
        return image_arn(tenant, key["ImageName"])

    # -- read / list ------------------------------------------------------------------------------

    def _describe(self, tenant: Tenant, name: str) -> dict[str, Any]:
        return self.sagemaker.describe(tenant, "DescribeImage", {"ImageName": name})

    def read(self, tenant: Tenant, key: dict[str, Any], shown: str) -> Model:
        try:
            described = self._describe(tenant, key["ImageName"])
        except (ResourceNotFound, ValidationException):
            raise not_found(self.type_name, shown) from None
        model: Model = {
            "ImageArn": described["ImageArn"],
            "ImageName": described["ImageName"],
            "ImageRoleArn": described["RoleArn"],
        }
        for prop, member in _OPTIONAL:
            if described.get(member) is not None:
                model[prop] = described[member]
        if tags := self.tag_property(tenant, described["ImageArn"]):
            model["Tags"] = tags
        return model

    def list(self, tenant: Tenant, resource_model: Model, next_token: str | None) -> Listing:
        return self.list_page(tenant, "ListImages", {}, next_token, items="Images", identifier="ImageArn")

    # -- the state machines -----------------------------------------------------------------------

    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        if operation is Operation.CREATE:
            return {
                Phase.START: self._create_checks,
                Phase.CREATE: self._create,
                Phase.STABILIZE: self._created,
                Phase.READ: self._read_back,
            }
        if operation is Operation.UPDATE:
            return {
                Phase.START: self._update,
                Phase.STABILIZE: self._updated,
                Phase.TAGS: self._update_tags,
                Phase.READ: self._read_back,
            }
        return {Phase.START: self._delete, Phase.STABILIZE: self._deleted}

    def _name(self, ctx: Context) -> str:
        """The image a request is about: the one it creates, or the one it found."""
        if ctx.operation is Operation.CREATE:
            return str((ctx.desired or {}).get("ImageName", ""))
        if ctx.operation is Operation.UPDATE:
            return str((ctx.previous or {})["ImageName"])
        return str(self.resolve(ctx.tenant, ctx.identifier or "")["ImageName"])

    def _status(self, ctx: Context, name: str) -> str | None:
        try:
            return str(self._describe(ctx.tenant, name)["ImageStatus"])
        except ResourceNotFound:
            return None

    def _read_back(self, ctx: Context) -> Progress:
        name = self._name(ctx)
        return Progress.success(self.read(ctx.tenant, {"ImageName": name}, name))

    # -- create -----------------------------------------------------------------------------------

    def _create_checks(self, ctx: Context) -> Phase:
        desired = ctx.desired or {}
        self.validate_desired(desired)
        self.refuse_read_only(desired, ("ImageArn",))
        name = self._name(ctx)
        if self._status(ctx, name) is not None:
            raise already_exists(self.type_name, name)
        # Saved before CreateImage: a turn resumed in CREATE must not take its own image for another's.
        return Phase.CREATE

    def _create(self, ctx: Context) -> Phase:
        desired = ctx.desired or {}
        request: dict[str, Any] = {"ImageName": desired["ImageName"], "RoleArn": desired["ImageRoleArn"]}
        for prop, member in _OPTIONAL:
            if prop in desired:
                request[member] = desired[prop]
        if desired.get("Tags"):
            request["Tags"] = desired["Tags"]
        try:
            self.sagemaker(ctx.tenant, "CreateImage", request)
        except ResourceInUse:
            # After a crash right after our own CreateImage, the image in the way is ours.
            if ctx.resumed is not Phase.CREATE:
                raise already_exists(self.type_name, desired["ImageName"]) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        except ResourceLimitExceeded as exc:
            raise limit_exceeded(self.type_name, exc.message) from None
        ctx.identifier = image_arn(ctx.tenant, desired["ImageName"])
        return Phase.STABILIZE

    def _created(self, ctx: Context) -> Phase | Progress:
        identifier = ctx.identifier or self._name(ctx)
        status = self._status(ctx, self._name(ctx))
        return self.settle(status, CREATING, name=identifier, shown=identifier) or Phase.READ

    # -- update -----------------------------------------------------------------------------------

    def _update(self, ctx: Context) -> Phase:
        desired, previous = ctx.desired or {}, ctx.previous or {}
        name = self._name(ctx)
        request: dict[str, Any] = {"ImageName": name, "RoleArn": desired["ImageRoleArn"]}
        removed = []
        for prop, member in _OPTIONAL:
            if prop in desired:
                request[member] = desired[prop]
            elif prop in previous:
                removed.append(member)
        if removed:
            request["DeleteProperties"] = removed
        try:
            self.sagemaker(ctx.tenant, "UpdateImage", request)
        except ResourceNotFound:
            raise not_found(self.type_name, name) from None
        except ResourceInUse as exc:
            raise conflict(self.type_name, name, exc.message.rstrip(".")) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        return Phase.STABILIZE

    def _updated(self, ctx: Context) -> Phase | Progress:
        name = self._name(ctx)
        status = self._status(ctx, name)
        return (
            self.settle(status, UPDATING, name=ctx.identifier or name, shown=str(ctx.identifier))
            or Phase.TAGS
        )

    def _update_tags(self, ctx: Context) -> Phase:
        self.sync_tags(ctx.tenant, image_arn(ctx.tenant, self._name(ctx)), ctx.desired or {})
        return Phase.READ

    # -- delete -----------------------------------------------------------------------------------

    def _delete(self, ctx: Context) -> Phase:
        shown = ctx.identifier or ""
        name = self._name(ctx)
        try:
            status = self._describe(ctx.tenant, name)["ImageStatus"]
            if status != DELETING.pending:
                self.sagemaker(ctx.tenant, "DeleteImage", {"ImageName": name})
        except ResourceNotFound:
            raise not_found(self.type_name, shown) from None
        except ResourceInUse as exc:
            raise conflict(self.type_name, name, exc.message.rstrip(".")) from None
        return Phase.STABILIZE

    def _deleted(self, ctx: Context) -> Progress:
        name = self._name(ctx)
        status = self._status(ctx, name)
        return self.settle(status, DELETING, name=name, shown=ctx.identifier or "") or Progress.success()


__all__ = ["HandlerFailure", "ImageHandler"]
