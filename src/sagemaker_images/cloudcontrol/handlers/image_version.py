"""AWS::SageMaker::ImageVersion, handled as aws-cloudformation-resource-providers-sagemaker handles it."""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from typing import Any

from sagemaker_images.cloudcontrol.errors import (
    conflict,
    invalid_request,
    limit_exceeded,
    not_found,
)
from sagemaker_images.cloudcontrol.handlers import (
    CREATING,
    DELETING,
    Context,
    Handler,
    Listing,
    Model,
    Operation,
    Phase,
    Progress,
    Step,
)
from sagemaker_images.cloudcontrol.schema import IMAGE
from sagemaker_images.images.arns import image_version_arn, parse_image_arn
from sagemaker_images.images.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)
from sagemaker_images.images.versions import METADATA_MEMBERS
from sagemaker_images.tenancy import Tenant

# Version numbers are the SageMaker model's Integer.
MAX_VERSION = 2**31 - 1

# Properties that are the same members in CreateImageVersion, UpdateImageVersion and DescribeImageVersion.
_METADATA = METADATA_MEMBERS


class ImageVersionHandler(Handler):
    # -- identifiers ------------------------------------------------------------------------------

    def resolve_primary(self, tenant: Tenant, value: str, shown: str) -> dict[str, Any]:
        ref = parse_image_arn(value)
        if ref is None or ref.version is None or (ref.tenant, ref.partition) != (tenant, tenant.partition):
            raise not_found(self.type_name, shown)
        if ref.version > MAX_VERSION:
            raise not_found(self.type_name, shown)  # no version can have a number past an Integer's
        return {"ImageName": ref.name, "Version": ref.version}

    def primary(self, tenant: Tenant, key: dict[str, Any]) -> str:
        return image_version_arn(tenant, key["ImageName"], key["Version"])

    # -- read / list ------------------------------------------------------------------------------

    def _describe(self, tenant: Tenant, key: dict[str, Any]) -> dict[str, Any]:
        return self.sagemaker.describe(
            tenant, "DescribeImageVersion", {"ImageName": key["ImageName"], "Version": key["Version"]}
        )

    def read(self, tenant: Tenant, key: dict[str, Any], shown: str) -> Model:
        try:
            described = self._describe(tenant, key)
            # The image's own spelling of its name (the ARN only has it lowercased).
            name = self.sagemaker.describe(tenant, "DescribeImage", {"ImageName": key["ImageName"]})[
                "ImageName"
            ]
        except (ResourceNotFound, ValidationException):
            raise not_found(self.type_name, shown) from None
        model: Model = {
            "ImageName": name,
            "ImageArn": described["ImageArn"],
            "ImageVersionArn": described["ImageVersionArn"],
            "BaseImage": described["BaseImage"],
            "Version": described["Version"],
        }
        if described.get("ContainerImage") is not None:
            model["ContainerImage"] = described["ContainerImage"]
        for prop in _METADATA:
            if described.get(prop) is not None:
                model[prop] = described[prop]
        return model

    def list(self, tenant: Tenant, resource_model: Model, next_token: str | None) -> Listing:
        request = {"ImageName": resource_model["ImageName"]}
        try:
            return self.list_page(
                tenant,
                "ListImageVersions",
                request,
                next_token,
                items="ImageVersions",
                identifier="ImageVersionArn",
            )
        except ResourceNotFound:
            raise not_found(IMAGE, resource_model["ImageName"]) from None

    # -- the state machines -----------------------------------------------------------------------

    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        if operation is Operation.CREATE:
            return {Phase.START: self._create, Phase.STABILIZE: self._created, Phase.READ: self._read_back}
        if operation is Operation.UPDATE:
            return {Phase.START: self._update}
        return {Phase.START: self._delete, Phase.STABILIZE: self._deleted}

    def _key(self, ctx: Context) -> dict[str, Any]:
        """The version a request is about (known to a create once CreateImageVersion answered)."""
        return self.resolve(ctx.tenant, ctx.identifier or "")

    def _status(self, ctx: Context, key: dict[str, Any]) -> str | None:
        try:
            return str(self._describe(ctx.tenant, key)["ImageVersionStatus"])
        except ResourceNotFound:
            return None

    def _read_back(self, ctx: Context) -> Progress:
        return Progress.success(self.read(ctx.tenant, self._key(ctx), ctx.identifier or ""))

    # -- create -----------------------------------------------------------------------------------

    def _create(self, ctx: Context) -> Phase:
        desired = ctx.desired or {}
        self.validate_desired(desired)
        self.refuse_read_only(desired, ("ImageArn", "ImageVersionArn", "Version", "ContainerImage"))
        name = desired["ImageName"]
        aliases = list(dict.fromkeys([*desired.get("Aliases", ()), *filter(None, [desired.get("Alias")])]))
        request: dict[str, Any] = {
            "ImageName": name,
            "BaseImage": desired["BaseImage"],
            # The request token: a retry of this step after a crash is the same CreateImageVersion.
            "ClientToken": ctx.request_token,
            **{prop: desired[prop] for prop in _METADATA if prop in desired},
        }
        if aliases:
            request["Aliases"] = aliases
        try:
            arn = self.sagemaker(ctx.tenant, "CreateImageVersion", request)["ImageVersionArn"]
        except ResourceNotFound:
            raise invalid_request(f"Image: [{name}] not found. Failed to create Image Version") from None
        except ResourceInUse:
            raise conflict(
                self.type_name, name, f"Image: [{name}] is in use. Could not create new Image Version"
            ) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        except ResourceLimitExceeded as exc:
            raise limit_exceeded(self.type_name, exc.message) from None
        ctx.identifier = arn
        return Phase.STABILIZE

    def _created(self, ctx: Context) -> Phase | Progress:
        identifier = ctx.identifier or ""
        status = self._status(ctx, self._key(ctx))
        return self.settle(status, CREATING, name=identifier, shown=identifier) or Phase.READ

    # -- update -----------------------------------------------------------------------------------

    def _update(self, ctx: Context) -> Progress:
        desired, previous = ctx.desired or {}, ctx.previous or {}
        key = self._key(ctx)
        request: dict[str, Any] = {"ImageName": key["ImageName"], "Version": key["Version"]}
        for prop in _METADATA:
            if prop in desired and desired[prop] != previous.get(prop):
                request[prop] = desired[prop]
        try:
            if "Aliases" in desired:
                # Aliases are write-only: what the version has now comes from ListAliases.
                current = self._aliases(ctx.tenant, key)
                wanted = list(dict.fromkeys(desired["Aliases"]))
                if to_add := [a for a in wanted if a not in current]:
                    request["AliasesToAdd"] = to_add
                if to_delete := [a for a in current if a not in wanted]:
                    request["AliasesToDelete"] = to_delete
            self.sagemaker(ctx.tenant, "UpdateImageVersion", request)
        except ResourceNotFound:
            raise not_found(self.type_name, ctx.identifier or "") from None
        except ResourceInUse as exc:
            raise conflict(self.type_name, key["ImageName"], exc.message.rstrip(".")) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        return self._read_back(ctx)

    # (builtins.list: inside this class, ``list`` is the handler's list operation.)
    def _aliases(self, tenant: Tenant, key: dict[str, Any]) -> builtins.list[str]:
        aliases: builtins.list[str] = []
        request: dict[str, Any] = {
            "ImageName": key["ImageName"],
            "Version": key["Version"],
            "MaxResults": 100,
        }
        while True:
            page = self.sagemaker(tenant, "ListAliases", request)
            aliases.extend(page["SageMakerImageVersionAliases"])
            if not page.get("NextToken"):
                return aliases
            request["NextToken"] = page["NextToken"]

    # -- delete -----------------------------------------------------------------------------------

    def _delete(self, ctx: Context) -> Phase:
        shown = ctx.identifier or ""
        key = self._key(ctx)
        try:
            status = self._describe(ctx.tenant, key)["ImageVersionStatus"]
            if status != DELETING.pending:
                self.sagemaker(
                    ctx.tenant,
                    "DeleteImageVersion",
                    {"ImageName": key["ImageName"], "Version": key["Version"]},
                )
        except ResourceNotFound:
            raise not_found(self.type_name, shown) from None
        except ResourceInUse:
            name = key["ImageName"]
            # AWS's delete handler reuses its create handler's text here, "create" and all.
            raise conflict(
                self.type_name, name, f"Image: [{name}] is in use. Could not create new Image Version"
            ) from None
        return Phase.STABILIZE

    def _deleted(self, ctx: Context) -> Progress:
        shown = ctx.identifier or ""
        status = self._status(ctx, self._key(ctx))
        return self.settle(status, DELETING, name=shown, shown=shown) or Progress.success()
