"""The credentials file of ``serve --auth sigv4``: access keys, their secrets, accounts and permissions.

TOML (``.toml``) or JSON (any other name), one table per access key id::

    [keys.AKIAIOSFODNN7EXAMPLE]
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    account = "111122223333"
    # Optional. Without it the key may do everything; with it, only the actions listed.
    # "*" matches any run of characters: "sagemaker:*", "sagemaker:Describe*", "cloudformation:*".
    allow = ["sagemaker:*", "cloudformation:*", "iam:PassRole"]
    # Optional. The roles iam:PassRole may pass (ARN patterns, "*" wildcards); by default any role
    # of the key's own account.
    pass_roles = ["arn:aws:iam::111122223333:role/SageMaker*"]
    # Optional. The IAM user named in AccessDenied messages (default: the access key id).
    user = "ci-bot"

The JSON form is the same tree: ``{"keys": {"AKIA...": {"secret": ..., "account": ..., ...}}}``.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_ACCOUNT = re.compile(r"[0-9]{12}")
_ACCESS_KEY = re.compile(r"[A-Za-z0-9]{1,128}")
_FIELDS = {"secret", "account", "allow", "pass_roles", "user"}


class CredentialsError(ValueError):
    """The credentials file cannot be used; the message says where and why."""


@dataclass(frozen=True, slots=True)
class Principal:
    """One access key: its secret, the account it acts in, and what it may do (None: everything)."""

    access_key: str
    secret: str
    account: str
    allow: tuple[str, ...] | None = None
    pass_roles: tuple[str, ...] | None = None
    user: str = ""

    @property
    def arn(self) -> str:
        return f"arn:aws:iam::{self.account}:user/{self.user or self.access_key}"


def load_credentials(path: str | Path) -> dict[str, Principal]:
    """Every key of the file at ``path``, by access key id."""
    path = Path(path)
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot read the credentials file: {exc.strerror}") from None
    try:
        document = tomllib.loads(text.decode()) if path.suffix == ".toml" else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise CredentialsError(f"{path}: not valid {kind}: {exc}") from None
    return parse_credentials(document, str(path))


def parse_credentials(document: Any, where: str = "credentials") -> dict[str, Principal]:
    if not isinstance(document, dict) or not isinstance(document.get("keys"), dict) or not document["keys"]:
        raise CredentialsError(f"{where}: expected a 'keys' table with at least one access key")
    principals: dict[str, Principal] = {}
    for access_key, entry in document["keys"].items():
        here = f"{where}: keys.{access_key}"
        if not _ACCESS_KEY.fullmatch(access_key):
            raise CredentialsError(f"{here}: an access key id is 1 to 128 letters and digits")
        if not isinstance(entry, dict):
            raise CredentialsError(f"{here}: expected a table")
        unknown = set(entry) - _FIELDS
        if unknown:
            raise CredentialsError(f"{here}: unknown field(s) {', '.join(sorted(unknown))}")
        secret, account = entry.get("secret"), entry.get("account")
        if not isinstance(secret, str) or not secret:
            raise CredentialsError(f"{here}: 'secret' must be a non-empty string")
        if not isinstance(account, str) or not _ACCOUNT.fullmatch(account):
            raise CredentialsError(f"{here}: 'account' must be a 12-digit account id, as a string")
        user = entry.get("user", "")
        if not isinstance(user, str):
            raise CredentialsError(f"{here}: 'user' must be a string")
        principals[access_key] = Principal(
            access_key=access_key,
            secret=secret,
            account=account,
            allow=_patterns(entry, "allow", here),
            pass_roles=_patterns(entry, "pass_roles", here),
            user=user,
        )
    return principals


def _patterns(entry: dict[str, Any], name: str, here: str) -> tuple[str, ...] | None:
    if name not in entry:
        return None
    value = entry[name]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise CredentialsError(f"{here}: '{name}' must be a list of non-empty strings")
    return tuple(value)
