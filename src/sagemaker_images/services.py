"""The AWS APIs this server answers, wired to the domain and the store from the settings.

This is the one place that knows every layer: it compiles each API's botocore model, builds the
domain objects over the database, and hands ``server.py`` a handler per operation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import regex

from sagemaker_images import tagging
from sagemaker_images.access import Need
from sagemaker_images.app_image_configs import registry as app_image_configs
from sagemaker_images.clock import Clock
from sagemaker_images.cloudcontrol import service as cloudcontrol_service
from sagemaker_images.cloudcontrol.service import CloudControl
from sagemaker_images.config import Settings
from sagemaker_images.faults import Faults
from sagemaker_images.images import permissions as sagemaker_permissions
from sagemaker_images.images import registry as images
from sagemaker_images.images.aws import EcrRegistry, RoleCheck, botocore_clients
from sagemaker_images.images.checks import BackgroundChecks, CheckOptions
from sagemaker_images.images.lifecycle import LifecyclePolicy
from sagemaker_images.images.oci import OciRegistry
from sagemaker_images.images.registry import ImageRegistry, RegistryOptions
from sagemaker_images.images.resolution import Resolver, Route, parse_route
from sagemaker_images.page_tokens import PageTokens
from sagemaker_images.protocol.authentication import SigV4Authenticator
from sagemaker_images.protocol.credentials import load_credentials
from sagemaker_images.shapes import load_api
from sagemaker_images.shapes.model import Api
from sagemaker_images.store import Database
from sagemaker_images.store.secrets import shared_secret

# Operations that only read (of either API). On SQLite they are answered on the event loop: a read
# takes SQLite tens of microseconds and never waits for a writer (WAL), while handing it to a pool
# thread and back cost more CPU than the read itself (GIL hand-overs; see docs/performance.md).
# Writes, which wait for an fsync, and every PostgreSQL call, a network round trip, use the pool.
# Each domain declares which of its operations only read (``@operation(..., reads=True)``).
READ_OPERATIONS = (
    images.READ_OPERATIONS
    | tagging.READ_OPERATIONS
    | app_image_configs.READ_OPERATIONS
    # Cloud Control
    | cloudcontrol_service.READ_OPERATIONS
)


# Every SageMaker operation served: the image registry's, the tag operations on any taggable ARN,
# and the AppImageConfigs'.
# The name of the key sealing pagination tokens, in the database's shared secrets.
PAGE_TOKEN_SECRET = "page-tokens"
SAGEMAKER_OPERATIONS = images.OPERATIONS + tagging.OPERATIONS + app_image_configs.OPERATIONS


class Background(Protocol):
    """Work a service does besides answering requests, started and stopped with the application."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


def _no_needs(operation: str, request: dict[str, Any]) -> list[Need]:
    return []


@dataclass(frozen=True, slots=True)
class Service:
    """One AWS API served on the endpoint: its compiled model, a handler per operation, and what its
    requests need from the caller's permissions (``iam_prefix:<Operation>``, then ``needs`` of the
    validated request)."""

    name: str
    api: Api
    handlers: dict[str, Any]
    iam_prefix: str
    needs: Callable[[str, dict[str, Any]], list[Need]] = _no_needs
    background: tuple[Background, ...] = ()
    # For APIs this server serves in part (Cloud Control: some resource types): whether a call of an
    # implemented operation, with these parameters, is for this server. None: every call is.
    serves: Callable[[str, dict[str, Any]], bool] | None = None

    def action(self, operation: str) -> str:
        return f"{self.iam_prefix}:{operation}"


def serves(services: dict[str, Service], target: str | None, body: bytes) -> bool:
    """Whether this server answers a request with this X-Amz-Target and body, or another one should.

    The in-process mock leaves other requests to whoever answers them without it (moto, AWS);
    ``serve --upstream`` forwards them.
    """
    if not target or "." not in target:
        return False
    prefix, _, operation = target.rpartition(".")
    service = services.get(prefix)
    if service is None or operation not in service.handlers:
        return False
    if service.serves is None:
        return True
    try:
        params = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        return True  # ours to refuse, as the server always has
    return service.serves(operation, params) if isinstance(params, dict) else True


def build_services(
    settings: Settings, database: Database, clock: Clock | None = None, faults: Faults | None = None
) -> dict[str, Service]:
    """The served APIs by X-Amz-Target prefix, all reading one ``clock`` and one set of ``faults``."""
    clock = clock or Clock()
    policy = LifecyclePolicy(
        delay=settings.transition_delay,
        fail_images=regex.compile(settings.fail_images) if settings.fail_images else None,
        fail_base_images=regex.compile(settings.fail_base_images) if settings.fail_base_images else None,
        archive_after=settings.archive_after,
    )
    options = RegistryOptions(
        max_images=settings.max_images or None,
        max_versions_per_image=settings.max_versions_per_image or None,
        reject_concurrent_version_creates=settings.reject_concurrent_version_creates,
    )
    checks = build_checks(settings, database, policy, clock)
    # One key seals the NextTokens of both APIs; every replica on the database reads the same one.
    tokens = PageTokens(shared_secret(database, PAGE_TOKEN_SECRET))
    registry = ImageRegistry(
        database,
        policy,
        options,
        clock=clock.millis,
        checks=checks if checks.active else None,
        tokens=tokens,
        faults=faults,
    )
    configs = app_image_configs.AppImageConfigRegistry(database, clock=clock.millis, tokens=tokens)
    finders = {kind: registry.tags_of for kind in images.TAGGED}
    finders |= {kind: configs.tags_of for kind in app_image_configs.TAGGED}
    tags = tagging.Tagging(database, finders, clock=clock.millis, tokens=tokens)
    sagemaker_api = load_api("sagemaker", SAGEMAKER_OPERATIONS)
    # Each SageMaker operation is one transaction: run again if PostgreSQL rolls it back as a conflict.
    operations = registry.operations() | tags.operations() | configs.operations()
    sagemaker = {name: database.retrying(operation) for name, operation in operations.items()}
    # Cloud Control's handlers call the same SageMaker operations, over the same store.
    cloudcontrol = CloudControl(sagemaker, database, sagemaker_api, tokens, clock)
    services = [
        Service(
            "SageMaker",
            sagemaker_api,
            sagemaker,
            iam_prefix=sagemaker_permissions.IAM_PREFIX,
            needs=sagemaker_permissions.needs,
            # BaseImage resolution and role checks: their worker (none when neither is configured
            # and nothing is left pending).
            background=(checks,),
        ),
        Service(
            "CloudControl",
            load_api("cloudcontrol", cloudcontrol_service.OPERATIONS),
            cloudcontrol.operations(),
            iam_prefix=cloudcontrol_service.IAM_PREFIX,
            needs=cloudcontrol.needs,
            # The request worker: started and stopped by the application's lifespan.
            background=(cloudcontrol.tracker,),
            serves=cloudcontrol.serves,
        ),
    ]
    return {service.api.target_prefix: service for service in services}


def build_checks(
    settings: Settings, database: Database, policy: LifecyclePolicy, clock: Clock | None = None
) -> BackgroundChecks:
    """BaseImage resolution and the role check, when configured (their worker is started and stopped
    by the application's lifespan). When neither is configured, whatever an earlier run left pending
    is settled as written when the application starts."""
    routes = []
    for text in settings.registry:
        pattern, url = parse_route(text)
        routes.append(Route(pattern, OciRegistry(url, settings.registry_timeout)))
    ecr = None
    if settings.ecr_endpoint:
        ecr = EcrRegistry(botocore_clients(settings.ecr_endpoint, settings.registry_timeout))
    roles = None
    if settings.iam_endpoint:
        roles = RoleCheck(botocore_clients(settings.iam_endpoint, settings.registry_timeout))
    resolver = Resolver(routes, ecr) if routes or ecr else None
    options = CheckOptions(attempts=max(1, settings.registry_attempts), timeout=settings.registry_timeout)
    checks = BackgroundChecks(database, policy, resolver, roles, options, clock=clock or Clock())
    return checks


def build_authenticator(settings: Settings) -> SigV4Authenticator | None:
    """``--auth sigv4``: verify every signature against the credentials file; else accept any."""
    if settings.auth in ("", "none"):
        return None
    if settings.auth != "sigv4":
        raise ValueError(f"unknown authentication mode {settings.auth!r} (expected none or sigv4)")
    if not settings.credentials:
        raise ValueError("--auth sigv4 needs --credentials FILE")
    return SigV4Authenticator(load_credentials(settings.credentials))
