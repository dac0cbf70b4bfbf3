"""Every statement the application runs, on one connection inside one transaction.

Rows come back as mappings (column name → value). The statements of the busiest calls are built
once, with bound parameters, and run as ``Prepared`` statements: building, cache-keying and
executing a SELECT through SQLAlchemy costs several times what SQLite takes to answer it.

Visibility follows the lifecycle columns described in ``tables``: a resource whose ``next_status``
is the domain's "gone" status (``gone``, which every such statement is given) has disappeared once
``settles_at`` has passed, even before a later write purges its row. Listings are keyset pages
(``keyset``): the caller names an order, and gets the rows and the position the next page starts after.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from sagemaker_images.store.keyset import Keyset, Order, Page, Sort, by_columns, cut, order_and_bound
from sagemaker_images.store.prepared import Prepared
from sagemaker_images.store.tables import IMAGE_TAGS, image_aliases, image_versions, images, tags
from sagemaker_images.store.tag_sets import TagSet


def _rows(rows: Sequence[RowMapping]) -> Sequence[Mapping[str, Any]]:
    # SQLAlchemy types a row's keys as Any; this schema's are column names.
    return cast("Sequence[Mapping[str, Any]]", rows)


class Conflict(Exception):
    """A unique constraint refused the write: someone else holds that name, alias or token."""


# A value in a query, or the bind parameter that stands for one in a prepared statement.
Bound = float | sa.BindParameter[Any]
Status = str | sa.BindParameter[Any]


@dataclass(frozen=True, slots=True)
class TimeRange:
    created_after: Bound | None = None
    created_before: Bound | None = None
    modified_after: Bound | None = None
    modified_before: Bound | None = None


def _visible(table: sa.Table, now: Bound, gone: Status) -> sa.ColumnElement[bool]:
    return sa.or_(table.c.next_status != gone, table.c.settles_at > now)


def _gone(table: sa.Table, now: float, gone: str) -> sa.ColumnElement[bool]:
    return sa.and_(table.c.next_status == gone, table.c.settles_at <= now)


# Bind parameters of the prepared statements' visibility condition.
_NOW: sa.BindParameter[Any] = sa.bindparam("now")
_GONE: sa.BindParameter[Any] = sa.bindparam("gone")


def _time_range(table: sa.Table, when: TimeRange) -> list[sa.ColumnElement[bool]]:
    # Inclusive bounds, as the API documents. Last-modified sorts and filters on ``settles_at``:
    # the moment the latest change completes (equal to the request time when delays are 0).
    conditions = []
    if when.created_after is not None:
        conditions.append(table.c.created_at >= when.created_after)
    if when.created_before is not None:
        conditions.append(table.c.created_at <= when.created_before)
    if when.modified_after is not None:
        conditions.append(table.c.settles_at >= when.modified_after)
    if when.modified_before is not None:
        conditions.append(table.c.settles_at <= when.modified_before)
    return conditions


# An image named by its tenant and (case-folded) name, while it is visible.
_NAMED_IMAGE_CONDITIONS = (
    images.c.account == sa.bindparam("account"),
    images.c.region == sa.bindparam("region"),
    images.c.name_key == sa.bindparam("name_key"),
    _visible(images, _NOW, _GONE),
)


def _image_by_name() -> sa.Select[Any]:
    return sa.select(images).where(*_NAMED_IMAGE_CONDITIONS)


_IMAGE = Prepared(_image_by_name())
_IMAGE_FOR_UPDATE = Prepared(_image_by_name().with_for_update())
_VERSION = Prepared(
    sa.select(image_versions).where(
        image_versions.c.image_id == sa.bindparam("image_id"),
        image_versions.c.version == sa.bindparam("version"),
        _visible(image_versions, _NOW, _GONE),
    )
)
_LATEST_VERSION = Prepared(
    sa.select(image_versions)
    .where(image_versions.c.image_id == sa.bindparam("image_id"), _visible(image_versions, _NOW, _GONE))
    .order_by(image_versions.c.version.desc())
    .limit(1)
)
_VERSION_BY_CLIENT_TOKEN = Prepared(
    sa.select(image_versions).where(
        image_versions.c.image_id == sa.bindparam("image_id"),
        image_versions.c.client_token == sa.bindparam("client_token"),
    )
)
# Advisory lock namespace of "a CreateImageVersion of this image is running" (the image id is the key).
_VERSION_CREATE_LOCK = 727202


def _take_version_number(image: sa.ColumnElement[bool]) -> Prepared:
    """The next version number of ``image``, taken unless the request's client token was used for one
    of its versions already: the image row with its new ``version_counter``, and ``last_created``
    (when its newest version was created), or no row."""
    token_used = sa.exists().where(
        image_versions.c.image_id == images.c.id,
        image_versions.c.client_token == sa.bindparam("client_token"),
    )
    last_created = (
        sa.select(sa.func.max(image_versions.c.created_at))
        .where(image_versions.c.image_id == images.c.id)
        .correlate(images)
        .scalar_subquery()
        .label("last_created")
    )
    return Prepared(
        sa.update(images)
        .where(image, ~token_used)
        .values(version_counter=images.c.version_counter + 1)
        .returning(*images.c, last_created)
    )


# SQLite runs one write transaction at a time: the image is found by name in the same statement.
# (An UPDATE keeps bind parameters named after its table's columns for its SET clause.)
_TAKE_VERSION_NUMBER_BY_NAME = _take_version_number(
    sa.and_(
        images.c.account == sa.bindparam("image_account"),
        images.c.region == sa.bindparam("image_region"),
        images.c.name_key == sa.bindparam("image_name_key"),
        _visible(images, _NOW, _GONE),
    )
)
# PostgreSQL: by id, once the image row is locked (``_IMAGE_FOR_UPDATE``), so that this statement's
# snapshot, taken after the wait for the lock, sees every version committed before it.
_TAKE_VERSION_NUMBER_BY_ID = _take_version_number(images.c.id == sa.bindparam("image_id"))
# The columns a CreateImageVersion writes (the others keep their defaults).
_INSERT_VERSION = Prepared(
    sa.insert(image_versions).values(
        {
            name: sa.bindparam(name)
            for name in (
                "image_id",
                "version",
                "client_token",
                "base_image",
                "vendor_guidance",
                "archives_at",
                "job_type",
                "ml_framework",
                "programming_lang",
                "processor",
                "horovod",
                "release_notes",
                "created_at",
                "modified_at",
                "settles_at",
                "status",
                "next_status",
                "failure_reason",
            )
        }
    )
)

# The columns ordering each listing, the tie-breaker last (a position holds their values).
_IMAGE_ORDERS = {
    Sort.CREATED: (images.c.created_at, images.c.id),
    Sort.MODIFIED: (images.c.settles_at, images.c.id),
    Sort.NAME: (images.c.name_key,),
}
_VERSION_ORDERS = {
    Sort.CREATED: (image_versions.c.created_at, image_versions.c.version),
    Sort.MODIFIED: (image_versions.c.settles_at, image_versions.c.version),
    Sort.NUMBER: (image_versions.c.version,),
}
_IMAGE_POSITIONS = {sort: by_columns([c.key for c in columns]) for sort, columns in _IMAGE_ORDERS.items()}
# The bind parameters of a prepared listing's position.
_AFTER = ("after_0", "after_1")
_VERSION_POSITIONS = {sort: by_columns([c.key for c in columns]) for sort, columns in _VERSION_ORDERS.items()}


# Versions found by their image's name, in one statement: each row carries the image's own spelling
# of its name (``image_name``) besides the version's columns.
_WITH_IMAGE = image_versions.join(images, images.c.id == image_versions.c.image_id)
_NAMED_VERSIONS = sa.select(*image_versions.c, images.c.name.label("image_name")).select_from(_WITH_IMAGE)
# What a listing shows of a version (its summary, whose columns include every order's).
_VERSION_SUMMARY = sa.select(
    *(
        image_versions.c[name]
        for name in (
            "image_id",
            "version",
            "created_at",
            "modified_at",
            "settles_at",
            "status",
            "next_status",
            "failure_reason",
        )
    ),
    images.c.name.label("image_name"),
).select_from(_WITH_IMAGE)
_NAMED_VERSION = Prepared(
    _NAMED_VERSIONS.where(
        *_NAMED_IMAGE_CONDITIONS,
        image_versions.c.version == sa.bindparam("version"),
        _visible(image_versions, _NOW, _GONE),
    )
)
_NAMED_LATEST_VERSION = Prepared(
    _NAMED_VERSIONS.where(*_NAMED_IMAGE_CONDITIONS, _visible(image_versions, _NOW, _GONE))
    .order_by(image_versions.c.version.desc())
    .limit(1)
)


@functools.cache
def _list_versions(sort: Order, descending: bool, paged: bool, bounds: tuple[str, ...]) -> Prepared:
    """The listing statement of one shape (sort, direction, first or later page, time bounds given):
    the versions of an image named by its tenant and name, found in the same statement."""
    columns = _VERSION_ORDERS[sort]
    after: tuple[sa.BindParameter[Any], ...] | None = (
        tuple(sa.bindparam(name) for name in _AFTER[: len(columns)]) if paged else None
    )
    order, after_condition = order_and_bound(columns, descending, after)
    when = TimeRange(**{name: sa.bindparam(name) for name in bounds})
    return Prepared(
        _VERSION_SUMMARY.where(
            *_NAMED_IMAGE_CONDITIONS,
            _visible(image_versions, _NOW, _GONE),
            *_time_range(image_versions, when),
            *after_condition,
        )
        .order_by(*order)
        .limit(sa.bindparam("limit"))
    )


class Queries:
    def __init__(self, conn: Connection, *, postgres: bool) -> None:
        self.conn = conn
        self.postgres = postgres

    def _insert(self, statement: sa.Insert, values: dict[str, Any] | None = None) -> None:
        # No savepoint: a refused insert ends the whole operation, whose transaction is rolled back.
        try:
            self.conn.execute(statement, values)
        except sa.exc.IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    # -- images -----------------------------------------------------------------------------------

    def image(
        self, account: str, region: str, name_key: str, now: float, gone: str, *, lock: bool = False
    ) -> Mapping[str, Any] | None:
        query = _IMAGE_FOR_UPDATE if lock and self.postgres else _IMAGE
        return query.first(self.conn, account=account, region=region, name_key=name_key, now=now, gone=gone)

    def purge_gone_image(self, account: str, region: str, name_key: str, now: float, gone: str) -> None:
        self.conn.execute(
            sa.delete(images).where(
                images.c.account == account,
                images.c.region == region,
                images.c.name_key == name_key,
                _gone(images, now, gone),
            )
        )

    def count_images(self, account: str, region: str, now: float, gone: str) -> int:
        """Images of a tenant, counted for its quota: the count stays true until this transaction ends.

        On PostgreSQL the count is taken under the tenant's transaction-scoped advisory lock, so two
        replicas creating different names cannot both see the last free slot (READ COMMITTED alone
        would let both insert). SQLite's ``BEGIN IMMEDIATE`` already serialises all writers.
        """
        if self.postgres:
            self.conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtextextended(f"{account}/{region}", 0)))
            )
        query = sa.select(sa.func.count()).where(
            images.c.account == account, images.c.region == region, _visible(images, now, gone)
        )
        return int(self.conn.execute(query).scalar_one())

    def insert_image(self, values: dict[str, Any]) -> int:
        try:
            return int(
                self.conn.execute(sa.insert(images).values(values).returning(images.c.id)).scalar_one()
            )
        except sa.exc.IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    def update_image(self, image_id: int, values: dict[str, Any]) -> None:
        self.conn.execute(sa.update(images).where(images.c.id == image_id).values(values))

    def delete_image(self, image_id: int) -> None:
        self.conn.execute(sa.delete(images).where(images.c.id == image_id))

    def take_version_number(
        self, account: str, region: str, name_key: str, client_token: str, now: float, gone: str
    ) -> Mapping[str, Any] | None:
        """The image named ``name_key`` with its next version number taken (its new
        ``version_counter``; ``last_created``: when its newest version was created), unless
        ``client_token`` was used for one of its versions already. None then, and when the image is
        missing: the caller looks which. The image row stays locked until the transaction ends.

        One statement on SQLite, which runs one write transaction at a time. PostgreSQL locks the
        image row first: a statement that waited for the lock would still see the moment before it.
        """
        if not self.postgres:
            return _TAKE_VERSION_NUMBER_BY_NAME.first(
                self.conn,
                image_account=account,
                image_region=region,
                image_name_key=name_key,
                now=now,
                gone=gone,
                client_token=client_token,
            )
        named = {"account": account, "region": region, "name_key": name_key, "now": now, "gone": gone}
        image = _IMAGE_FOR_UPDATE.first(self.conn, **named)
        if image is None:
            return None
        return _TAKE_VERSION_NUMBER_BY_ID.first(self.conn, image_id=image["id"], client_token=client_token)

    def try_exclusive_version_create(self, image_id: int) -> bool:
        """Whether no other open transaction (of any replica) is creating a version of this image.

        PostgreSQL: a transaction-scoped advisory lock, released by COMMIT or ROLLBACK, taken without
        waiting. SQLite runs one write transaction at a time, so there is never another one to see.
        """
        if not self.postgres:
            return True
        # The two-key form lives apart from one-key locks (start-up migrations use one).
        statement = sa.select(sa.func.pg_try_advisory_xact_lock(_VERSION_CREATE_LOCK, image_id % 2**31))
        return bool(self.conn.execute(statement).scalar_one())

    def list_images(
        self,
        account: str,
        region: str,
        now: float,
        gone: str,
        *,
        name_contains: str | None,
        when: TimeRange,
        keyset: Keyset,
    ) -> Page[Mapping[str, Any]]:
        order, after = order_and_bound(_IMAGE_ORDERS[keyset.sort], keyset.descending, keyset.after)
        query = sa.select(images).where(
            images.c.account == account,
            images.c.region == region,
            _visible(images, now, gone),
            *_time_range(images, when),
            *after,
        )
        if name_contains:
            query = query.where(images.c.name_key.contains(name_contains.lower(), autoescape=True))
        rows = _rows(self.conn.execute(query.order_by(*order).limit(keyset.limit)).mappings().all())
        return cut(rows, keyset, _IMAGE_POSITIONS[keyset.sort])

    # -- versions ---------------------------------------------------------------------------------

    def version(self, image_id: int, version: int, now: float, gone: str) -> Mapping[str, Any] | None:
        return _VERSION.first(self.conn, image_id=image_id, version=version, now=now, gone=gone)

    def latest_version(self, image_id: int, now: float, gone: str) -> Mapping[str, Any] | None:
        return _LATEST_VERSION.first(self.conn, image_id=image_id, now=now, gone=gone)

    def version_by_client_token(self, image_id: int, client_token: str) -> Mapping[str, Any] | None:
        return _VERSION_BY_CLIENT_TOKEN.first(self.conn, image_id=image_id, client_token=client_token)

    def count_versions(self, image_id: int, now: float, gone: str) -> int:
        query = sa.select(sa.func.count()).where(
            image_versions.c.image_id == image_id, _visible(image_versions, now, gone)
        )
        return self.conn.execute(query).scalar_one()

    def insert_version(self, values: dict[str, Any]) -> None:
        try:
            _INSERT_VERSION.execute(self.conn, **values)
        except sa.exc.IntegrityError as exc:
            raise Conflict(str(exc.orig)) from None

    def update_version(self, image_id: int, version: int, values: dict[str, Any]) -> None:
        self.conn.execute(
            sa.update(image_versions)
            .where(image_versions.c.image_id == image_id, image_versions.c.version == version)
            .values(values)
        )

    def delete_version(self, image_id: int, version: int) -> None:
        self.conn.execute(sa.delete(tags).where(tags.c.image_id == image_id, tags.c.version == version))
        self.conn.execute(
            sa.delete(image_versions).where(
                image_versions.c.image_id == image_id, image_versions.c.version == version
            )
        )

    def purge_gone_versions(self, image_id: int, now: float, gone: str) -> None:
        ended = _gone(image_versions, now, gone)
        ended_versions = sa.select(image_versions.c.version).where(
            image_versions.c.image_id == image_id, ended
        )
        self.conn.execute(
            sa.delete(tags).where(tags.c.image_id == image_id, tags.c.version.in_(ended_versions))
        )
        self.conn.execute(sa.delete(image_versions).where(image_versions.c.image_id == image_id, ended))

    def named_version(
        self, account: str, region: str, name_key: str, version: int | None, now: float, gone: str
    ) -> Mapping[str, Any] | None:
        """A version (None: the latest) of the image named ``name_key``, looked up with its image in
        one statement; the row carries ``image_name``. None when either is missing."""
        named = {"account": account, "region": region, "name_key": name_key, "now": now, "gone": gone}
        if version is None:
            return _NAMED_LATEST_VERSION.first(self.conn, **named)
        return _NAMED_VERSION.first(self.conn, version=version, **named)

    def list_versions(
        self,
        account: str,
        region: str,
        name_key: str,
        now: float,
        gone: str,
        *,
        when: TimeRange,
        keyset: Keyset,
    ) -> Page[Mapping[str, Any]]:
        """A page of the versions of the image named ``name_key``, found in the same statement: rows
        of a version's summary (its lifecycle columns) and ``image_name``; none if the image is missing."""
        bounds = {
            name: value
            for name, value in (
                ("created_after", when.created_after),
                ("created_before", when.created_before),
                ("modified_after", when.modified_after),
                ("modified_before", when.modified_before),
            )
            if value is not None
        }
        query = _list_versions(keyset.sort, keyset.descending, keyset.after is not None, tuple(bounds))
        values = {"account": account, "region": region, "name_key": name_key, "now": now, "gone": gone}
        values |= bounds
        values["limit"] = keyset.limit
        if keyset.after is not None:
            values.update(zip(_AFTER, keyset.after, strict=False))
        return cut(query.all(self.conn, **values), keyset, _VERSION_POSITIONS[keyset.sort])

    # -- aliases ----------------------------------------------------------------------------------

    def alias_version(self, image_id: int, alias: str) -> int | None:
        query = sa.select(image_aliases.c.version).where(
            image_aliases.c.image_id == image_id, image_aliases.c.alias == alias
        )
        return self.conn.execute(query).scalar_one_or_none()

    def aliases_taken(self, image_id: int, aliases: Iterable[str]) -> dict[str, int]:
        aliases = list(aliases)
        if not aliases:  # most CreateImageVersion calls name none: no statement to run
            return {}
        query = sa.select(image_aliases.c.alias, image_aliases.c.version).where(
            image_aliases.c.image_id == image_id, image_aliases.c.alias.in_(aliases)
        )
        return {row.alias: row.version for row in self.conn.execute(query)}

    def add_aliases(self, image_id: int, version: int, aliases: Iterable[str]) -> None:
        rows = [{"image_id": image_id, "alias": alias, "version": version} for alias in aliases]
        if rows:
            self._insert(sa.insert(image_aliases).values(rows))

    def delete_aliases(self, image_id: int, version: int, aliases: Iterable[str] | None = None) -> None:
        statement = sa.delete(image_aliases).where(
            image_aliases.c.image_id == image_id, image_aliases.c.version == version
        )
        if aliases is not None:
            statement = statement.where(image_aliases.c.alias.in_(list(aliases)))
        self.conn.execute(statement)

    def list_aliases(
        self, image_id: int, *, version: int | None, alias: str | None, keyset: Keyset
    ) -> Page[str]:
        """An image's aliases (of one version, or one alias), by name (``Sort.NAME``, ascending)."""
        order, after = order_and_bound([image_aliases.c.alias], False, keyset.after)
        query = sa.select(image_aliases.c.alias).where(image_aliases.c.image_id == image_id, *after)
        if version is not None:
            query = query.where(image_aliases.c.version == version)
        if alias is not None:
            query = query.where(image_aliases.c.alias == alias)
        aliases = list(self.conn.execute(query.order_by(*order).limit(keyset.limit)).scalars())
        return cut(aliases, keyset, lambda alias: (alias,))

    # -- tags -------------------------------------------------------------------------------------

    def tag_set(self, image_id: int, version: int = IMAGE_TAGS) -> TagSet:
        """The tags of an image (``IMAGE_TAGS``) or of one of its versions."""
        return TagSet(self.conn, tags, {"image_id": image_id, "version": version})
