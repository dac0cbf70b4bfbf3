"""Resolving a version's BaseImage to the immutable image it names, as SageMaker does while CREATING.

A resolution ends in one of three outcomes: ``Resolved`` (the digest-pinned ContainerImage),
``Failed`` (CREATE_FAILED with a FailureReason) or ``Unreachable`` (try again later; after the
configured number of attempts it becomes a failure too). Which registry answers is decided by the
BaseImage's registry host: the first ``--registry PATTERN=URL`` whose glob matches it, else the ECR
API for ECR URIs when ``--ecr-endpoint`` is set.

The FailureReason texts are modelled on the reasons SageMaker gives when it cannot use a container
image (sources in docs/registry.md): one place, so every path speaks alike.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sagemaker_images.images import references
from sagemaker_images.images.references import MalformedReference, Reference

MAX_REASON = 1024  # FailureReason's modelled length


@dataclass(frozen=True, slots=True)
class Resolved:
    container_image: str


@dataclass(frozen=True, slots=True)
class Failed:
    reason: str


@dataclass(frozen=True, slots=True)
class Unreachable:
    detail: str


Outcome = Resolved | Failed | Unreachable


class Registry(Protocol):
    """One way of asking for a manifest's digest: an OCI registry, or the ECR API."""

    def resolve(self, base_image: str, reference: Reference) -> Outcome: ...


# -- the reasons ---------------------------------------------------------------------------------


def reason(text: str) -> Failed:
    return Failed(text if len(text) <= MAX_REASON else text[: MAX_REASON - 3] + "...")


def repository_not_found(base_image: str, detail: str) -> Failed:
    return reason(f"The image '{base_image}' does not exist. {detail}")


def image_not_found(base_image: str, reference: Reference) -> Failed:
    by = f"digest {reference.digest}" if reference.digest else f"tag {reference.manifest}"
    return reason(
        f"The image '{base_image}' does not exist. Requested image not found: no manifest with "
        f"{by} in the repository with name '{reference.repository}'."
    )


def access_denied(base_image: str, detail: str) -> Failed:
    return reason(
        f"Cannot pull the image '{base_image}'. Either the image does not exist or its permissions "
        f"are incorrect. {detail}"
    )


def invalid_image(base_image: str, detail: str) -> Failed:
    return reason(
        f"Invalid BaseImage '{base_image}'. Please provide a valid Amazon Elastic Container Registry "
        f"path of the Docker image ({detail})."
    )


def unreachable(base_image: str, attempts: int, detail: str) -> Failed:
    return reason(
        f"Unable to pull the image '{base_image}': its registry could not be reached after "
        f"{attempts} attempts ({detail})."
    )


def role_not_found(role_arn: str) -> Failed:
    return reason(
        f"Could not assume role {role_arn}. Please ensure that the role exists and allows principal "
        "'sagemaker.amazonaws.com' to assume the role."
    )


# -- routing -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    pattern: str  # a glob over the registry host, e.g. *.dkr.ecr.*.amazonaws.com
    registry: Registry


class Resolver:
    """Chooses the registry for a BaseImage and asks it; the network work happens in ``resolve``."""

    def __init__(self, routes: Sequence[Route], ecr: Registry | None = None) -> None:
        self.routes = list(routes)
        self.ecr = ecr

    def applies(self, base_image: str) -> bool:
        """Whether a BaseImage is resolved at all (else it is taken on trust, as without resolution)."""
        if self.ecr is not None:
            return True  # an ECR URI is resolved; anything else fails as AWS fails it
        try:
            host = references.parse(base_image).host
        except MalformedReference:
            return bool(self.routes)
        return self._route(host) is not None

    def resolve(self, base_image: str) -> Outcome:
        try:
            reference = references.parse(base_image)
        except MalformedReference as error:
            return invalid_image(base_image, str(error))
        route = self._route(reference.host)
        if route is not None:
            return route.registry.resolve(base_image, reference)
        if self.ecr is not None:
            if references.ecr_location(reference.host) is None:
                return invalid_image(
                    base_image,
                    "expected <acct-id>.dkr.ecr.<region>.amazonaws.com/<repo-name[:tag] or [@digest]>",
                )
            return self.ecr.resolve(base_image, reference)
        return Resolved(base_image)

    def _route(self, host: str) -> Route | None:
        for route in self.routes:
            if fnmatch.fnmatchcase(host.lower(), route.pattern.lower()):
                return route
        return None


def parse_route(text: str) -> tuple[str, str]:
    """``PATTERN=URL`` of ``--registry``."""
    pattern, equals, url = text.partition("=")
    if not equals or not pattern or not url.startswith(("http://", "https://")):
        raise ValueError(f"--registry expects PATTERN=URL (URL starting http:// or https://), not '{text}'")
    return pattern, url.rstrip("/")
