"""The SageMaker image operations: one method per API operation, no HTTP in sight.

Every method takes the calling tenant and the validated request (member names as in the API) and
returns the response members. Each runs in one database transaction; a write that must see a
consistent image (version numbers, aliases, client tokens) locks the image row first.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from sagemaker_images.errors import java_list
from sagemaker_images.faults import Faults
from sagemaker_images.images import pagination
from sagemaker_images.images.arns import image_arn, image_version_arn, is_version_number
from sagemaker_images.images.checks import BackgroundChecks
from sagemaker_images.images.errors import (
    ResourceInUse,
    ResourceLimitExceeded,
    ResourceNotFound,
    ValidationException,
)
from sagemaker_images.images.lifecycle import (
    CREATED,
    CREATING,
    DELETED,
    DELETING,
    UPDATE_FAILED,
    UPDATING,
    LifecyclePolicy,
    observe,
    vendor_guidance,
)
from sagemaker_images.images.versions import METADATA_COLUMNS
from sagemaker_images.operations import handlers, names, operation, read_only
from sagemaker_images.page_tokens import PageTokens
from sagemaker_images.store import Database
from sagemaker_images.store.keyset import Sort
from sagemaker_images.store.queries import Conflict, Queries, TimeRange
from sagemaker_images.store.tag_sets import TagSet
from sagemaker_images.tagging import tag_pairs
from sagemaker_images.tenancy import Tenant

Request = dict[str, Any]
Response = dict[str, Any]

# ListAliases' default page size is undocumented. Terraform reads a version's aliases with one call and
# never follows NextToken, so without MaxResults one page holds every alias asked for (a bound that
# still fits a 32-bit SQL LIMIT once the look-ahead row is added).
ALL_ALIASES = 2**31 - 2
# A version can be taken only from an image that is not mid-transition and did not fail to create.
_VERSIONABLE = frozenset({CREATED, UPDATE_FAILED})
_BEING = {CREATING: "created", UPDATING: "updated", DELETING: "deleted"}

# API member name -> column, for the version metadata CreateImageVersion and UpdateImageVersion share
# (VendorGuidance besides, which has a clock: ``LifecyclePolicy.guidance``).
_VERSION_FIELDS = {
    member: column for member, column in METADATA_COLUMNS.items() if member != "VendorGuidance"
}


@dataclass(frozen=True, slots=True)
class RegistryOptions:
    max_images: int | None = None
    max_versions_per_image: int | None = None
    # AWS answers concurrent CreateImageVersion calls on one image with ResourceInUse; off by default.
    reject_concurrent_version_creates: bool = False


def _now() -> float:
    # Millisecond precision, as AWS reports times: what is stored is exactly what clients see.
    return round(time.time(), 3)


class ImageRegistry:
    def __init__(
        self,
        database: Database,
        policy: LifecyclePolicy | None = None,
        options: RegistryOptions | None = None,
        clock: Callable[[], float] = _now,
        checks: BackgroundChecks | None = None,
        tokens: PageTokens | None = None,
        faults: Faults | None = None,
    ) -> None:
        self.database = database
        self.policy = policy or LifecyclePolicy()
        self.options = options or RegistryOptions()
        self.clock = clock
        # Resolution of BaseImages and the role check, when configured: those transitions are
        # written pending and decided in the background.
        self.checks = checks
        self.tokens = tokens or PageTokens.ephemeral()
        self._version_creates: set[tuple[str, str, str]] = set()
        self._version_creates_lock = threading.Lock()
        self.faults = faults or Faults()

    def operations(self) -> dict[str, Callable[[Tenant, Request], Response]]:
        return handlers(self)

    # -- images -----------------------------------------------------------------------------------

    @operation("CreateImage")
    def create_image(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        name = request["ImageName"]
        tags = tag_pairs(request.get("Tags", ()))
        failure = self._image_failure(name, "create")
        pending = failure is None and self.checks is not None and self.checks.checks_roles()
        with self.database.write() as q:
            q.purge_gone_image(tenant.account, tenant.region, name.lower(), now, DELETED)
            if q.image(tenant.account, tenant.region, name.lower(), now, DELETED) is not None:
                raise _image_exists(name)
            limit = self.options.max_images
            if limit is not None:
                used = q.count_images(tenant.account, tenant.region, now, DELETED)
                if used >= limit:
                    raise _limit_exceeded("Maximum number of images", limit, used, "Images")
            values = {
                "account": tenant.account,
                "region": tenant.region,
                "name": name,
                "name_key": name.lower(),
                "role_arn": request["RoleArn"],
                "display_name": request.get("DisplayName"),
                "description": request.get("Description"),
                "created_at": now,
                **self.policy.begin(CREATING, now, failure, pending=pending),
            }
            try:
                image_id = q.insert_image(values)
            except Conflict:
                raise _image_exists(name) from None
            q.tag_set(image_id).put(tags)
        if pending and self.checks is not None:
            self.database.after_commit(self.checks.wake)
        return {"ImageArn": image_arn(tenant, name)}

    @operation("DescribeImage", reads=True)
    def describe_image(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        with self.database.read(one_statement=True) as q:
            row = _find_image(q, tenant, request["ImageName"], now)
        return {**_image_summary(tenant, row, now), "RoleArn": row["role_arn"]}

    @operation("UpdateImage")
    def update_image(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        deleting = set(request.get("DeleteProperties", ()))
        both = sorted(p for p in deleting if p in request)
        if both:
            raise ValidationException(
                f"The properties {java_list(both)} cannot be both updated and deleted in the same request."
            )
        with self.database.write() as q:
            row = _find_image(q, tenant, request["ImageName"], now, lock=True)
            arn = image_arn(tenant, row["name"])
            _refuse_in_progress("Image", arn, observe(row, now).status)
            values: dict[str, Any] = {}
            for member, column in (("DisplayName", "display_name"), ("Description", "description")):
                if member in deleting:
                    values[column] = None
                elif member in request:
                    values[column] = request[member]
            if "RoleArn" in request:
                values["role_arn"] = request["RoleArn"]
            values |= self.policy.begin(UPDATING, now, self._image_failure(row["name"], "update"))
            q.update_image(row["id"], values)
        return {"ImageArn": arn}

    @operation("DeleteImage")
    def delete_image(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        with self.database.write() as q:
            row = _find_image(q, tenant, request["ImageName"], now, lock=True)
            _refuse_in_progress("Image", image_arn(tenant, row["name"]), observe(row, now).status)
            transition = self.policy.begin(DELETING, now, self._image_failure(row["name"], "delete"))
            if _settles_gone(transition, now):
                q.delete_image(row["id"])  # versions, aliases and tags go with it (ON DELETE CASCADE)
            else:
                q.update_image(row["id"], transition)
        return {}

    @operation("ListImages", reads=True)
    def list_images(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        window = pagination.Window.sorted(self.tokens, tenant, "ListImages", request, _IMAGE_SORTS)
        with self.database.read(one_statement=True) as q:
            page = q.list_images(
                tenant.account,
                tenant.region,
                now,
                DELETED,
                name_contains=request.get("NameContains"),
                when=_time_range(request),
                keyset=window.keyset,
            )
        images = [_image_summary(tenant, row, now) for row in page.rows]
        return {"Images": images, "NextToken": window.token(page)}

    # -- versions ---------------------------------------------------------------------------------

    @operation("CreateImageVersion")
    def create_image_version(self, tenant: Tenant, request: Request) -> Response:
        if not self.options.reject_concurrent_version_creates:
            return self._create_image_version(tenant, request)
        # AWS refuses a CreateImageVersion while another one on the same image is still running (the
        # calls overlap), not while an earlier version is still CREATING. In this process: a call
        # in flight. Across replicas (PostgreSQL): a transaction holding the image's advisory lock.
        key = (tenant.account, tenant.region, request["ImageName"].lower())
        with self._version_creates_lock:
            if key in self._version_creates:
                raise _modified_concurrently()
            self._version_creates.add(key)
        try:
            return self._create_image_version(tenant, request)
        finally:
            # The call runs until its write is committed (on SQLite's event loop, after this returns).
            self.database.after_commit(lambda: self._version_create_ended(key))

    def _version_create_ended(self, key: tuple[str, str, str]) -> None:
        with self._version_creates_lock:
            self._version_creates.discard(key)

    def _create_image_version(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        base_image = request["BaseImage"]
        aliases = list(dict.fromkeys(request.get("Aliases", ())))
        with self.database.write() as q:
            if self.options.reject_concurrent_version_creates:
                # Claimed before waiting for the image's row lock, which would serialise the calls.
                found = _find_image(q, tenant, request["ImageName"], now)
                if not q.try_exclusive_version_create(found["id"]):
                    raise _modified_concurrently()
            # The image, its next number and the client token's check, taken together under the
            # image's row lock. Every refusal below undoes the number with the rest of the write.
            key = (tenant.account, tenant.region, request["ImageName"].lower())
            image = q.take_version_number(*key, request["ClientToken"], now, DELETED)
            if image is None:
                # No such image, or a retry with the same token: the same request, answered with the
                # version it made.
                found = _find_image(q, tenant, request["ImageName"], now, lock=True)
                earlier = q.version_by_client_token(found["id"], request["ClientToken"])
                assert earlier is not None  # the image is there and locked: the token was used
                return {"ImageVersionArn": image_version_arn(tenant, found["name"], earlier["version"])}
            name, number = image["name"], image["version_counter"]
            if observe(image, now).status not in _VERSIONABLE:
                raise ValidationException(f"Image {name} is in an invalid state.")
            limit = self.options.max_versions_per_image
            if limit is not None:
                used = q.count_versions(image["id"], now, DELETED)
                if used >= limit:
                    raise _limit_exceeded("Maximum number of versions per image", limit, used, "Versions")
            _refuse_taken_aliases(q, image, aliases, version=None)
            # Read under the image's lock, with the number: a later number never gets an earlier
            # time (and never one before the newest version's, should the wall clock step back).
            created = max(self.clock(), image["last_created"] or 0.0)
            failure = None
            if self.policy.version_fails(base_image):
                failure = f"Unable to pull base image {base_image}: simulated failure (--fail-base-images)."
            failure = self.faults.version_failure(name) or failure
            pending = failure is None and self.checks is not None and self.checks.resolves(base_image)
            values = {
                "image_id": image["id"],
                "version": number,
                "client_token": request["ClientToken"],
                "base_image": base_image,
                "created_at": created,
                **_version_fields(request),
                **self.policy.guidance(request.get("VendorGuidance"), now),
                **self.policy.begin(CREATING, created, failure, pending=pending),
            }
            q.insert_version(values)
            q.add_aliases(image["id"], number, aliases)
        if pending and self.checks is not None:
            self.database.after_commit(self.checks.wake)
        return {"ImageVersionArn": image_version_arn(tenant, name, number)}

    @operation("DescribeImageVersion", reads=True)
    def describe_image_version(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        name = request["ImageName"]
        row = None
        if "Alias" not in request:
            # By number, or the latest: the image and its version in one statement.
            with self.database.read(one_statement=True) as q:
                row = q.named_version(
                    tenant.account, tenant.region, name.lower(), request.get("Version"), now, DELETED
                )
        if row is not None:
            image_name = row["image_name"]
        else:
            # By alias, or either is missing: one lookup after the other, in one snapshot, to say what.
            with self.database.read() as q:
                image = _find_image(q, tenant, name, now)
                row = _find_version(q, tenant, image, request, now)
            image_name = image["name"]
        summary = _version_summary(tenant, image_name, row, now)
        return {
            **summary,
            "BaseImage": row["base_image"],
            # The image a CREATED version resolved to (digest-pinned), or its BaseImage as written
            # when resolution is off.
            "ContainerImage": (row["container_image"] or row["base_image"])
            if summary["ImageVersionStatus"] == CREATED
            else None,
            **{member: row[column] for member, column in _VERSION_FIELDS.items()},
            "VendorGuidance": vendor_guidance(row, now),
            # SageMaker answers Horovod false for a version created without it (an AWS-written
            # fixture of a real answer shows it); the string metadata stays absent when unset.
            "Horovod": bool(row["horovod"]),
        }

    @operation("UpdateImageVersion")
    def update_image_version(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        to_add = list(dict.fromkeys(request.get("AliasesToAdd", ())))
        to_delete = list(dict.fromkeys(request.get("AliasesToDelete", ())))
        both = sorted(set(to_add) & set(to_delete))
        if both:
            raise ValidationException(
                f"Aliases {java_list(both)} cannot be both added and deleted in the same request."
            )
        with self.database.write() as q:
            image = _find_image(q, tenant, request["ImageName"], now, lock=True)
            row = _find_version(q, tenant, image, request, now)
            number = row["version"]
            arn = image_version_arn(tenant, image["name"], number)
            seen = observe(row, now)
            _refuse_in_progress("ImageVersion", arn, seen.status)
            attached = q.aliases_taken(image["id"], to_delete)
            missing = [a for a in to_delete if attached.get(a) != number]
            if missing:
                raise ResourceNotFound(f"Aliases {java_list(missing)} do not exist for ImageVersion {arn}.")
            q.delete_aliases(image["id"], number, to_delete)
            _refuse_taken_aliases(q, image, to_add, version=number)
            held = q.aliases_taken(image["id"], to_add)
            q.add_aliases(image["id"], number, [a for a in to_add if a not in held])
            values = {
                column: request[member] for member, column in _VERSION_FIELDS.items() if member in request
            }
            if "VendorGuidance" in request:
                values |= self.policy.guidance(request["VendorGuidance"], now, row)
            # A version has no UPDATING status: the change is complete when the call returns.
            values |= {
                "status": seen.status,
                "next_status": seen.status,
                "modified_at": now,
                "settles_at": now,
            }
            q.update_version(image["id"], number, values)
        return {"ImageVersionArn": arn}

    @operation("DeleteImageVersion")
    def delete_image_version(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        if "Version" not in request and "Alias" not in request:
            raise ValidationException("Either Version or Alias must be specified.")
        with self.database.write() as q:
            image = _find_image(q, tenant, request["ImageName"], now, lock=True)
            q.purge_gone_versions(image["id"], now, DELETED)
            row = _find_version(q, tenant, image, request, now)
            number = row["version"]
            _refuse_in_progress(
                "ImageVersion", image_version_arn(tenant, image["name"], number), observe(row, now).status
            )
            failure = None
            if self.policy.version_fails(row["base_image"]):
                failure = "Unable to delete image version: simulated failure (--fail-base-images)."
            q.delete_aliases(image["id"], number)
            transition = self.policy.begin(DELETING, now, failure)
            if _settles_gone(transition, now):
                q.delete_version(image["id"], number)
            else:
                q.update_version(image["id"], number, transition)
        return {}

    @operation("ListImageVersions", reads=True)
    def list_image_versions(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        listing = f"ListImageVersions/{request['ImageName'].lower()}"
        window = pagination.Window.sorted(self.tokens, tenant, listing, request, _VERSION_SORTS)
        name, when = request["ImageName"], _time_range(request)
        key = (tenant.account, tenant.region, name.lower(), now, DELETED)
        # The image and a page of its versions in one statement.
        with self.database.read(one_statement=True) as q:
            page = q.list_versions(*key, when=when, keyset=window.keyset)
        if page.rows:
            image_name = page.rows[0]["image_name"]
        else:
            # No image, or no versions on this page: both looked up in one snapshot, to say which.
            with self.database.read() as q:
                image_name = _find_image(q, tenant, name, now)["name"]
                page = q.list_versions(*key, when=when, keyset=window.keyset)
        versions = [_version_summary(tenant, image_name, row, now) for row in page.rows]
        return {"ImageVersions": versions, "NextToken": window.token(page)}

    @operation("ListAliases", reads=True)
    def list_aliases(self, tenant: Tenant, request: Request) -> Response:
        now = self.clock()
        scope = [request["ImageName"].lower(), request.get("Version"), request.get("Alias")]
        listing = "ListAliases/" + orjson.dumps(scope).decode()
        window = pagination.Window.of(
            self.tokens, tenant, listing, request, sort=Sort.NAME, default_size=ALL_ALIASES
        )
        with self.database.read() as q:
            image = _find_image(q, tenant, request["ImageName"], now)
            version = request.get("Version")
            if version is not None and q.version(image["id"], version, now, DELETED) is None:
                raise _version_not_found(tenant, image["name"], version)
            page = q.list_aliases(
                image["id"], version=version, alias=request.get("Alias"), keyset=window.keyset
            )
        return {"SageMakerImageVersionAliases": list(page.rows), "NextToken": window.token(page)}

    # -- tags -------------------------------------------------------------------------------------

    def tags_of(self, q: Queries, tenant: Tenant, resource: str, now: float, lock: bool) -> TagSet | None:
        """The tags of ``image/NAME`` or ``image-version/NAME/N`` (an ARN's resource part), if it exists.

        Tag writes lock the image row like every other write to an image, so they never race its
        deletion or each other.
        """
        kind, _, path = resource.partition("/")
        name, _, number = path.partition("/")
        if not name:
            return None
        if kind == "image" and not number:
            image = q.image(tenant.account, tenant.region, name.lower(), now, DELETED, lock=lock)
            return q.tag_set(image["id"]) if image is not None else None
        if kind == "image-version" and is_version_number(number):
            image = q.image(tenant.account, tenant.region, name.lower(), now, DELETED, lock=lock)
            if image is not None and q.version(image["id"], int(number), now, DELETED) is not None:
                return q.tag_set(image["id"], int(number))
        return None

    # -- helpers that need the policy ---------------------------------------------------------------

    def _image_failure(self, name: str, action: str) -> str | None:
        if not self.policy.image_fails(name):
            return None
        return f"Unable to {action} image {name}: simulated failure (--fail-images)."


# The store's order for each SortBy. LastModifiedTime is when the latest change settles (``settles_at``).
_IMAGE_SORTS = {"CREATION_TIME": Sort.CREATED, "LAST_MODIFIED_TIME": Sort.MODIFIED, "IMAGE_NAME": Sort.NAME}
_VERSION_SORTS = {"CREATION_TIME": Sort.CREATED, "LAST_MODIFIED_TIME": Sort.MODIFIED, "VERSION": Sort.NUMBER}


def _image_summary(tenant: Tenant, row: Any, now: float) -> Response:
    """An image as ListImages shows it (DescribeImage adds its RoleArn)."""
    seen = observe(row, now)
    return {
        "CreationTime": row["created_at"],
        "Description": row["description"],
        "DisplayName": row["display_name"],
        "FailureReason": seen.failure_reason,
        "ImageArn": image_arn(tenant, row["name"]),
        "ImageName": row["name"],
        "ImageStatus": seen.status,
        "LastModifiedTime": seen.last_modified,
    }


def _version_summary(tenant: Tenant, image_name: str, row: Any, now: float) -> Response:
    """A version as ListImageVersions shows it (DescribeImageVersion adds its image and metadata)."""
    seen = observe(row, now)
    return {
        "CreationTime": row["created_at"],
        "FailureReason": seen.failure_reason,
        "ImageArn": image_arn(tenant, image_name),
        "ImageVersionArn": image_version_arn(tenant, image_name, row["version"]),
        "ImageVersionStatus": seen.status,
        "LastModifiedTime": seen.last_modified,
        "Version": row["version"],
    }


def _find_image(q: Queries, tenant: Tenant, name: str, now: float, *, lock: bool = False) -> Any:
    row = q.image(tenant.account, tenant.region, name.lower(), now, DELETED, lock=lock)
    if row is None:
        raise ResourceNotFound(f"Image with ARN {image_arn(tenant, name)} does not exist")
    return row


def _find_version(q: Queries, tenant: Tenant, image: Any, request: Request, now: float) -> Any:
    """The version a request names: by Version, by Alias, or else the latest."""
    version, alias = request.get("Version"), request.get("Alias")
    if version is not None and alias is not None:
        raise ValidationException("Only one of Version or Alias can be specified.")
    if alias is not None:
        number = q.alias_version(image["id"], alias)
        row = q.version(image["id"], number, now, DELETED) if number is not None else None
        if row is None:
            raise ResourceNotFound(
                f"ImageVersion with ImageName {image['name']} and Alias {alias} does not exist."
            )
        return row
    if version is not None:
        row = q.version(image["id"], version, now, DELETED)
        if row is None:
            raise _version_not_found(tenant, image["name"], version)
        return row
    row = q.latest_version(image["id"], now, DELETED)
    if row is None:
        raise ResourceNotFound(
            f"Latest ImageVersion with ImageName {image['name']} does not exist. "
            "Please provide a valid ImageName."
        )
    return row


def _modified_concurrently() -> ResourceInUse:
    return ResourceInUse("Resource was modified concurrently")


def _refuse_in_progress(kind: str, arn: str, status: str) -> None:
    if status in _BEING:
        raise ResourceInUse(f"{kind} ({arn}) is being {_BEING[status]}")


def _refuse_taken_aliases(q: Queries, image: Any, aliases: list[str], *, version: int | None) -> None:
    taken = {a: v for a, v in q.aliases_taken(image["id"], aliases).items() if v != version}
    if taken:
        alias, holder = next(iter(sorted(taken.items())))
        raise ResourceInUse(
            f"Alias {alias} is already assigned to version {holder} of Image {image['name']}."
        )


def _version_fields(request: Request) -> dict[str, Any]:
    return {column: request.get(member) for member, column in _VERSION_FIELDS.items()}


def _time_range(request: Request) -> TimeRange:
    if _TIME_BOUNDS.isdisjoint(request):
        return _ANY_TIME  # most listings give none
    return TimeRange(
        created_after=request.get("CreationTimeAfter"),
        created_before=request.get("CreationTimeBefore"),
        modified_after=request.get("LastModifiedTimeAfter"),
        modified_before=request.get("LastModifiedTimeBefore"),
    )


_TIME_BOUNDS = frozenset(
    ("CreationTimeAfter", "CreationTimeBefore", "LastModifiedTimeAfter", "LastModifiedTimeBefore")
)
_ANY_TIME = TimeRange()


def _settles_gone(transition: dict[str, Any], now: float) -> bool:
    """A deletion that completes at once: remove the rows instead of leaving a tombstone."""
    return bool(transition["next_status"] == DELETED and transition["settles_at"] <= now)


def _image_exists(name: str) -> ResourceInUse:
    return ResourceInUse(f"The Image with ImageName {name} already exists. Please use a different ImageName.")


def _version_not_found(tenant: Tenant, name: str, version: int) -> ResourceNotFound:
    return ResourceNotFound(
        f"ImageVersion with ARN {image_version_arn(tenant, name, version)} does not exist"
    )


def _limit_exceeded(quota: str, limit: int, used: int, unit: str) -> ResourceLimitExceeded:
    return ResourceLimitExceeded(
        f"The account-level service limit '{quota}' is {limit} {unit}, with current utilization of "
        f"{used} {unit}. Please use AWS Service Quotas to request an increase for this quota."
    )


# The operations this module serves, as its methods declare them.
OPERATIONS = names(ImageRegistry)
READ_OPERATIONS = read_only(ImageRegistry)
# The resource types whose tags this registry keeps (``tagging.Tagging`` answers the tag operations).
TAGGED = ("image", "image-version")
