"""The server's signing keys (JWK, RFC 7517): made on first start, kept in MongoDB, rotated.

Tokens are signed with the newest key; retired keys stay in the published JWKS for as long as a
token they signed can live, so rotation never invalidates a token early.

Every worker and `fhir-server rotate-keys` share the keys through the store, and a rotation made by
another process takes effect at once: signing a token and publishing the JWKS first look up the
newest key's kid (one small query) and reload when it changed. Checking a token is on every
request's path, so the imported keys are cached there for a short while, and a token naming a key
this process has not seen yet reloads them.
"""

import secrets
import threading
import time
from datetime import timedelta

from joserfc.jwk import KeySet, RSAKey

from smart_auth.models import SigningKey, utcnow

ALGORITHM = "RS256"
CACHE_SECONDS = 60


class KeyRing:
    def __init__(self, token_lifetime: int):
        self.token_lifetime = token_lifetime
        self._lock = threading.Lock()
        self._loaded_at = 0.0
        self._signing: RSAKey | None = None
        self._published: list[RSAKey] = []

    def _new(self) -> SigningKey:
        kid = secrets.token_urlsafe(12)
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "alg": ALGORITHM, "use": "sig"})
        return SigningKey(kid=kid, private_jwk=key.as_dict(private=True)).save()

    def _load(self) -> None:
        horizon = utcnow() - timedelta(seconds=self.token_lifetime + 60)
        live = list(SigningKey.objects(retired_at=None).order_by("-created")) or [self._new()]
        retired = list(SigningKey.objects(retired_at__gte=horizon))
        self._signing = RSAKey.import_key(live[0].private_jwk)
        self._published = [RSAKey.import_key(k.private_jwk) for k in live + retired]
        self._loaded_at = time.monotonic()

    def _fresh(self, kid: str | None = None, newest: bool = False) -> None:
        """Reload when never loaded, stale, asked for an unknown kid, or (`newest`) rotated."""
        latest = None
        if newest:
            found = SigningKey.objects(retired_at=None).order_by("-created").only("kid").first()
            latest = found.kid if found else None
        with self._lock:
            stale = time.monotonic() - self._loaded_at > CACHE_SECONDS
            unknown = kid is not None and kid not in {k.kid for k in self._published}
            rotated = newest and (self._signing is None or latest != self._signing.kid)
            if self._signing is None or stale or unknown or rotated:
                self._load()

    def current(self) -> RSAKey:
        self._fresh(newest=True)
        return self._signing

    def rotate(self) -> str:
        """Retire the current key and start signing with a new one; returns the new kid."""
        SigningKey.objects(retired_at=None).update(set__retired_at=utcnow())
        kid = self._new().kid
        with self._lock:
            self._load()
        return kid

    def verification_keys(self, kid: str | None = None) -> KeySet:
        self._fresh(kid)
        return KeySet(list(self._published))

    def public_jwks(self) -> dict:
        """The JWKS document: public parts only."""
        self._fresh(newest=True)
        return {"keys": [k.as_dict(private=False) for k in self._published]}
