"""The server's signing keys (JWK, RFC 7517): made on first start, kept in MongoDB, rotated.

Tokens are signed with the newest key; retired keys stay in the published JWKS for as long as a
token they signed can live, so rotation never invalidates a token early.
"""

import secrets
from datetime import timedelta

from joserfc.jwk import KeySet, RSAKey

from smart_auth.models import SigningKey, utcnow

ALGORITHM = "RS256"


class KeyRing:
    def __init__(self, token_lifetime: int):
        self.token_lifetime = token_lifetime

    def _new(self) -> SigningKey:
        kid = secrets.token_urlsafe(12)
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
        return SigningKey(kid=kid, private_jwk=key.as_dict(private=True)).save()

    def current(self) -> RSAKey:
        newest = SigningKey.objects(retired_at=None).order_by("-created").first() or self._new()
        return RSAKey.import_key(newest.private_jwk)

    def rotate(self) -> str:
        """Retire the current key and start signing with a new one; returns the new kid."""
        SigningKey.objects(retired_at=None).update(set__retired_at=utcnow())
        return self._new().kid

    def _published(self) -> list[SigningKey]:
        horizon = utcnow() - timedelta(seconds=self.token_lifetime + 60)
        live = list(SigningKey.objects(retired_at=None))
        retired = list(SigningKey.objects(retired_at__gte=horizon))
        if not live:
            live = [self._new()]
        return live + retired

    def verification_keys(self) -> KeySet:
        return KeySet([RSAKey.import_key(k.private_jwk) for k in self._published()])

    def public_jwks(self) -> dict:
        """The JWKS document: public parts only."""
        keys = [RSAKey.import_key(k.private_jwk).as_dict(private=False) for k in self._published()]
        return {"keys": keys}
