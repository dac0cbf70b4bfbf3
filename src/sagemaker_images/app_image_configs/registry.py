"""The SageMaker AppImageConfig operations: one method per API operation, no HTTP in sight.

AWS answers these calls synchronously (no status member): a config exists from the moment
CreateAppImageConfig returns. What the model allows but AWS refuses is refused here in AWS's words:

- ``FileSystemConfig`` belongs to KernelGateway configs only; JupyterLab and CodeEditor configs
  refuse it (terraform-provider-aws issue 35826 quotes AWS's ``ValidationException``).
- ``DefaultUid``/``DefaultGid`` other than 1000/100 are refused (terraform-provider-aws issue 40976
  quotes the answer of UpdateAppImageConfig).

A ``FileSystemConfig`` is returned as it was sent: AWS applies its documented defaults
(``/home/sagemaker-user``, 1000, 100) when it runs the app, not in DescribeAppImageConfig (Terraform's
acceptance tests read a KernelGateway config created without one back without one).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson

from sagemaker_images.images import pagination
from sagemaker_images.images.errors import ResourceInUse, ResourceNotFound, ValidationException
from sagemaker_images.operations import handlers, names, operation, read_only
from sagemaker_images.page_tokens import PageTokens
from sagemaker_images.store import Database
from sagemaker_images.store.app_image_configs import AppImageConfigQueries
from sagemaker_images.store.keyset import Sort
from sagemaker_images.store.queries import Conflict, Queries, TimeRange
from sagemaker_images.store.tag_sets import TagSet
from sagemaker_images.tagging import tag_pairs
from sagemaker_images.tenancy import Tenant

Request = dict[str, Any]
Response = dict[str, Any]


# API member -> column holding its JSON.
_CONFIGS = {
    "KernelGatewayImageConfig": "kernel_gateway_image_config",
    "JupyterLabAppImageConfig": "jupyter_lab_app_image_config",
    "CodeEditorAppImageConfig": "code_editor_app_image_config",
}
# The app types that run without a user's EFS home directory mounted by config.
_NO_FILE_SYSTEM = ("JupyterLabAppImageConfig", "CodeEditorAppImageConfig")
_SUPPORTED_IDS = {"DefaultUid": 1000, "DefaultGid": 100}

_DEFAULT_SORT = "CreationTime"
# The store's order for each SortBy.
_SORTS = {"CreationTime": Sort.CREATED, "LastModifiedTime": Sort.MODIFIED, "Name": Sort.NAME}


def app_image_config_arn(tenant: Tenant, name: str) -> str:
    prefix = f"arn:{tenant.partition}:sagemaker:{tenant.region}:{tenant.account}"
    return f"{prefix}:app-image-config/{name.lower()}"


def _now() -> float:
    return round(time.time(), 3)


class AppImageConfigRegistry:
    def __init__(
        self, database: Database, clock: Callable[[], float] = _now, tokens: PageTokens | None = None
    ) -> None:
        self.database = database
        self.clock = clock
        self.tokens = tokens or PageTokens.ephemeral()

    def operations(self) -> dict[str, Callable[[Tenant, Request], Response]]:
        return handlers(self)

    @operation("CreateAppImageConfig")
    def create(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        name = request["AppImageConfigName"]
        tags = tag_pairs(request.get("Tags", ()))
        values = {
            "account": tenant.account,
            "region": tenant.region,
            "name": name,
            "name_key": name.lower(),
            "created_at": now,
            "modified_at": now,
            **_config_columns(request),
        }
        with self.database.write() as q:
            configs = AppImageConfigQueries(q)
            if configs.get(tenant.account, tenant.region, name.lower()) is not None:
                raise _in_use()
            try:
                config_id = configs.insert(values)
            except Conflict:
                raise _in_use() from None
            configs.tag_set(config_id).put(tags)
        return {"AppImageConfigArn": app_image_config_arn(tenant, name)}

    @operation("DescribeAppImageConfig", reads=True)
    def describe(self, tenant: Tenant, request: Request) -> Response:
        with self.database.read(one_statement=True) as q:
            row = _find(AppImageConfigQueries(q), tenant, request["AppImageConfigName"])
        return _details(tenant, row)

    @operation("UpdateAppImageConfig")
    def update(self, tenant: Tenant, request: Request) -> Response:
        """A partial update: the app configs a request names replace those; the others stay."""
        now = self.clock()
        values = {column: value for column, value in _config_columns(request).items() if value is not None}
        with self.database.write() as q:
            configs = AppImageConfigQueries(q)
            row = _find(configs, tenant, request["AppImageConfigName"], lock=True)
            configs.update(row["id"], {**values, "modified_at": now})
        return {"AppImageConfigArn": app_image_config_arn(tenant, row["name"])}

    @operation("DeleteAppImageConfig")
    def delete(self, tenant: Tenant, request: Request) -> Response:
        with self.database.write() as q:
            configs = AppImageConfigQueries(q)
            row = _find(configs, tenant, request["AppImageConfigName"], lock=True)
            configs.delete(row["id"])  # its tags go with it (ON DELETE CASCADE)
        return {}

    def tags_of(self, q: Queries, tenant: Tenant, resource: str, now: float, lock: bool) -> TagSet | None:
        """The tags of ``app-image-config/NAME`` (an ARN's resource part), if it exists; a tag write
        locks the config's row as every other write to it does."""
        kind, _, name = resource.partition("/")
        if kind != "app-image-config" or not name or "/" in name:
            return None
        configs = AppImageConfigQueries(q)
        row = configs.get(tenant.account, tenant.region, name.lower(), lock=lock)
        return configs.tag_set(row["id"]) if row is not None else None

    @operation("ListAppImageConfigs", reads=True)
    def list(self, tenant: Tenant, request: Request) -> Response:
        window = pagination.Window.sorted(
            self.tokens,
            tenant,
            "ListAppImageConfigs",
            request,
            _SORTS,
            default_sort=_DEFAULT_SORT,
            default_order="Descending",
        )
        when = TimeRange(
            created_after=request.get("CreationTimeAfter"),
            created_before=request.get("CreationTimeBefore"),
            modified_after=request.get("ModifiedTimeAfter"),
            modified_before=request.get("ModifiedTimeBefore"),
        )
        with self.database.read(one_statement=True) as q:
            page = AppImageConfigQueries(q).list(
                tenant.account,
                tenant.region,
                name_contains=request.get("NameContains"),
                when=when,
                keyset=window.keyset,
            )
        configs = [_details(tenant, row) for row in page.rows]
        return {"AppImageConfigs": configs, "NextToken": window.token(page)}


def _config_columns(request: Request) -> dict[str, str | None]:
    """The app configs of a Create/Update request as stored, after AWS's own checks."""
    for member in _NO_FILE_SYSTEM:
        if "FileSystemConfig" in request.get(member, {}):
            raise ValidationException(f"FileSystemConfig parameters are not supported for {member}.")
    file_system = request.get("KernelGatewayImageConfig", {}).get("FileSystemConfig", {})
    if any(file_system.get(member, value) != value for member, value in _SUPPORTED_IDS.items()):
        raise ValidationException(
            "Unsupported FileSystemConfig parameters. "
            "Only supported values of DefaultUId and DefaultGID are 1000 and 100 respectively"
        )
    return {
        column: orjson.dumps(request[member]).decode() if member in request else None
        for member, column in _CONFIGS.items()
    }


def _details(tenant: Tenant, row: Any) -> Response:
    """An AppImageConfig as DescribeAppImageConfig and ListAppImageConfigs show it."""
    details = {
        "AppImageConfigArn": app_image_config_arn(tenant, row["name"]),
        "AppImageConfigName": row["name"],
        "CreationTime": row["created_at"],
        "LastModifiedTime": row["modified_at"],
    }
    for member, column in _CONFIGS.items():
        if row[column] is not None:
            details[member] = orjson.loads(row[column])
    return details


def _find(configs: AppImageConfigQueries, tenant: Tenant, name: str, *, lock: bool = False) -> Any:
    row = configs.get(tenant.account, tenant.region, name.lower(), lock=lock)
    if row is None:
        raise ResourceNotFound(f"AppImageConfig with ARN {app_image_config_arn(tenant, name)} does not exist")
    return row


def _in_use() -> ResourceInUse:
    # AWS's text, as quoted in aws-samples/sagemaker-studio-custom-image-samples issue 17.
    return ResourceInUse("The ID or Name specified is already in use.")


# The operations this module serves, as its methods declare them.
OPERATIONS = names(AppImageConfigRegistry)
READ_OPERATIONS = read_only(AppImageConfigRegistry)
# The resource type in its ARN, under which ``tagging.Tagging`` finds its tags.
TAGGED = ("app-image-config",)
