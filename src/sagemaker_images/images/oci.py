"""Asking an OCI registry for a manifest's digest (the OCI Distribution API), over urllib3.

``GET /v2/<repository>/manifests/<tag or digest>`` with the Accept types of the OCI image index and
manifest and Docker's manifest list and manifest: a registry answers 404 for an OCI manifest unless
OCI types are accepted. The digest is the registry's ``Docker-Content-Digest`` (for an index or list,
the index's own digest), else the SHA-256 of the body, which is what that header reports.

Authentication as container tools do it: try anonymously; on a ``401`` answer the challenge —
``Basic`` with the Docker config's credentials, or ``Bearer`` by fetching a token for
``repository:<name>:pull`` from the challenge's realm (with those credentials when there are any).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import regex
import urllib3

from sagemaker_images.images import resolution
from sagemaker_images.images.references import Reference
from sagemaker_images.images.resolution import Outcome, Resolved, Unreachable

MANIFEST_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
_ACCEPT = ", ".join(MANIFEST_TYPES)
_CHALLENGE_PARAM = regex.compile(r'(\w+)="([^"]*)"')
# Answers that say "not now" rather than "no": worth another attempt.
_TRANSIENT = frozenset({408, 429, 500, 502, 503, 504})


class DockerCredentials:
    """``auths`` of the Docker config file (``$DOCKER_CONFIG/config.json``, else ``~/.docker/config.json``).

    Read at every lookup, so a ``docker login`` meanwhile counts without a restart.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path

    def _file(self) -> Path:
        if self.path is not None:
            return self.path
        directory = os.environ.get("DOCKER_CONFIG")
        return Path(directory) / "config.json" if directory else Path.home() / ".docker" / "config.json"

    def for_hosts(self, *hosts: str) -> tuple[str, str] | None:
        """(user, password) of the first host with an entry; entries may be keyed by host or URL."""
        try:
            auths = json.loads(self._file().read_text()).get("auths", {})
        except (OSError, ValueError, AttributeError):
            return None
        entries = {_host_of(key): value for key, value in auths.items() if isinstance(value, dict)}
        for host in hosts:
            entry = entries.get(host.lower())
            if entry is None:
                continue
            if entry.get("auth"):
                try:
                    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
                except (ValueError, UnicodeDecodeError):
                    continue
                return user, password
            if entry.get("username"):
                return entry["username"], entry.get("password", "")
        return None


def _host_of(key: str) -> str:
    """``https://host:5000/v1/`` and ``host:5000`` name the same registry."""
    return (urlsplit(key).netloc if "://" in key else key.split("/", 1)[0]).lower()


class OciRegistry:
    def __init__(self, url: str, timeout: float, credentials: DockerCredentials | None = None) -> None:
        self.url = url.rstrip("/")
        self.credentials = credentials or DockerCredentials()
        self.http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=timeout, read=timeout), retries=False, maxsize=4
        )

    def resolve(self, base_image: str, reference: Reference) -> Outcome:
        try:
            return self._resolve(base_image, reference)
        except urllib3.exceptions.HTTPError as error:
            return Unreachable(f"{self.url}: {_describe(error)}")

    def _resolve(self, base_image: str, reference: Reference) -> Outcome:
        path = f"{self.url}/v2/{reference.repository}/manifests/{reference.manifest}"
        headers = {"Accept": _ACCEPT}
        answer = self._get(path, headers)
        if answer.status == 401:
            authorization = self._authorize(answer, base_image, reference)
            if isinstance(authorization, resolution.Failed | Unreachable):
                return authorization
            if authorization is None:
                return resolution.access_denied(
                    base_image, "The registry asks for credentials and none are configured."
                )
            headers["Authorization"] = authorization
            answer = self._get(path, headers)
        status = answer.status
        if status == 200:
            digest = answer.headers.get("Docker-Content-Digest") or _sha256(answer.data)
            if reference.digest and digest != reference.digest:
                return resolution.invalid_image(base_image, f"the registry answered the digest {digest}")
            return Resolved(reference.pinned(digest))
        if status in (401, 403):
            return resolution.access_denied(
                base_image, f"The registry refused access ({_error_text(answer)})."
            )
        if status == 404:
            if _error_code(answer) == "NAME_UNKNOWN" or self._repository_unknown(reference, headers):
                return resolution.repository_not_found(
                    base_image,
                    f"The repository with name '{reference.repository}' does not exist in the registry "
                    f"{reference.host}.",
                )
            return resolution.image_not_found(base_image, reference)
        if status in _TRANSIENT:
            return Unreachable(f"{self.url} answered HTTP {status}")
        if status == 400:
            return resolution.invalid_image(base_image, _error_text(answer))
        return resolution.access_denied(
            base_image, f"The registry answered HTTP {status} ({_error_text(answer)})."
        )

    def _repository_unknown(self, reference: Reference, headers: dict[str, str]) -> bool:
        """Whether a missing manifest's repository is missing too: registries (CNCF distribution)
        answer MANIFEST_UNKNOWN either way, while the tag list says NAME_UNKNOWN for no repository."""
        answer = self._get(f"{self.url}/v2/{reference.repository}/tags/list?n=1", headers)
        return answer.status == 404 and _error_code(answer) == "NAME_UNKNOWN"

    def _get(self, url: str, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        return self.http.request("GET", url, headers=headers, redirect=True)

    def _authorize(
        self, answer: urllib3.BaseHTTPResponse, base_image: str, reference: Reference
    ) -> str | resolution.Failed | Unreachable | None:
        """The Authorization header that answers a 401's challenge; None when there are no credentials."""
        challenge = answer.headers.get("WWW-Authenticate", "")
        scheme, _, rest = challenge.partition(" ")
        params = dict(_CHALLENGE_PARAM.findall(rest))
        credentials = self.credentials.for_hosts(reference.host, urlsplit(self.url).netloc)
        if scheme.lower() == "basic":
            return _basic(credentials) if credentials else None
        if scheme.lower() != "bearer" or "realm" not in params:
            return resolution.access_denied(
                base_image, f"Unsupported authentication challenge '{challenge}'."
            )
        query = {"scope": f"repository:{reference.repository}:pull"}
        if "service" in params:
            query["service"] = params["service"]
        headers = {"Authorization": _basic(credentials)} if credentials else {}
        token_answer = self._get(f"{params['realm']}?{urlencode(query)}", headers)
        if token_answer.status in (401, 403):
            if credentials is None:
                return None  # anonymous access refused: credentials are needed
            return resolution.access_denied(
                base_image, f"The token service refused the credentials ({_error_text(token_answer)})."
            )
        if token_answer.status in _TRANSIENT:
            return Unreachable(f"{params['realm']} answered HTTP {token_answer.status}")
        try:
            body = json.loads(token_answer.data)
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if token_answer.status != 200 or not token:
            return resolution.access_denied(
                base_image, f"The token service answered HTTP {token_answer.status} without a token."
            )
        return f"Bearer {token}"


def _basic(credentials: tuple[str, str]) -> str:
    return "Basic " + base64.b64encode(f"{credentials[0]}:{credentials[1]}".encode()).decode()


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _errors(answer: urllib3.BaseHTTPResponse) -> list[dict[str, Any]]:
    try:
        errors = json.loads(answer.data).get("errors", [])
    except (ValueError, AttributeError):
        return []
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def _error_code(answer: urllib3.BaseHTTPResponse) -> str | None:
    errors = _errors(answer)
    return errors[0].get("code") if errors else None


def _error_text(answer: urllib3.BaseHTTPResponse) -> str:
    errors = _errors(answer)
    if errors:
        return "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    return f"HTTP {answer.status}"


def _describe(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    return str(reason or error)
