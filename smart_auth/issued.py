"""Issued tokens as the introspection (RFC 7662) and revocation (RFC 7009) endpoints see them.

An access token is our signed JWT: it is active when it verifies (signature, issuer, audience,
expiry, revocation list: read from the store here, not through the FHIR API's cache). A refresh token is looked up by its digest.
"""

from smart_auth import opaque, replay
from smart_auth.models import RefreshToken, utcnow
from smart_auth.oidc import user_claims
from smart_auth.tokens import InvalidToken, TokenService


class IssuedAccessToken:
    def __init__(self, claims: dict):
        self.claims = claims
        self.client_id = claims.get("client_id")

    def check_client(self, client) -> bool:
        return self.client_id == client.client_id

    def is_expired(self) -> bool:
        return False  # verified on lookup

    def is_revoked(self) -> bool:
        return False  # verified on lookup

    def introspection(self, fhir_base: str) -> dict:
        claims = self.claims
        body = {
            "active": True,
            "token_type": "Bearer",
            "scope": claims.get("scope", ""),
            "client_id": self.client_id,
            "sub": claims.get("sub"),
            "iss": claims.get("iss"),
            "aud": claims.get("aud"),
            "exp": claims.get("exp"),
            "iat": claims.get("iat"),
        }
        if claims.get("patient"):
            body["patient"] = claims["patient"].removeprefix("Patient/")
        if claims.get("fhirUser"):
            body["fhirUser"] = user_claims(claims["fhirUser"], fhir_base)["fhirUser"]
        return body

    def revoke(self, tokens: TokenService) -> None:
        tokens.revoke(self.claims)


class IssuedRefreshToken:
    def __init__(self, record: RefreshToken):
        self.record = record
        self.client_id = record.client_id

    def check_client(self, client) -> bool:
        return self.client_id == client.client_id

    def is_expired(self) -> bool:
        return self.record.expires_at <= utcnow()

    def is_revoked(self) -> bool:
        return bool(self.record.revoked)

    def introspection(self, fhir_base: str) -> dict:
        record = self.record
        body = {
            "active": True,
            "token_type": "refresh_token",
            "scope": record.scope,
            "client_id": record.client_id,
            "sub": record.fhir_user,
            "exp": int(record.expires_at.timestamp()),
        }
        if record.patient:
            body["patient"] = record.patient.removeprefix("Patient/")
        if record.fhir_user:
            body["fhirUser"] = user_claims(record.fhir_user, fhir_base)["fhirUser"]
        return body

    def revoke(self, tokens: TokenService) -> None:
        """The refresh token and, through its chain, the access tokens it renewed (RFC 7009 2.1:
        the server may revoke the access tokens issued from the same grant)."""
        RefreshToken.objects(id=self.record.id).update(set__revoked=True)
        if self.record.family:
            replay.revoke_family(self.record.family)


def find(
    tokens: TokenService, value: str, hint: str | None
) -> IssuedAccessToken | IssuedRefreshToken | None:
    """The token `value` names, whatever the hint says (RFC 7009 section 2.1: hints may be wrong)."""
    if value.count(".") == 2:
        try:
            return IssuedAccessToken(tokens.verify(value, fresh=True))
        except InvalidToken:
            return None
    record = RefreshToken.objects(token_hash=opaque.digest(value)).first()
    return IssuedRefreshToken(record) if record else None
