"""Opaque credentials: authorization codes, refresh tokens, launch values and client secrets.

https://www.rfc-editor.org/rfc/rfc6749#section-10.10 - credentials are unguessable random values;
the server keeps only their SHA-256 digest, so a copy of the database cannot be replayed.
"""

import hashlib
import hmac
import secrets


def new_value(nbytes: int = 32) -> str:
    """A fresh random credential, URL-safe."""
    return secrets.token_urlsafe(nbytes)


def digest(value: str) -> str:
    """What the database stores in place of the credential."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def matches(value: str, stored_digest: str | None) -> bool:
    """Constant-time check of a presented credential against its stored digest."""
    return bool(stored_digest) and hmac.compare_digest(digest(value), stored_digest)
