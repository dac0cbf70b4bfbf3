"""Who is calling: the account and region of a request, read from its SigV4 Authorization header.

``Authorization: AWS4-HMAC-SHA256 Credential=AKID/20261123/eu-west-1/sagemaker/aws4_request, ...``
names the region in its credential scope. A 12-digit access key id is taken as the account (handy for
multi-account tests); any other key belongs to the default account. Signatures are not verified here.
"""

from __future__ import annotations

import functools

from sagemaker_images.tenancy import Tenant

DEFAULT_REGION = "us-east-1"


def tenant_from_authorization(authorization: str | None, default_account: str) -> Tenant:
    if not authorization:
        return _tenant("", default_account)
    start = authorization.find("Credential=")
    if start < 0:
        return _tenant("", default_account)
    start += len("Credential=")
    end = authorization.find(",", start)
    scope = authorization[start:] if end < 0 else authorization[start:end]
    # A client signs every request anew, but its credential scope (key, date, region, service) stays
    # the same all day: one Tenant for them all, read from the scope once. Only scopes of a sensible
    # length are remembered, so the cache stays small whatever clients send.
    if len(scope) > _REMEMBERED_SCOPE:
        return _tenant.__wrapped__(scope, default_account)
    return _tenant(scope, default_account)


# Longer than any real credential scope (a 128-character access key id, a date, region and service).
_REMEMBERED_SCOPE = 256


@functools.lru_cache(maxsize=4096)
def _tenant(scope: str, default_account: str) -> Tenant:
    access_key, region = _credential_scope(scope)
    account = access_key if len(access_key) == 12 and access_key.isdigit() else default_account
    return Tenant(account=account, region=region or DEFAULT_REGION)


def _credential_scope(scope: str) -> tuple[str, str]:
    """(access key, region) of a credential scope ``AKID/20261123/eu-west-1/sagemaker/aws4_request``."""
    parts = scope.strip().split("/")
    if len(parts) < 3:
        return parts[0], ""
    region = parts[2]
    return parts[0], region.lower() if is_region_name(region) else ""


def is_region_name(region: str) -> bool:
    """Region names are short words with dashes; anything else is not a region."""
    return 0 < len(region) <= 32 and region.isascii() and all(c.isalnum() or c == "-" for c in region)
