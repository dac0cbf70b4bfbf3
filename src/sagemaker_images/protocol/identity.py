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
    access_key, region = _credential_scope(authorization or "")
    return _tenant(access_key, region, default_account)


@functools.lru_cache(maxsize=4096)
def _tenant(access_key: str, region: str, default_account: str) -> Tenant:
    # A client sends the same key and region request after request: one Tenant for them all.
    account = access_key if len(access_key) == 12 and access_key.isdigit() else default_account
    return Tenant(account=account, region=region or DEFAULT_REGION)


def _credential_scope(authorization: str) -> tuple[str, str]:
    start = authorization.find("Credential=")
    if start < 0:
        return "", ""
    scope = authorization[start + len("Credential=") :].split(",", 1)[0].strip()
    parts = scope.split("/")
    if len(parts) < 3:
        return parts[0], ""
    region = parts[2]
    return parts[0], region.lower() if is_region_name(region) else ""


def is_region_name(region: str) -> bool:
    """Region names are short words with dashes; anything else is not a region."""
    return 0 < len(region) <= 32 and region.isascii() and all(c.isalnum() or c == "-" for c in region)
