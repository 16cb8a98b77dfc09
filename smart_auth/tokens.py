"""Access tokens: signed JWTs (RFC 9068 profile) carrying the SMART context, and their checks.

Claims: iss, aud (the FHIR base), sub, client_id, scope, iat, exp, jti, plus Carnet's context:
`actor` (patient | practitioner | system), `fhirUser`, `patient`, `labelled`, `purpose_of_use`
(TRE_R248 code) and `purpose_reason`. Verification checks signature, issuer, audience, expiry
and the revocation list (smart_auth.revocation: cached, with bounded staleness), so app servers
keep no session state.
"""

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from joserfc import jws, jwt
from joserfc.errors import JoseError

from smart_auth import revocation
from smart_auth.keys import ALGORITHM, KeyRing
from smart_auth.revocation import RevocationList


class InvalidToken(Exception):
    """Missing, malformed, forged, expired, wrongly addressed or revoked: 401."""


@dataclass(frozen=True)
class TokenService:
    keys: KeyRing
    issuer: str
    audience: str
    lifetime: int
    # Without a staleness (a service built for a test or a script): looked up on every check.
    revocations: RevocationList = field(default_factory=lambda: RevocationList(0))

    def issue(
        self,
        *,
        client_id: str,
        scope: str,
        actor: str,
        subject: str,
        fhir_user: str | None = None,
        patient: str | None = None,
        labelled: bool = False,
        purpose_of_use: str = "normal",
        purpose_reason: str | None = None,
        lifetime: int | None = None,
        organization: str | None = None,
        platform: bool = False,
    ) -> tuple[str, dict]:
        """Return (the signed token, its claims)."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": subject,
            "client_id": client_id,
            "scope": scope,
            "iat": now,
            "exp": now + (lifetime or self.lifetime),
            "jti": secrets.token_urlsafe(18),
            "actor": actor,
            "labelled": labelled,
            "purpose_of_use": purpose_of_use,
        }
        optional = {
            "fhirUser": fhir_user,
            "patient": patient,
            "purpose_reason": purpose_reason,
            "organization": organization,
            "platform": platform,
        }
        claims.update((name, value) for name, value in optional.items() if value)
        key = self.keys.current()
        token = jwt.encode({"alg": ALGORITHM, "kid": key.kid, "typ": "at+jwt"}, claims, key)
        return token, claims

    def verify(self, token: str, fresh: bool = False) -> dict:
        """The token's claims, or InvalidToken. The revocation list is read through its cache
        (bounded staleness), or from the store when `fresh` (introspection, revocation)."""
        try:
            kid = jws.extract_compact(token.encode()).headers().get("kid")
            if kid is not None and not isinstance(kid, str):
                raise InvalidToken("the token's kid header is not a string")
            decoded = jwt.decode(token, self.keys.verification_keys(kid), algorithms=[ALGORITHM])
            registry = jwt.JWTClaimsRegistry(
                leeway=5,
                iss={"essential": True, "value": self.issuer},
                aud={"essential": True, "value": self.audience},
                exp={"essential": True},
                jti={"essential": True},
            )
            registry.validate(decoded.claims)
        except (JoseError, ValueError) as exc:
            raise InvalidToken(
                str(getattr(exc, "description", None) or exc.__class__.__name__)
            ) from exc
        claims = decoded.claims
        if self.revocations.is_revoked(claims["jti"], fresh):
            raise InvalidToken("the token was revoked")
        return claims

    def revoke(self, claims: dict) -> None:
        revocation.record(claims["jti"], datetime.fromtimestamp(claims["exp"], UTC))
