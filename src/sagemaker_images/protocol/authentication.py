"""``--auth sigv4``: who is calling, proven by their signature, and what they may do.

The server asks three questions, in AWS's order:

1. ``authenticate`` (before anything is read from the body): is the request signed, by a key in the
   credentials file, recently, with the right secret? The caller's account comes from the key, the
   region from the signature's credential scope.
2. ``Caller.authorize`` (once the target is known, before the body is validated): is the credential
   scoped to this service, and may the key perform the operation's own action?
3. ``Caller.require`` (after validation, and from inside an operation for what only the stored state
   decides): does the key grant everything the served API declares the request needs
   (``access.Need``)? The matching is ``authorization.authorize``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sagemaker_images.access import Need
from sagemaker_images.protocol import authorization, sigv4
from sagemaker_images.protocol.credentials import Principal
from sagemaker_images.tenancy import Tenant


@dataclass(frozen=True, slots=True)
class Caller:
    principal: Principal
    credential: sigv4.Credential

    @property
    def tenant(self) -> Tenant:
        return Tenant(account=self.principal.account, region=self.credential.region)

    def authorize(self, signing_name: str, action: str) -> None:
        if self.credential.service != signing_name:
            raise sigv4.InvalidSignatureException(
                f"Credential should be scoped to correct service: '{signing_name}'. "
            )
        authorization.authorize(self.principal, [Need(action)])

    def require(self, needs: Iterable[Need]) -> None:
        authorization.authorize(self.principal, needs)


class SigV4Authenticator:
    def __init__(
        self,
        principals: dict[str, Principal],
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.principals = principals
        self.now = now

    def authenticate(self, request: sigv4.SignedRequest) -> Caller:
        credential = sigv4.parse_authorization(request.header("authorization"))
        principal = self.principals.get(credential.access_key)
        if principal is None:
            raise sigv4.UnrecognizedClientException("The security token included in the request is invalid.")
        sigv4.verify(request, credential, principal.secret, now=self.now)
        return Caller(principal, credential)
