"""AWS::SageMaker::Image, handled as aws-cloudformation-resource-providers-sagemaker handles it."""

from __future__ import annotations

from typing import Any

from sagemaker_images.cloudcontrol.errors import (
    HandlerFailure,
    already_exists,
    conflict,
    general,
    invalid_request,
    limit_exceeded,
    not_found,
    not_stabilized,
)
from sagemaker_images.cloudcontrol.handlers import Context, Handler, Listing, Model, Progress, waiting
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
        return self.sagemaker(tenant, "DescribeImage", {"ImageName": name})

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
        tags = self._tags(tenant, described["ImageArn"])
        if tags:
            model["Tags"] = [{"Key": k, "Value": v} for k, v in tags.items()]
        return model

    def _tags(self, tenant: Tenant, arn: str) -> dict[str, str]:
        tags: dict[str, str] = {}
        request: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 100}
        while True:
            page = self.sagemaker(tenant, "ListTags", request)
            tags.update((t["Key"], t["Value"]) for t in page["Tags"])
            if not page.get("NextToken"):
                return tags
            request["NextToken"] = page["NextToken"]

    def list(self, tenant: Tenant, resource_model: Model, next_token: str | None) -> Listing:
        # AWS's list handler calls ListImages without MaxResults: SageMaker's default page size.
        request: dict[str, Any] = {}
        if next_token:
            request["NextToken"] = next_token
        try:
            page = self.sagemaker(tenant, "ListImages", request)
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        models = [{"ImageArn": image["ImageArn"]} for image in page["Images"]]
        return Listing(models, page.get("NextToken"))

    # -- create -----------------------------------------------------------------------------------

    def create(self, ctx: Context) -> Progress:
        desired = ctx.desired or {}
        name = desired.get("ImageName", "")
        phase = ctx.state.setdefault("phase", "start")
        # A step that finds itself in "create" was interrupted (a crash) after the pre-check.
        resumed = phase == "create"
        if phase == "start":
            self.validate_desired(desired)
            self.refuse_read_only(desired, ("ImageArn",))
            try:
                self._describe(ctx.tenant, name)
                raise already_exists(self.type_name, name)
            except ResourceNotFound:
                pass
            # From here a retry after a crash must not take our own image for someone else's.
            ctx.state["phase"] = "create"
            ctx.checkpoint()
            phase = "create"
        if phase == "create":
            self._create(ctx, desired, resumed=resumed)
            ctx.identifier = image_arn(ctx.tenant, name)
            ctx.state["phase"] = phase = "stabilize"
        if phase == "stabilize":
            status = self._status(ctx, name)
            if status == "CREATING":
                return waiting()
            if status == "CREATE_FAILED":
                raise general(f"{self.type_name} [{ctx.identifier}] failed to create.")
            if status != "CREATED":
                raise general(f"Stabilizing of {ctx.identifier} failed with an unexpected status {status}")
            ctx.state["phase"] = "read"
        return Progress(done=True, model=self.read(ctx.tenant, {"ImageName": name}, name))

    def _create(self, ctx: Context, desired: Model, *, resumed: bool) -> None:
        request: dict[str, Any] = {"ImageName": desired["ImageName"], "RoleArn": desired["ImageRoleArn"]}
        for prop, member in _OPTIONAL:
            if prop in desired:
                request[member] = desired[prop]
        if desired.get("Tags"):
            request["Tags"] = desired["Tags"]
        try:
            self.sagemaker(ctx.tenant, "CreateImage", request)
        except ResourceInUse:
            if resumed:
                return  # our own CreateImage, made before a crash interrupted this step
            raise already_exists(self.type_name, desired["ImageName"]) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        except ResourceLimitExceeded as exc:
            raise limit_exceeded(self.type_name, exc.message) from None

    def _status(self, ctx: Context, name: str) -> str:
        try:
            return self._describe(ctx.tenant, name)["ImageStatus"]
        except ResourceNotFound:
            raise not_found(self.type_name, ctx.identifier or name) from None

    # -- update -----------------------------------------------------------------------------------

    def update(self, ctx: Context) -> Progress:
        desired, previous = ctx.desired or {}, ctx.previous or {}
        name = previous["ImageName"]
        phase = ctx.state.setdefault("phase", "start")
        if phase == "start":
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
            ctx.state["phase"] = phase = "stabilize"
        if phase == "stabilize":
            status = self._status(ctx, name)
            if status == "UPDATING":
                return waiting()
            if status == "UPDATE_FAILED":
                raise not_stabilized(self.type_name, ctx.identifier or name)
            if status != "CREATED":
                raise general(f"Stabilizing of {ctx.identifier} failed with an unexpected status {status}")
            ctx.state["phase"] = phase = "tags"
        if phase == "tags":
            self._update_tags(ctx, name, desired)
            ctx.state["phase"] = "read"
        return Progress(done=True, model=self.read(ctx.tenant, {"ImageName": name}, name))

    def _update_tags(self, ctx: Context, name: str, desired: Model) -> None:
        """As AWS's handler: remove the tags that went away, then add the new or changed ones."""
        arn = image_arn(ctx.tenant, name)
        wanted = {t["Key"]: t["Value"] for t in desired.get("Tags", ())}
        try:
            existing = self._tags(ctx.tenant, arn)
            to_add = {k: v for k, v in wanted.items() if existing.get(k) != v}
            to_remove = [k for k in existing if k not in wanted]
            if to_remove:
                self.sagemaker(ctx.tenant, "DeleteTags", {"ResourceArn": arn, "TagKeys": to_remove})
            if to_add:
                tags = [{"Key": k, "Value": v} for k, v in to_add.items()]
                self.sagemaker(ctx.tenant, "AddTags", {"ResourceArn": arn, "Tags": tags})
        except ResourceNotFound:
            raise not_found(self.type_name, arn) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None

    # -- delete -----------------------------------------------------------------------------------

    def delete(self, ctx: Context) -> Progress:
        shown = ctx.identifier or ""
        key = self.resolve(ctx.tenant, shown)
        name = key["ImageName"]
        phase = ctx.state.setdefault("phase", "start")
        if phase == "start":
            try:
                status = self._describe(ctx.tenant, name)["ImageStatus"]
                if status != "DELETING":
                    self.sagemaker(ctx.tenant, "DeleteImage", {"ImageName": name})
            except ResourceNotFound:
                raise not_found(self.type_name, shown) from None
            except ResourceInUse as exc:
                raise conflict(self.type_name, name, exc.message.rstrip(".")) from None
            ctx.state["phase"] = "stabilize"
        try:
            status = self._describe(ctx.tenant, name)["ImageStatus"]
        except ResourceNotFound:
            return Progress(done=True)
        if status == "DELETING":
            return waiting()
        if status == "DELETE_FAILED":
            raise not_stabilized(self.type_name, name)
        raise general(f"Unexpected status: [{status}] while stabilizing delete for resource: [{shown}]")


__all__ = ["HandlerFailure", "ImageHandler"]
