"""The web console at ``/console``: a page shell, its static assets, sign-in, and the console's API door.

The page is one HTML shell and a small script (``static/``, shipped in the package: no build step, no
CDN). The script calls the SageMaker API through ``POST /console/api`` with the same X-Amz-Target and
JSON bodies as any SDK; this module only turns the console session into the caller an SDK's
signature would have produced (``Caller`` with ``--auth sigv4``, an account and region otherwise).
Everything after that — routing, authorization, validation, the operation, its errors — is the
server's one path for every API call, so the console can do nothing the API would refuse.

Every response carries a strict Content-Security-Policy (scripts and styles from this origin only,
no inline code), and every state-changing request needs the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import html
import re
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson

from sagemaker_images import __version__
from sagemaker_images.console.session import SessionKeys, cookie_from, cookie_header
from sagemaker_images.errors import ServiceError, ValidationException
from sagemaker_images.protocol import sigv4, wire
from sagemaker_images.protocol.asgi import Request, Response, Scope
from sagemaker_images.protocol.authentication import Caller, SigV4Authenticator
from sagemaker_images.protocol.identity import DEFAULT_REGION, is_region_name
from sagemaker_images.tenancy import Tenant

API_PATH = "/console/api"
# The console manages images; it calls no other API.
SAGEMAKER_PREFIX = "SageMaker"
SAGEMAKER_SIGNING_NAME = "sagemaker"

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    b"content-security-policy": CONTENT_SECURITY_POLICY.encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"no-referrer",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
}
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")
_CONTENT_TYPES = {
    ".js": b"text/javascript; charset=utf-8",
    ".css": b"text/css; charset=utf-8",
    ".svg": b"image/svg+xml",
}


class NotSignedIn(ServiceError):
    code = "NotSignedIn"
    status = 401


class InvalidCsrfToken(ServiceError):
    code = "InvalidCsrfToken"
    status = 403


@dataclass(frozen=True, slots=True)
class Asset:
    body: bytes
    gzipped: bytes
    content_type: bytes
    version: str


def _load_assets() -> dict[str, Asset]:
    assets = {}
    for entry in resources.files("sagemaker_images.console").joinpath("static").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if suffix not in _CONTENT_TYPES:
            continue
        body = entry.read_bytes()
        version = hashlib.sha256(body).hexdigest()[:12]
        assets[entry.name] = Asset(body, gzip.compress(body, mtime=0), _CONTENT_TYPES[suffix], version)
    return assets


class Console:
    def __init__(
        self, authenticator: SigV4Authenticator | None, default_account: str, console_secret: str
    ) -> None:
        self.authenticator = authenticator
        self.default_account = default_account
        # Without a configured secret, sessions last as long as the process.
        self.keys = SessionKeys(console_secret or secrets.token_urlsafe(32))
        self.assets = _load_assets()
        template = resources.files("sagemaker_images.console").joinpath("shell.html").read_text()
        for name, asset in self.assets.items():
            template = template.replace(f"{{{{asset:{name}}}}}", f"/console/static/{name}?v={asset.version}")
        self.shell = template

    # -- The API door ------------------------------------------------------------------------------

    def caller(self, headers: dict[str, str], target: wire.Target) -> tuple[Caller | None, Tenant]:
        """Who the console's API call acts as; raises unless the session and its CSRF token hold."""
        if target.prefix != SAGEMAKER_PREFIX:
            raise wire.UnknownOperationException(f"Unknown service target {target.prefix!r}.")
        session, key_secret = self._session(headers)
        if session is None:
            raise NotSignedIn("Sign in to the console again: the session is missing or has expired.")
        _check_request_origin(headers)
        if not self.keys.check_csrf(session, key_secret, headers.get("x-csrf-token", "")):
            raise InvalidCsrfToken("The console's CSRF token is missing or does not match the session.")
        region = headers.get("x-console-region") or DEFAULT_REGION
        if not is_region_name(region):
            raise ValidationException(f"'{region}' is not a valid region name.")
        region = region.lower()
        if self.authenticator is None:
            account = headers.get("x-console-account") or self.default_account
            if not (len(account) == 12 and account.isdigit()):
                raise ValidationException(f"'{account}' is not a 12-digit AWS account ID.")
            return None, Tenant(account, region)
        if not session.access_key:
            raise NotSignedIn("Sign in to the console with an access key first.")
        principal = self.authenticator.principals[session.access_key]
        today = dt.datetime.now(dt.UTC).strftime("%Y%m%d")
        # What a signature by this key, scoped to the chosen region, would have proven.
        credential = sigv4.Credential(
            principal.access_key, today, region, SAGEMAKER_SIGNING_NAME, "aws4_request", (), ""
        )
        caller = Caller(principal, credential)
        return caller, caller.tenant

    # -- Pages, assets, sign-in ----------------------------------------------------------------------

    async def handle(self, request: Request, read_body: Callable[[], Awaitable[bytes]]) -> Response:
        scope, headers, method, path = request.scope, request.headers, request.method, request.path
        try:
            if path.startswith("/console/static/"):
                if method not in ("GET", "HEAD"):
                    return _error(405, "MethodNotAllowed", f"{method} is not allowed here.")
                return self._asset(path.removeprefix("/console/static/"), headers)
            if path == "/console/login" and method == "POST":
                return await self._sign_in(headers, scope, await read_body())
            if path == "/console/logout" and method == "POST":
                return self._sign_out(headers, scope)
            if method in ("GET", "HEAD"):
                return self._page(headers, scope)
            return _error(405, "MethodNotAllowed", f"{method} is not allowed here.")
        except ServiceError as error:
            return _error(error.status, error.code, error.message)

    def _page(self, headers: dict[str, str], scope: Scope) -> Response:
        session, key_secret = self._session(headers)
        extra: dict[bytes, bytes] = {}
        if session is None:
            session, cookie = self.keys.issue()
            key_secret = ""
            extra[b"set-cookie"] = cookie_header(cookie, secure=_is_https(scope))
        signed_in_as = ""
        account = self.default_account
        if self.authenticator is not None and session.access_key:
            principal = self.authenticator.principals[session.access_key]
            signed_in_as, account = principal.user or principal.access_key, principal.account
        values = {
            "version": __version__,
            "csrf": self.keys.csrf_token(session, key_secret),
            "auth": "sigv4" if self.authenticator is not None else "none",
            "account": account,
            "user": signed_in_as,
        }
        # One pass, so no value is ever read as a placeholder; every value is escaped for an attribute.
        page = _PLACEHOLDER.sub(lambda m: html.escape(values[m.group(1)], quote=True), self.shell)
        extra[b"cache-control"] = b"no-store"
        return Response(200, page.encode(), b"text/html; charset=utf-8", extra)

    def _asset(self, name: str, headers: dict[str, str]) -> Response:
        asset = self.assets.get(name)
        if asset is None:
            return _error(404, "NotFound", "No such console asset.")
        # Pages name assets with their content hash, so a cached copy is never stale.
        extra = {b"cache-control": b"public, max-age=31536000, immutable", b"vary": b"accept-encoding"}
        if "gzip" in headers.get("accept-encoding", ""):
            extra[b"content-encoding"] = b"gzip"
            return Response(200, asset.gzipped, asset.content_type, extra)
        return Response(200, asset.body, asset.content_type, extra)

    async def _sign_in(self, headers: dict[str, str], scope: Scope, body: bytes) -> Response:
        session, key_secret = self._session(headers)
        if session is None:
            raise NotSignedIn("The console session has expired: reload the page.")
        _check_request_origin(headers)
        if not self.keys.check_csrf(session, key_secret, headers.get("x-csrf-token", "")):
            raise InvalidCsrfToken("The console's CSRF token is missing or does not match the session.")
        if self.authenticator is None:
            raise ValidationException("Sign-in is only needed with --auth sigv4.")
        params = wire.parse_body(body)
        access_key, secret = params.get("AccessKeyId"), params.get("SecretAccessKey")
        if not isinstance(access_key, str) or not isinstance(secret, str) or not access_key or not secret:
            raise ValidationException("Enter an access key ID and its secret access key.")
        principal = self.authenticator.principals.get(access_key)
        # The same answer for an unknown key and a wrong secret: the form tells nothing about keys.
        if principal is None or not secrets.compare_digest(principal.secret.encode(), secret.encode()):
            raise sigv4.UnrecognizedClientException("The security token included in the request is invalid.")
        # A fresh session (new nonce, new CSRF token) for the signed-in key: nothing carries over.
        new_session, cookie = self.keys.issue(principal.access_key, principal.secret)
        answer = {
            "Account": principal.account,
            "CsrfToken": self.keys.csrf_token(new_session, principal.secret),
        }
        extra = {b"set-cookie": cookie_header(cookie, secure=_is_https(scope)), b"cache-control": b"no-store"}
        return Response(200, orjson.dumps(answer), b"application/json", extra)

    def _sign_out(self, headers: dict[str, str], scope: Scope) -> Response:
        session, key_secret = self._session(headers)
        if session is not None:
            _check_request_origin(headers)
            if not self.keys.check_csrf(session, key_secret, headers.get("x-csrf-token", "")):
                raise InvalidCsrfToken("The console's CSRF token is missing or does not match the session.")
        extra = {b"set-cookie": cookie_header("", secure=_is_https(scope), max_age=0)}
        return Response(200, b"{}", b"application/json", extra)

    def _session(self, headers: dict[str, str]) -> tuple[Any, str]:
        """The request's verified session and the key secret it is bound to, or (None, "")."""
        cookie = cookie_from(headers.get("cookie", ""))
        session = self.keys.read(cookie) if cookie else None
        if session is None:
            return None, ""
        key_secret = ""
        if session.access_key:
            principal = self.authenticator.principals.get(session.access_key) if self.authenticator else None
            if principal is None:
                return None, ""
            key_secret = principal.secret
        if not self.keys.verify(cookie, key_secret):
            return None, ""
        return session, key_secret


def _check_request_origin(headers: dict[str, str]) -> None:
    """A browser names where a request comes from; refuse any page but the console's own."""
    if headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        raise InvalidCsrfToken("Cross-site requests to the console are refused.")
    origin = headers.get("origin")
    if origin is not None:
        host = origin.split("://", 1)[-1]
        if host != headers.get("host", ""):
            raise InvalidCsrfToken("Cross-origin requests to the console are refused.")


def _is_https(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


def _error(status: int, code: str, message: str) -> Response:
    body = {"__type": code, "message": message, "Message": message}  # as the API's errors (protocol.wire)
    return Response(status, orjson.dumps(body), b"application/json", {})
