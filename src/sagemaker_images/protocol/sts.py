"""STS ``GetCallerIdentity`` on the same endpoint, in the query protocol STS speaks.

Infrastructure tools ask "who am I?" before they touch a resource: Terraform's awscc provider always,
Pulumi AWS Native unless told to skip it, and the AWS CLI's ``aws sts get-caller-identity``. Their
request is a form-encoded POST (``Action=GetCallerIdentity&Version=2011-06-15``, signed for service
``sts``) and they parse an XML answer, so this module answers in XML, errors included.

Any other action is answered as AWS answers an action it does not know (``InvalidAction``, 400).
GetCallerIdentity needs no IAM permission, as in AWS: under ``--auth sigv4`` the signature is verified
and the account comes from the key's entry in the credentials file, but no ``allow`` list is consulted.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

from sagemaker_images.errors import ServiceError
from sagemaker_images.protocol import sigv4
from sagemaker_images.protocol.authentication import Caller
from sagemaker_images.protocol.identity import tenant_from_authorization

SIGNING_NAME = "sts"
API_VERSION = "2011-06-15"
NAMESPACE = f"https://sts.amazonaws.com/doc/{API_VERSION}/"
# Unknown actions are refused by AWS's query front end before STS sees them, in its own namespace.
FAULT_NAMESPACE = "http://webservices.amazon.com/AWSFault/2005-15-09"
CONTENT_TYPE = b"text/xml"

# The query protocol's names for the SigV4 failures (AWS JSON services name them otherwise).
_QUERY_CODES = {
    sigv4.MissingAuthenticationTokenException.code: "MissingAuthenticationToken",
    sigv4.IncompleteSignatureException.code: "IncompleteSignature",
    sigv4.UnrecognizedClientException.code: "InvalidClientTokenId",
    sigv4.InvalidSignatureException.code: "SignatureDoesNotMatch",
    "RequestEntityTooLargeException": "RequestEntityTooLarge",
    "RequestTimeoutException": "RequestTimeout",
}


# The actions answered here; with ``serve --upstream`` every other one is forwarded.
ACTIONS = frozenset({"GetCallerIdentity"})


class InvalidAction(ServiceError):
    code = "InvalidAction"


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    body: bytes


def is_query_request(headers: dict[str, str]) -> bool:
    """A form-encoded request without ``X-Amz-Target``: the query protocol, which only STS speaks here."""
    if "x-amz-target" in headers:  # every AWS JSON call: nothing else to look at
        return False
    content_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return content_type == "application/x-www-form-urlencoded"


def answer(
    body: bytes, headers: dict[str, str], caller: Caller | None, default_account: str, request_id: str
) -> Answer:
    """The XML answer to one STS query request (authentication has already succeeded)."""
    try:
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        action = params.get("Action", "")
        if action not in ACTIONS:
            version = params.get("Version", API_VERSION)
            raise InvalidAction(f"Could not find operation {action} for version {version}")
        if caller is not None and caller.credential.service != SIGNING_NAME:
            raise sigv4.InvalidSignatureException(
                f"Credential should be scoped to correct service: '{SIGNING_NAME}'. "
            )
        return Answer(200, _caller_identity(headers, caller, default_account, request_id))
    except ServiceError as error:
        return error_answer(error, request_id)


def error_answer(error: ServiceError, request_id: str) -> Answer:
    code = _QUERY_CODES.get(error.code, error.code)
    kind = "Receiver" if error.status >= 500 else "Sender"
    namespace = FAULT_NAMESPACE if isinstance(error, InvalidAction) else NAMESPACE
    xml = (
        f'<ErrorResponse xmlns="{namespace}">\n'
        f"  <Error>\n    <Type>{kind}</Type>\n    <Code>{escape(code)}</Code>\n"
        f"    <Message>{escape(error.message)}</Message>\n  </Error>\n"
        f"  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n"
    )
    return Answer(error.status, xml.encode())


def _caller_identity(
    headers: dict[str, str], caller: Caller | None, default_account: str, request_id: str
) -> bytes:
    if caller is not None:
        tenant = caller.tenant
        user = caller.principal.user or caller.principal.access_key
    else:
        authorization = headers.get("authorization")
        tenant = tenant_from_authorization(authorization, default_account)
        user = _access_key(authorization) or "anonymous"
    arn = f"arn:{tenant.partition}:iam::{tenant.account}:user/{user}"
    xml = (
        f'<GetCallerIdentityResponse xmlns="{NAMESPACE}">\n'
        f"  <GetCallerIdentityResult>\n"
        f"    <Arn>{escape(arn)}</Arn>\n"
        f"    <UserId>{user_id(tenant.account, user)}</UserId>\n"
        f"    <Account>{tenant.account}</Account>\n"
        f"  </GetCallerIdentityResult>\n"
        f"  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n"
        f"</GetCallerIdentityResponse>\n"
    )
    return xml.encode()


def user_id(account: str, user: str) -> str:
    """An IAM user's unique id as AWS shapes them (``AIDA`` and 17 base-32 characters), stable per user."""
    digest = hashlib.sha256(f"{account}/{user}".encode()).digest()
    return "AIDA" + base64.b32encode(digest).decode()[:17]


def _access_key(authorization: str | None) -> str:
    if not authorization or "Credential=" not in authorization:
        return ""
    scope = authorization.split("Credential=", 1)[1].split(",", 1)[0]
    key = scope.split("/", 1)[0].strip()
    # IAM user names are letters, digits and +=,.@_- ; anything else is not used as a name.
    return key if key and all(c.isalnum() or c in "+=,.@_-" for c in key) and key.isascii() else ""
