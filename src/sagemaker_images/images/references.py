"""Container image references as every container tool reads them, and ECR URIs.

``[HOST[:PORT]/]REPOSITORY[:TAG][@DIGEST]`` (the distribution reference grammar): the first
component is a registry host only if it has a dot or a colon or is ``localhost``; otherwise the
image lives on Docker Hub (``docker.io``), in ``library/`` when the path has one component.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

DOCKER_HUB = "docker.io"
DEFAULT_TAG = "latest"

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_REPOSITORY = regex.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_TAG = regex.compile(r"[\w][\w.-]{0,127}")
_DIGEST = regex.compile(r"sha256:[a-f0-9]{64}")
_HOST = regex.compile(
    r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]+)?"
)
# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]
_ECR_HOST = regex.compile(r"([0-9]{12})\.dkr\.ecr(?:-fips)?\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?")


class MalformedReference(ValueError):
    """The text is not a container image reference."""


@dataclass(frozen=True, slots=True)
class Reference:
    host: str  # as written (``docker.io`` when none was)
    repository: str
    tag: str | None
    digest: str | None

    @property
    def manifest(self) -> str:
        """What the manifest is asked for by: the digest when one is given, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def pinned(self, digest: str) -> str:
        """The immutable name of what this reference resolved to."""
        return f"{self.host}/{self.repository}@{digest}"


@dataclass(frozen=True, slots=True)
class EcrLocation:
    account: str
    region: str


def parse(text: str) -> Reference:
    name, _, digest = text.partition("@")
    if digest and _DIGEST.fullmatch(digest) is None:
        raise MalformedReference(f"invalid digest '{digest}'")
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        if _HOST.fullmatch(first) is None:
            raise MalformedReference(f"invalid registry host '{first}'")
        host, path = first, rest
    else:
        host, path = DOCKER_HUB, name
    path, colon, tag = path.rpartition(":") if ":" in path else (path, "", "")
    if colon and _TAG.fullmatch(tag) is None:
        raise MalformedReference(f"invalid tag '{tag}'")
    if _REPOSITORY.fullmatch(path) is None:
        raise MalformedReference(f"invalid repository name '{path}'")
    if host == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if len(path) > 255:
        raise MalformedReference("repository name longer than 255 characters")
    return Reference(host, path, tag or None, digest or None)


def ecr_location(host: str) -> EcrLocation | None:
    """The account and region an ECR registry host names; None for any other host."""
    match = _ECR_HOST.fullmatch(host)
    return EcrLocation(match.group(1), match.group(2)) if match else None
