"""``--auth sigv4``: who is calling, proven by their signature, and what they may do.

The server asks three questions, in AWS's order:

1. ``authenticate`` (before anything is read from the body): is the request signed, by a key in the
   credentials file, recently, with the right secret? The caller's account comes from the key, the
   region from the signature's credential scope.
2. ``Caller.authorize`` (once the target and JSON body are known, before validation): is the
   credential scoped to this service, and does the key's ``allow`` list grant every action the
   operation needs?
3. ``Caller.authorize_roles`` (after validation): may the key pass the roles the request names?
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sagemaker_images.protocol import authorization, sigv4
from sagemaker_images.protocol.credentials import Principal
from sagemaker_images.tenancy import Tenant


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    credential: sigv4.Credential
    schemas: authorization.SchemaLookup

    @property
    def tenant(self) -> Tenant:
        return Tenant(account=self.principal.account, region=self.credential.region)

    def authorize(self, signing_name: str, operation: str, params: dict[str, Any]) -> None:
        if self.credential.service != signing_name:
            raise sigv4.InvalidSignatureException(
                f"Credential should be scoped to correct service: '{signing_name}'. "
            )
        actions = authorization.required_actions(signing_name, operation, params, self.schemas)
        authorization.authorize(self.principal, actions)

    def authorize_roles(self, signing_name: str, request: dict[str, Any]) -> None:
        for role_arn in authorization.passed_roles(signing_name, request):
            authorization.authorize_pass_role(self.principal, role_arn)


class SigV4Authenticator:
    def __init__(
        self,
        principals: dict[str, Principal],
        schemas: authorization.SchemaLookup,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.principals = principals
        self.schemas = schemas
        self.now = now

    def authenticate(self, request: sigv4.SignedRequest) -> Caller:
        credential = sigv4.parse_authorization(request.header("authorization"))
        principal = self.principals.get(credential.access_key)
        if principal is None:
            raise sigv4.UnrecognizedClientException("The security token included in the request is invalid.")
        sigv4.verify(request, credential, principal.secret, now=self.now)
        return Caller(principal, credential, self.schemas)
