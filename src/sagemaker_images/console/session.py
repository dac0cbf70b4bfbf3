"""Console sessions and their CSRF tokens: signed, stateless, and bound to the key that signed in.

A session is a cookie ``v1.<payload>.<signature>``; the payload holds the access key id (empty in
``--auth none``, or before signing in), a random nonce and an expiry. Any replica holding the same
console secret (``SAGEMAKER_IMAGES_CONSOLE_SECRET``) and credentials file verifies it without shared
state. With ``--auth sigv4`` the signature is keyed by the console secret *and* the key's own secret,
so rotating or removing that key in the credentials file ends its sessions. The secret itself never
leaves the sign-in request: it is in no cookie, URL or log.

The CSRF token is an HMAC of the session's nonce under the same key: a page of this origin reads it
from the console page and sends it as ``X-CSRF-Token``; another origin can neither read it nor
forge it, and a token of one session is worthless in another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

import orjson

COOKIE = "sagemaker_images_console"
# How long a session lasts from sign-in (or from the first visit, without sign-in).
LIFETIME = 12 * 3600
_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True, slots=True)
class Session:
    access_key: str  # "" without sign-in
    nonce: str
    expires: int


class SessionKeys:
    """Issues and verifies session cookies and CSRF tokens under the console secret."""

    def __init__(self, secret: str) -> None:
        self.secret = secret.encode()

    def _key(self, key_secret: str) -> bytes:
        if not key_secret:
            return self.secret
        return hmac.new(self.secret, b"key:" + key_secret.encode(), hashlib.sha256).digest()

    def issue(
        self, access_key: str = "", key_secret: str = "", now: float | None = None
    ) -> tuple[Session, str]:
        session = Session(access_key, secrets.token_urlsafe(18), int((now or time.time()) + LIFETIME))
        payload = _b64(orjson.dumps({"k": session.access_key, "n": session.nonce, "e": session.expires}))
        return session, f"{_VERSION}.{payload}.{self._sign(key_secret, payload)}"

    def read(self, cookie: str) -> Session | None:
        """The session a cookie claims, not yet verified (its key secret is needed to verify it)."""
        try:
            version, payload, _ = cookie.split(".")
            if version != _VERSION:
                return None
            data = orjson.loads(_unb64(payload))
            return Session(str(data["k"]), str(data["n"]), int(data["e"]))
        except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
            return None

    def verify(self, cookie: str, key_secret: str, now: float | None = None) -> bool:
        try:
            _, payload, signature = cookie.split(".")
        except ValueError:
            return False
        session = self.read(cookie)
        if session is None or session.expires < (now or time.time()):
            return False
        return hmac.compare_digest(signature, self._sign(key_secret, payload))

    def csrf_token(self, session: Session, key_secret: str) -> str:
        return self._sign(key_secret, "csrf:" + session.nonce)

    def check_csrf(self, session: Session, key_secret: str, token: str) -> bool:
        return bool(token) and hmac.compare_digest(token, self.csrf_token(session, key_secret))

    def _sign(self, key_secret: str, message: str) -> str:
        return _b64(hmac.new(self._key(key_secret), message.encode(), hashlib.sha256).digest())


def cookie_header(value: str, *, secure: bool, max_age: int = LIFETIME) -> bytes:
    """``Set-Cookie`` for the console only: not readable by scripts, never sent cross-site."""
    attributes = [f"{COOKIE}={value}", "Path=/console", f"Max-Age={max_age}", "HttpOnly", "SameSite=Strict"]
    if secure:
        attributes.append("Secure")
    return "; ".join(attributes).encode()


def cookie_from(header: str) -> str:
    for part in header.split(";"):
        name, _, value = part.strip().partition("=")
        if name == COOKIE:
            return value
    return ""
