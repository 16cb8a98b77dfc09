"""private_key_jwt client authentication (RFC 7523 section 2.2) as SMART Backend Services use it.

https://hl7.org/fhir/smart-app-launch/backend-services.html#authenticating-to-the-token-endpoint
The assertion is signed RS384 or ES384 with a key of the client's `jwks` / `jwks_uri`; `iss` =
`sub` = client_id; `aud` the token endpoint; `exp` at most five minutes ahead; a `jti` is never
accepted twice.
"""

import time
from datetime import UTC, datetime

import mongoengine as me
from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jwt
from joserfc.errors import JoseError

from smart_auth.models import UsedAssertion

PRIVATE_KEY_JWT = "private_key_jwt"
ALGORITHMS = ["RS384", "ES384"]
MAX_LIFETIME = 300  # seconds: the Backend Services profile's limit on `exp`


class PrivateKeyJWT(JWTBearerClientAssertion):
    CLIENT_AUTH_METHOD = PRIVATE_KEY_JWT

    def __init__(self, token_endpoint: str, leeway: int = 30):
        super().__init__(validate_jti=True, leeway=leeway)
        self.token_endpoint = token_endpoint

    def get_audiences(self) -> list[str]:
        return [self.token_endpoint]

    def resolve_client_public_key(self, client):
        try:
            return client.public_keys()
        except (OSError, ValueError, JoseError) as exc:
            raise InvalidClientError(description="The client's JWKS could not be read") from exc

    def process_assertion_claims(self, assertion, resolve_key):
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ALGORITHMS)
        except (JoseError, ValueError) as exc:
            description = getattr(exc, "description", None) or exc.__class__.__name__
            raise InvalidClientError(
                description=f"The client assertion is not valid (RS384 or ES384 signature "
                f"by a registered key required): {description}"
            ) from exc
        self.verify_claims(token.claims)
        return token.claims

    def verify_claims(self, claims):
        exp = claims.get("exp")
        if isinstance(exp, int | float) and exp > time.time() + MAX_LIFETIME + self.leeway:
            raise InvalidClientError(
                description="The assertion's exp must be at most 5 minutes in the future"
            )
        super().verify_claims(claims)

    def validate_jti(self, claims, jti) -> bool:
        """Record the jti atomically (unique index): a replayed assertion is refused."""
        if not isinstance(jti, str) or not jti:
            return False
        expires = datetime.fromtimestamp(int(claims["exp"]) + self.leeway, UTC)
        try:
            UsedAssertion(
                jti=f"{claims['iss']} {jti}", client_id=claims["sub"], expires_at=expires
            ).save(force_insert=True)
        except me.NotUniqueError:
            return False
        return True
