"""NextToken sealing, for every listing of every API: opaque, tamper-evident, bound to whom and what.

A token carries where a page ended (a keyset: sort value and tie-breaker, which may be a row id
shared by all tenants). It is sealed with AES-256-GCM under a key every replica reads from the
database (``store/secrets.py``), with the token's *scope* — account, region and listing (operation,
sort, the resource listed) — as associated data. So a token:

- reveals nothing (not the row id, not even the caller's own sort values);
- cannot be forged or altered: any change fails authentication;
- opens only for the same account, region and listing that it came from, on any replica.

Anything that does not open is ``InvalidToken``; each API answers it with its own error.
"""

from __future__ import annotations

import base64
import binascii
import functools
import itertools
import os
import threading
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sagemaker_images.tenancy import Tenant

_FORMAT = b"\x01"
_NONCE = 12
_COUNTER = 4  # bytes of the nonce that count; the rest is the process's random prefix
_COUNTER_LIMIT = 2 ** (8 * _COUNTER)
_TAG = 16
# A token a client sends back is never longer than the ones this server writes (a few hundred
# characters): anything beyond is refused before it is decoded.
MAX_TOKEN_CHARS = 2048


class InvalidToken(ValueError):
    pass


class PageTokens:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)
        # GCM needs a nonce never used twice with the key: a random prefix of this process's own and
        # a counter (NIST SP 800-38D's deterministic construction; no system call per token). Another
        # process sharing the key has another 64-bit prefix; a new one is drawn before the counter wraps.
        self._nonces = (os.urandom(_NONCE - _COUNTER), itertools.count())
        self._nonces_lock = threading.Lock()

    @classmethod
    def ephemeral(cls) -> PageTokens:
        """Tokens that only this process can open (for a registry used without a database key)."""
        return cls(AESGCM.generate_key(bit_length=256))

    def seal(self, tenant: Tenant, listing: str, position: list[Any]) -> str:
        nonce = self._nonce()
        sealed = self._aead.encrypt(
            nonce, orjson.dumps(position), _scope(tenant.account, tenant.region, listing)
        )
        # Standard base64: within the NextToken pattern of both APIs ([-A-Za-z0-9+/=]+ in Cloud Control).
        return base64.b64encode(_FORMAT + nonce + sealed).decode()

    def _nonce(self) -> bytes:
        nonces = self._nonces
        prefix, counter = nonces
        number = next(counter)  # atomic: one number for one caller
        if number < _COUNTER_LIMIT:
            return prefix + number.to_bytes(_COUNTER, "big")
        with self._nonces_lock:
            if self._nonces is nonces:  # the first caller past the end draws the next prefix
                self._nonces = (os.urandom(_NONCE - _COUNTER), itertools.count())
        return self._nonce()

    def open(self, tenant: Tenant, listing: str, token: str, arity: int) -> tuple[Any, ...]:
        """The position sealed in ``token`` (``arity`` values), or InvalidToken."""
        if len(token) > MAX_TOKEN_CHARS:
            raise InvalidToken("too long")
        try:
            raw = base64.b64decode(token, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidToken("not base64") from None
        if len(raw) < 1 + _NONCE + _TAG or raw[:1] != _FORMAT:
            raise InvalidToken("not a token of this server")
        nonce, sealed = raw[1 : 1 + _NONCE], raw[1 + _NONCE :]
        try:
            plain = self._aead.decrypt(nonce, sealed, _scope(tenant.account, tenant.region, listing))
        except InvalidTag:
            raise InvalidToken("altered, or from another account, region or listing") from None
        position = orjson.loads(plain)  # written by seal(): authenticated, so well formed
        if not isinstance(position, list) or len(position) != arity:
            raise InvalidToken("from another version of this listing")
        return tuple(position)


@functools.lru_cache(maxsize=1024)
def _scope(account: str, region: str, listing: str) -> bytes:
    return orjson.dumps([account, region, listing])
