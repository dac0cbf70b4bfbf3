"""AWS Signature Version 4: parse the ``Authorization`` header and verify the signature of a request.

The canonical request, string to sign and signing key follow the AWS specification
(https://docs.aws.amazon.com/IAM/latest/UserGuide/create-signed-request.html)::

    CanonicalRequest = Method \\n CanonicalURI \\n CanonicalQuery \\n CanonicalHeaders \\n
                       SignedHeaders \\n HexSHA256(payload)
    StringToSign     = "AWS4-HMAC-SHA256" \\n X-Amz-Date \\n Scope \\n HexSHA256(CanonicalRequest)
    SigningKey       = HMAC(HMAC(HMAC(HMAC("AWS4" + secret, date), region), service), "aws4_request")

The payload hash is always computed from the body received: an ``X-Amz-Content-Sha256`` header
must agree with it (``UNSIGNED-PAYLOAD`` is not accepted, so every body is authenticated).
Failures raise the error AWS answers with, with its wording.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from urllib.parse import quote, unquote_to_bytes

from sagemaker_images.errors import ServiceError

ALGORITHM = "AWS4-HMAC-SHA256"
# How far a request's timestamp may be from the server's clock, either way.
MAX_CLOCK_SKEW = dt.timedelta(minutes=15)
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_REGION = re.compile(r"[a-z0-9-]{1,32}")


class MissingAuthenticationTokenException(ServiceError):
    code = "MissingAuthenticationTokenException"
    status = 403


class IncompleteSignatureException(ServiceError):
    code = "IncompleteSignatureException"
    status = 403


class UnrecognizedClientException(ServiceError):
    code = "UnrecognizedClientException"
    status = 403


class InvalidSignatureException(ServiceError):
    code = "InvalidSignatureException"
    status = 403


SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS "
    "Secret Access Key and signing method. Consult the service documentation for details."
)


@dataclass(frozen=True, slots=True)
class Credential:
    """The parsed ``Authorization`` header: who signed, for which scope, which headers, what."""

    access_key: str
    date: str  # YYYYMMDD
    region: str
    service: str
    terminator: str
    signed_headers: tuple[str, ...]
    signature: str

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/{self.terminator}"


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What verification needs of an HTTP request. ``headers`` are (lowercase name, value) pairs."""

    method: str
    raw_path: bytes
    query_string: bytes
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        values = [v for k, v in self.headers if k == name]
        return ",".join(values) if values else None


def parse_authorization(header: str | None) -> Credential:
    """The ``Authorization`` header's parts, or the IncompleteSignatureException AWS gives."""
    if header is None or not header.strip():
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(f"Unsupported AWS 'algorithm': '{algorithm}'")
    parts: dict[str, str] = {}
    for item in rest.split(","):
        name, equals, value = item.strip().partition("=")
        if not equals:
            raise IncompleteSignatureException(
                f"'{item.strip()}' not a valid key=value pair (missing equal-sign) in Authorization header: "
                f"'{header}'."
            )
        parts[name] = value
    missing = [
        f"Authorization header requires '{name}' parameter."
        for name in ("Credential", "Signature", "SignedHeaders")
        if not parts.get(name)
    ]
    if missing:
        raise IncompleteSignatureException(" ".join([*missing, f"Authorization={header}"]))
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or not all(scope):
        raise IncompleteSignatureException(
            f"Credential should be scoped to a valid region, not '{parts['Credential']}'. "
            "Authorization header requires 'Credential' to be of the form "
            "'<access key>/<date>/<region>/<service>/aws4_request'."
        )
    access_key, date, region, service, terminator = scope
    if terminator != "aws4_request":
        raise IncompleteSignatureException(
            f"Credential should be scoped with a valid terminator: 'aws4_request', not '{terminator}'."
        )
    if not _REGION.fullmatch(region):
        raise IncompleteSignatureException(f"Credential should be scoped to a valid region, not '{region}'.")
    signed_headers = tuple(parts["SignedHeaders"].split(";"))
    if len(set(signed_headers)) != len(signed_headers):
        # Each name stands for all of that header's values, so naming one twice can only repeat
        # them: refused, so the canonical request stays as long as the headers themselves.
        raise IncompleteSignatureException(
            "'SignedHeaders' must name each header once, in the AWS Authorization."
        )
    if "host" not in signed_headers:
        raise IncompleteSignatureException(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    signature = parts["Signature"]
    if not re.fullmatch(r"[0-9a-f]{64}", signature):
        raise IncompleteSignatureException(
            f"Signature must be 64 lowercase hexadecimal characters, not '{signature}'."
        )
    return Credential(access_key, date, region, service, terminator, signed_headers, signature)


def request_time(request: SignedRequest) -> tuple[str, dt.datetime]:
    """The request's ``X-Amz-Date`` (or ``Date``) as AWS's basic ISO 8601 text and as a datetime."""
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        try:
            when = dt.datetime.strptime(amz_date.strip(), _AMZ_DATE).replace(tzinfo=dt.UTC)
        except ValueError:
            raise IncompleteSignatureException(
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. See "
                "http://en.wikipedia.org/wiki/ISO_8601"
            ) from None
        return amz_date.strip(), when
    date = request.header("date")
    if date is not None:
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError):
            raise IncompleteSignatureException(f"Date header '{date}' is not an HTTP date.") from None
        try:
            when = parsed.astimezone(dt.UTC)
        except OverflowError:
            # A date whose offset carries it past year 9999 (or before year 1): as far from now as a
            # date can be, so the request is refused for its time like any other stale or early one.
            edge = dt.datetime.max if parsed.year > 1 else dt.datetime.min
            return parsed.strftime(_AMZ_DATE), edge.replace(tzinfo=dt.UTC)
        return when.strftime(_AMZ_DATE), when
    raise IncompleteSignatureException(
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
    )


def verify(
    request: SignedRequest,
    credential: Credential,
    secret_key: str,
    *,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
) -> None:
    """Raise unless ``request`` carries a valid, current signature made with ``secret_key``."""
    amz_date, when = request_time(request)
    if credential.date != amz_date[:8]:
        raise InvalidSignatureException(
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: "
            f"'{credential.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    current = now()
    if when < current - MAX_CLOCK_SKEW:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(current - MAX_CLOCK_SKEW).strftime(_AMZ_DATE)} ({current.strftime(_AMZ_DATE)} - 15 min.)"
        )
    if when > current + MAX_CLOCK_SKEW:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than "
            f"{(current + MAX_CLOCK_SKEW).strftime(_AMZ_DATE)} ({current.strftime(_AMZ_DATE)} + 15 min.)"
        )
    payload_hash = hashlib.sha256(request.body).hexdigest()
    claimed = request.header("x-amz-content-sha256")
    if claimed is not None and claimed.strip() != payload_hash:
        raise InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    expected = signature(request, credential, secret_key, amz_date, payload_hash)
    if not hmac.compare_digest(expected, credential.signature):
        raise InvalidSignatureException(SIGNATURE_MISMATCH)


def signature(
    request: SignedRequest, credential: Credential, secret_key: str, amz_date: str, payload_hash: str
) -> str:
    canonical = canonical_request(request, credential.signed_headers, payload_hash)
    string_to_sign = "\n".join(
        [ALGORITHM, amz_date, credential.scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = signing_key(secret_key, credential.date, credential.region, credential.service)
    return hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()


def signing_key(secret_key: str, date: str, region: str, service: str) -> bytes:
    key = ("AWS4" + secret_key).encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def canonical_request(request: SignedRequest, signed_headers: tuple[str, ...], payload_hash: str) -> str:
    return "\n".join(
        [
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.query_string),
            canonical_headers(request, signed_headers),
            ";".join(signed_headers),
            payload_hash,
        ]
    )


def canonical_uri(raw_path: bytes) -> str:
    """The normalised path, each segment URI-encoded again (every service but S3 double-encodes)."""
    path = raw_path.decode("latin-1") or "/"
    normalised = posixpath.normpath(path)
    if normalised.startswith("//"):
        normalised = "/" + normalised.lstrip("/")
    if path.endswith("/") and normalised != "/":
        normalised += "/"
    return quote(normalised, safe="/~")


def canonical_query(query_string: bytes) -> str:
    pairs = []
    for item in query_string.split(b"&"):
        if not item:
            continue
        name, _, value = item.partition(b"=")
        pairs.append(
            (
                quote(unquote_to_bytes(name.replace(b"+", b" ")), safe="-_.~"),
                quote(unquote_to_bytes(value.replace(b"+", b" ")), safe="-_.~"),
            )
        )
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def canonical_headers(request: SignedRequest, signed_headers: tuple[str, ...]) -> str:
    """One line per signed header; one pass over the request's headers, whatever either list's length."""
    wanted = frozenset(signed_headers)
    values: dict[str, list[str]] = {}
    for name, value in request.headers:
        if name in wanted:
            values.setdefault(name, []).append(" ".join(value.split()))
    return "".join(f"{name}:{','.join(values.get(name, ()))}\n" for name in signed_headers)
