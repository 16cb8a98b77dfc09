"""Replayed credentials revoke what they produced.

https://www.rfc-editor.org/rfc/rfc6749#section-4.1.2 - an authorization code used twice: the
server SHOULD revoke the tokens issued from it. https://www.rfc-editor.org/rfc/rfc9700#section-4.14.2
- a rotated-out refresh token presented again: the whole chain it belongs to is revoked, since
either the client or an attacker holds a stolen copy.
"""

from datetime import UTC, datetime

from smart_auth import revocation
from smart_auth.models import IssuedToken, RefreshToken


def record_issued(jti: str, family: str, exp: int) -> None:
    IssuedToken(jti=jti, family=family, expires_at=datetime.fromtimestamp(exp, UTC)).save()


def revoke_family(family: str) -> None:
    for issued in IssuedToken.objects(family=family):
        revocation.record(issued.jti, issued.expires_at)
    RefreshToken.objects(family=family).update(set__revoked=True)
