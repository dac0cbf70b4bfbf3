"""Resource handlers: one class per resource type, calling the images domain as AWS's handlers call
the SageMaker API (create → stabilize → read; update → stabilize → tags → read; delete → stabilize).

Each operation is a small state machine: a table from ``Phase`` to a step that either moves to the
next phase or ends this turn with a ``Progress`` (wait, or done). ``Handler.step`` runs the table
from the phase the request is in, saves every phase change (``Context.checkpoint``), so a turn cut
short by a crash is taken up again from its last phase by any server process sharing the database,
and refuses a phase its operation does not have instead of guessing.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from sagemaker_images.access import Need, pass_role
from sagemaker_images.cloudcontrol.errors import (
    HandlerFailure,
    general,
    invalid_request,
    not_found,
    not_stabilized,
)
from sagemaker_images.cloudcontrol.schema import ResourceSchema, model_validation_failed, parse_json_object
from sagemaker_images.errors import SerializationException, ValidationException
from sagemaker_images.images import lifecycle
from sagemaker_images.images.errors import ResourceNotFound
from sagemaker_images.shapes.model import Api
from sagemaker_images.tenancy import Tenant

Model = dict[str, Any]

# How soon a request that waits on a status transition looks again.
POLL_SECONDS = 0.5


class Operation(enum.StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"


class Phase(enum.StrEnum):
    """Where a request's handler is; stored in the request's ``handler_state``."""

    START = "start"  # nothing done yet
    CREATE = "create"  # pre-checks passed: the create call is next (or was made just before a crash)
    STABILIZE = "stabilize"  # waiting for the SageMaker status to settle
    TAGS = "tags"  # bringing the tags in line with the desired state
    READ = "read"  # reading the result back


class UnknownPhase(Exception):
    """A stored phase this operation does not have: a bug or a foreign row, never a guess."""


@dataclass
class Context:
    """What a handler step knows about its request; ``state`` is saved between steps."""

    tenant: Tenant
    request_token: str
    operation: Operation
    identifier: str | None
    desired: Model | None
    previous: Model | None
    state: dict[str, Any]
    checkpoint: Callable[[], None] = lambda: None
    resumed: Phase | None = None  # the phase this turn started in, when a previous turn left it there

    @property
    def phase(self) -> Phase:
        value = self.state.get("phase", Phase.START)
        try:
            return Phase(value)
        except ValueError:
            raise UnknownPhase(f"unknown phase {value}") from None

    def enter(self, phase: Phase) -> None:
        self.state["phase"] = phase.value
        self.checkpoint()


@dataclass(frozen=True)
class Progress:
    """IN_PROGRESS (look again in ``delay`` seconds) or SUCCESS (with the model read back, if any).

    The tracker turns the delay into a time with its own clock."""

    done: bool
    model: Model | None = None
    delay: float = 0.0

    @classmethod
    def wait(cls, delay: float = POLL_SECONDS) -> Progress:
        return cls(done=False, delay=delay)

    @classmethod
    def success(cls, model: Model | None = None) -> Progress:
        return cls(done=True, model=model)


# A step either names the next phase or ends the turn.
Step = Callable[[Context], "Phase | Progress"]


@dataclass(frozen=True)
class Transition:
    """How a SageMaker status settles after a call, and what AWS's handler says when it does not."""

    pending: str  # CREATING, UPDATING, DELETING: look again later
    settled: str | None  # the status that ends it; None: ends when the resource is gone
    failed: str  # *_FAILED
    on_failed: Callable[[str, str], HandlerFailure]  # (type name, identifier)
    on_unexpected: Callable[[str, str], HandlerFailure]  # (identifier, status)


def _unexpected(identifier: str, status: str) -> HandlerFailure:
    return general(f"Stabilizing of {identifier} failed with an unexpected status {status}")


# The SageMaker statuses are the images domain's (``images/lifecycle.py``).
CREATING = Transition(
    lifecycle.CREATING,
    lifecycle.CREATED,
    lifecycle.CREATE_FAILED,
    lambda type_name, identifier: general(f"{type_name} [{identifier}] failed to create."),
    _unexpected,
)
UPDATING = Transition(
    lifecycle.UPDATING, lifecycle.CREATED, lifecycle.UPDATE_FAILED, not_stabilized, _unexpected
)
DELETING = Transition(
    lifecycle.DELETING,
    None,
    lifecycle.DELETE_FAILED,
    not_stabilized,
    lambda identifier, status: general(
        f"Unexpected status: [{status}] while stabilizing delete for resource: [{identifier}]"
    ),
)


_ABSENT = object()


def _tag_map(tags: Any) -> dict[Any, Any]:
    """Tags by key; an entry that is not a tag counts as one of its own (added, never matching)."""
    if not isinstance(tags, list):
        return {} if tags is None else {_ABSENT: tags}
    mapped: dict[Any, Any] = {}
    for index, tag in enumerate(tags):
        if isinstance(tag, dict) and isinstance(tag.get("Key"), str):
            mapped[tag["Key"]] = tag.get("Value")
        else:
            mapped[(_ABSENT, index)] = tag
    return mapped


@dataclass(frozen=True)
class Listing:
    models: list[Model]
    next_token: str | None = None


class SageMaker:
    """The SageMaker API as a handler sees it: each call validated against the botocore model."""

    def __init__(
        self, operations: dict[str, Callable[[Tenant, dict[str, Any]], dict[str, Any]]], api: Api
    ) -> None:
        self._operations = operations
        self._api = api

    def __call__(self, tenant: Tenant, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        validated = self._api.operations[operation].validate(request)
        return self._operations[operation](tenant, validated)

    def describe(self, tenant: Tenant, operation: str, request: dict[str, Any]) -> dict[str, Any]:
        """A Describe* call where a name or number the model refuses names nothing: ResourceNotFound
        (a schema pattern lets through what SageMaker's does not, e.g. a name ending in a newline)."""
        try:
            return self(tenant, operation, request)
        except (ValidationException, SerializationException) as exc:
            raise ResourceNotFound(exc.message) from None


@dataclass
class Handler:
    """The contract of a resource type; subclasses implement create/update/delete/read/list."""

    schema: ResourceSchema
    sagemaker: SageMaker
    type_name: str = field(init=False)
    # The actions that add and that remove tags, for a type whose schema has a tag property.
    tag_actions: ClassVar[tuple[str, str] | None] = None

    def __post_init__(self) -> None:
        self.type_name = self.schema.type_name

    # -- identifiers ------------------------------------------------------------------------------

    def resolve(self, tenant: Tenant, identifier: str) -> dict[str, Any]:
        """The resource an Identifier names: the primary identifier as a plain string, or a JSON
        object of the primary identifier or of an additional identifier.

        An identifier that could not name a resource of this type (a malformed name, an ARN of
        another kind, a number no version can have) names none: NotFound, as AWS answers.
        """
        key = self._resolve(tenant, identifier)
        if not all(self.schema.accepts(name, value) for name, value in key.items()):
            raise not_found(self.type_name, identifier)
        return key

    def _resolve(self, tenant: Tenant, identifier: str) -> dict[str, Any]:
        if identifier.lstrip().startswith("{"):
            given = parse_json_object(identifier)
            if given is None:
                raise invalid_request(f"Identifier {identifier} is not valid JSON.")
            names = set(given)
            if names == set(self.schema.primary_identifier):
                return self.resolve_primary(tenant, str(given[self.schema.primary_identifier[0]]), identifier)
            for group in self.schema.additional_identifiers:
                if names == set(group) and all(isinstance(v, str) for v in given.values()):
                    return self.resolve_additional(tenant, given, identifier)
            raise invalid_request(
                f"Identifier {identifier} does not match the primary identifier or an additional "
                f"identifier of {self.type_name}."
            )
        return self.resolve_primary(tenant, identifier, identifier)

    def resolve_primary(self, tenant: Tenant, value: str, shown: str) -> dict[str, Any]:
        raise NotImplementedError

    def resolve_additional(self, tenant: Tenant, given: dict[str, Any], shown: str) -> dict[str, Any]:
        raise NotImplementedError

    def primary(self, tenant: Tenant, key: dict[str, Any]) -> str:
        raise NotImplementedError

    def created_key(self, desired: Model) -> dict[str, Any] | None:
        """The key of the resource a create will make, when the desired state alone decides it."""
        return None

    def active_key(self, key: dict[str, Any]) -> str:
        """A name for the resource, case-folded as its ARN is, for one-request-at-a-time."""
        return "|".join([self.type_name, *(str(v).lower() for v in key.values())])

    # -- permissions ------------------------------------------------------------------------------

    def needs(self, desired: Model, current: Model | None = None) -> list[Need]:
        """What the caller must be allowed for the resource to end up as ``desired`` (from ``current``,
        or from nothing): ``iam:PassRole`` on every role it holds, wherever the schema puts roles, and
        the tag actions for the tags it adds or removes."""
        needs = [pass_role(role) for role in self.schema.roles(desired)]
        tags = self.schema.tag_property
        if tags is not None and self.tag_actions is not None:
            add, remove = self.tag_actions
            before, after = _tag_map((current or {}).get(tags)), _tag_map(desired.get(tags))
            if any(before.get(key, _ABSENT) != value for key, value in after.items()):
                needs.append(Need(add))
            if any(key not in after for key in before):
                needs.append(Need(remove))
        return needs

    # -- handlers ---------------------------------------------------------------------------------

    def step(self, ctx: Context) -> Progress:
        """One turn of the request's state machine, from the phase it is in."""
        steps = self.steps(ctx.operation)
        for _ in range(len(steps) + 1):
            phase = ctx.phase
            run = steps.get(phase)
            if run is None:
                raise UnknownPhase(f"{ctx.operation} has no phase {phase.value}")
            outcome = run(ctx)
            if isinstance(outcome, Progress):
                return outcome
            ctx.enter(outcome)
        raise UnknownPhase(f"{ctx.operation} went round its phases without ending a turn")

    def steps(self, operation: Operation) -> Mapping[Phase, Step]:
        raise NotImplementedError

    def settle(self, status: str | None, transition: Transition, *, name: str, shown: str) -> Progress | None:
        """None once ``status`` has settled as ``transition`` wants (None: the resource is gone), a
        wait while it is pending; the handler's failure otherwise (``name`` and ``shown`` are the
        identifiers AWS's handler puts in its failure and its unexpected-status messages)."""
        if status is None:
            if transition.settled is None:
                return None
            raise not_found(self.type_name, name)
        if status == transition.pending:
            return Progress.wait()
        if status == transition.settled:
            return None
        if status == transition.failed:
            raise transition.on_failed(self.type_name, name)
        raise transition.on_unexpected(shown, status)

    def tags(self, tenant: Tenant, arn: str) -> dict[str, str]:
        """The resource's tags as AWS's handlers read them: every page of ListTags, in order."""
        tags: dict[str, str] = {}
        request: dict[str, Any] = {"ResourceArn": arn, "MaxResults": 100}
        while True:
            page = self.sagemaker(tenant, "ListTags", request)
            tags.update((t["Key"], t["Value"]) for t in page["Tags"])
            if not page.get("NextToken"):
                return tags
            request["NextToken"] = page["NextToken"]

    def tag_property(self, tenant: Tenant, arn: str) -> list[dict[str, str]]:
        """The resource's tags as the model's ``Tags`` list (empty when it has none)."""
        return [{"Key": k, "Value": v} for k, v in self.tags(tenant, arn).items()]

    def list_page(
        self,
        tenant: Tenant,
        operation: str,
        request: dict[str, Any],
        next_token: str | None,
        *,
        items: str,
        identifier: str,
    ) -> Listing:
        """One page of a SageMaker List* call, as models that carry the identifier of each item.

        AWS's list handlers call List* without MaxResults: SageMaker's default page size.
        """
        if next_token:
            request = {**request, "NextToken": next_token}
        try:
            page = self.sagemaker(tenant, operation, request)
        except ValidationException as exc:
            raise invalid_request(exc.message) from None
        return Listing([{identifier: item[identifier]} for item in page[items]], page.get("NextToken"))

    def sync_tags(self, tenant: Tenant, arn: str, desired: Model) -> None:
        """As AWS's update handlers: remove the tags that went away, then add the new or changed ones.

        Tags then read back in the desired order: clients patch them by index (Terraform's awscc
        provider sends ``/Tags/1/Key``) against the order they last saw, which newer awscc builds take
        from their own configuration. Tags list in the order they were added and a changed value keeps
        its place, so the kept tags that stand out of the desired order are removed and added again
        with the new ones, in order.
        """
        wanted = {t["Key"]: t["Value"] for t in desired.get("Tags", ())}
        try:
            existing = self.tags(tenant, arn)
            kept = [k for k in existing if k in wanted]
            in_place = next(
                (i for i, (a, b) in enumerate(zip(kept, wanted, strict=False)) if a != b), len(kept)
            )
            moved = list(wanted)[in_place:]
            to_add = {k: v for k, v in wanted.items() if existing.get(k) != v or k in moved}
            to_remove = [k for k in existing if k not in wanted or k in moved]
            if to_remove:
                self.sagemaker(tenant, "DeleteTags", {"ResourceArn": arn, "TagKeys": to_remove})
            if to_add:
                tags = [{"Key": k, "Value": v} for k, v in to_add.items()]
                self.sagemaker(tenant, "AddTags", {"ResourceArn": arn, "Tags": tags})
        except ResourceNotFound:
            raise not_found(self.type_name, arn) from None
        except ValidationException as exc:
            raise invalid_request(exc.message) from None

    def validate_desired(self, desired: Model) -> None:
        """What CloudFormation checks before the create handler runs: the model against the schema."""
        violations = self.schema.violations(desired)
        if violations:
            raise HandlerFailure("InvalidRequest", model_validation_failed(violations))

    def refuse_read_only(self, desired: Model, order: tuple[str, ...]) -> None:
        """AWS's create handlers refuse read-only properties the caller set, in their own words."""
        given = [name for name in order if desired.get(name) is not None]
        if given:
            raise invalid_request(f"The following ReadOnly properties were set: [{','.join(given)}]")

    def read(self, tenant: Tenant, key: dict[str, Any], shown: str) -> Model:
        raise NotImplementedError

    def list(self, tenant: Tenant, resource_model: Model, next_token: str | None) -> Listing:
        raise NotImplementedError
