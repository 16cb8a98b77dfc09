"""OpenID Connect for the authorization code flow: the id_token and userinfo claims.

https://openid.net/specs/openid-connect-core-1_0.html#CodeIDToken and
https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-identity-data
The id_token is signed by the server's KeyRing and carries `fhirUser`, the absolute URL of the
Patient or Practitioner who logged in.
"""

import time

from authlib.oidc.core import UserInfo
from authlib.oidc.core.grants import OpenIDCode

from smart_auth.grantee import Grantee
from smart_auth.keys import ALGORITHM, KeyRing
from smart_auth.models import AuthorizationCode


def user_claims(fhir_user: str, fhir_base: str) -> dict:
    """The identity claims: `sub` is the FHIR reference, `fhirUser` its absolute URL."""
    return {"sub": fhir_user, "fhirUser": f"{fhir_base}/{fhir_user}"}


class SmartOpenIDCode(OpenIDCode):
    def __init__(self, keys: KeyRing, issuer: str, fhir_base: str, lifetime: int):
        super().__init__(require_nonce=False)
        self.keys = keys
        self.issuer = issuer
        self.fhir_base = fhir_base
        self.lifetime = lifetime

    def exists_nonce(self, nonce: str, request) -> bool:
        client_id = request.payload.client_id
        return AuthorizationCode.objects(client_id=client_id, nonce=nonce).first() is not None

    def resolve_client_private_key(self, client):
        return self.keys.current()

    def get_client_algorithm(self, client) -> str:
        return ALGORITHM

    def get_encode_header(self, client) -> dict:
        return {"alg": ALGORITHM, "kid": self.keys.current().kid, "typ": "JWT"}

    def get_client_claims(self, client) -> dict:
        return {
            "iss": self.issuer,
            "aud": [client.client_id],
            "exp": int(time.time()) + self.lifetime,
        }

    def generate_user_info(self, user: Grantee, scope: str) -> UserInfo:
        return UserInfo(user_claims(user.fhir_user, self.fhir_base))
