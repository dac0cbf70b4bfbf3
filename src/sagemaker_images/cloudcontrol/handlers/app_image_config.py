"""AWS::SageMaker::AppImageConfig over the SageMaker AppImageConfig operations.

The resource schema shapes the model differently from the SageMaker API, and wins on its side: the
primary identifier is the name; ``ContainerEnvironmentVariables`` is a list of ``{Key, Value}`` (a map
in the API); ``KernelSpecs`` holds one kernel; JupyterLab and CodeEditor configs carry no
``FileSystemConfig``; tags are read and updated with the resource. The calls are synchronous, so no
operation waits on a status: create → read, update → tags → read, delete.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sagemaker_images.app_image_configs.registry import app_image_config_arn
from sagemaker_images.cloudcontrol.errors import already_exists, invalid_request, not_found
from sagemaker_images.cloudcontrol.handlers import (
    Context,
    Handler,
    Listing,
    Model,
    Operation,
    Phase,
    Progress,
    Step,
)
from sagemaker_images.images.errors import ResourceInUse, ResourceNotFound, ValidationException
from sagemaker_images.tenancy import Tenant

NAME = "AppImageConfigName"
# The app configs, named alike in the model and in the API.
_CONFIGS = ("KernelGatewayImageConfig", "JupyterLabAppImageConfig", "CodeEditorAppImageConfig")
_ENVIRONMENT = "ContainerEnvironmentVariables"


def _to_api(config: dict[str, Any]) -> dict[str, Any]:
    """A model's app config as the API takes it: environment variables as a map."""
    container = config.get("ContainerConfig")
    if not isinstance(container, dict) or _ENVIRONMENT not in container:
        return config
    variables = {v["Key"]: v["Value"] for v in container[_ENVIRONMENT]}
    return {**config, "ContainerConfig": {**container, _ENVIRONMENT: variables}}


def _to_model(config: dict[str, Any]) -> dict[str, Any]:
    """An API app config as the model shows it: environment variables as a list of Key/Value."""
    container = config.get("ContainerConfig")
    if not isinstance(container, dict) or _ENVIRONMENT not in container:
        return config
    variables = [{"Key": k, "Value": v} for k, v in container[_ENVIRONMENT].items()]
    return {**config, "ContainerConfig": {**container, _ENVIRONMENT: variables}}


class AppImageConfigHandler(Handler):
    tag_actions = ("sagemaker:AddTags", "sagemaker:DeleteTags")

    # -- identifiers ------------------------------------------------------------------------------

    def resolve_primary(self, tenant: Tenant, value: str, shown: str) -> dict[str, Any]:
        return {NAME: value}

    def created_key(self, desired: Model) -> dict[str, Any] | None:
        name = desired.get(NAME)
        return {NAME: name} if self.schema.accepts(NAME, name) else None

    def primary(self, tenant: Tenant, key: dict[str, Any]) -> str:
        return str(key[NAME])

    # -- read / list ------------------------------------------------------------------------------

    def read(self, tenant: Tenant, key: dict[str, Any], shown: str) -> Model:
        try:
            described = self.sagemaker.describe(tenant, "DescribeAppImageConfig", {NAME: key[NAME]})
        except ResourceNotFound:
            raise not_found(self.type_name, shown) from None
        model: Model = {"AppImageConfigArn": described["AppImageConfigArn"], NAME: described[NAME]}
        for prop in _CONFIGS:
            if described.get(prop) is not None:
                model[prop] = _to_model(described[prop])
        if tags := self.tag_property(tenant, described["AppImageConfigArn"]):
            model["Tags"] = tags
        return model

    def list(self, tenant: Tenant, resource_model: Model, next_token: str | None) -> Listing:
        return self.list_page(
            tenant, "ListAppImageConfigs", {}, next_token, items="AppImageConfigs", identifier=NAME
        )

    # -- the state machines -----------------------------------------------------------------------

    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        if operation is Operation.CREATE:
            return {Phase.START: self._create_checks, Phase.CREATE: self._create, Phase.READ: self._read_back}
        if operation is Operation.UPDATE:
            return {Phase.START: self._update, Phase.TAGS: self._update_tags, Phase.READ: self._read_back}
        return {Phase.START: self._delete}

    def _name(self, ctx: Context) -> str:
        if ctx.operation is Operation.CREATE:
            return str((ctx.desired or {}).get(NAME, ""))
        if ctx.operation is Operation.UPDATE:
            return str((ctx.previous or {})[NAME])
        return str(self.resolve(ctx.tenant, ctx.identifier or "")[NAME])

    def _exists(self, ctx: Context, name: str) -> bool:
        try:
            self.sagemaker.describe(ctx.tenant, "DescribeAppImageConfig", {NAME: name})
        except ResourceNotFound:
            return False
        return True

    def _read_back(self, ctx: Context) -> Progress:
        name = self._name(ctx)
        return Progress.success(self.read(ctx.tenant, {NAME: name}, name))

    def _configs(self, desired: Model) -> dict[str, Any]:
        return {prop: _to_api(desired[prop]) for prop in _CONFIGS if prop in desired}

    # -- create -----------------------------------------------------------------------------------

    def _create_checks(self, ctx: Context) -> Phase:
        desired = ctx.desired or {}
        self.validate_desired(desired)
        self.refuse_read_only(desired, ("AppImageConfigArn",))
        name = self._name(ctx)
        if self._exists(ctx, name):
            raise already_exists(self.type_name, name)
        return Phase.CREATE

    def _create(self, ctx: Context) -> Phase:
        desired = ctx.desired or {}
        name = self._name(ctx)
        request: dict[str, Any] = {NAME: name, **self._configs(desired)}
        if desired.get("Tags"):
            request["Tags"] = desired["Tags"]
        try:
            self.sagemaker(ctx.tenant, "CreateAppImageConfig", request)
        except ResourceInUse:
            # After a crash right after our own create, the config in the way is ours.
            if ctx.resumed is not Phase.CREATE:
                raise already_exists(self.type_name, name) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        ctx.identifier = name
        return Phase.READ

    # -- update -----------------------------------------------------------------------------------

    def _update(self, ctx: Context) -> Phase:
        name = self._name(ctx)
        try:
            request = {NAME: name, **self._configs(ctx.desired or {})}
            self.sagemaker(ctx.tenant, "UpdateAppImageConfig", request)
        except ResourceNotFound:
            raise not_found(self.type_name, name) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        return Phase.TAGS

    def _update_tags(self, ctx: Context) -> Phase:
        name = self._name(ctx)
        if not self._exists(ctx, name):
            raise not_found(self.type_name, name)
        self.sync_tags(ctx.tenant, app_image_config_arn(ctx.tenant, name), ctx.desired or {})
        return Phase.READ

    # -- delete -----------------------------------------------------------------------------------

    def _delete(self, ctx: Context) -> Progress:
        name = self._name(ctx)
        try:
            self.sagemaker.describe(ctx.tenant, "DescribeAppImageConfig", {NAME: name})
            self.sagemaker(ctx.tenant, "DeleteAppImageConfig", {NAME: name})
        except ResourceNotFound:
            raise not_found(self.type_name, ctx.identifier or name) from None
        return Progress.success()
