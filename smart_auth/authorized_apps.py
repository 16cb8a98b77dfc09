"""The apps a person authorized: recorded on approval, listed and revoked by that person.

Revoking stops the app's refresh tokens for that person (RFC 7009 section 2.1,
https://www.rfc-editor.org/rfc/rfc7009#section-2.1: revoking a grant invalidates its refresh
tokens); access tokens already issued run out within the configured access-token lifetime.
"""

from dataclasses import dataclass
from datetime import datetime

from bson import ObjectId
from bson.errors import InvalidId

from smart_auth import replay
from smart_auth.models import AppGrant, OAuthClient, RefreshToken, utcnow
from smart_auth.scope_text import Permission, describe


@dataclass(frozen=True)
class AuthorizedApp:
    grant_id: str
    client_id: str
    name: str
    granted_at: datetime
    permissions: list[Permission]


def record_grant(fhir_user: str, client_id: str, scope: str) -> None:
    """Remember (or renew) that `fhir_user` authorized `client_id` for `scope`."""
    AppGrant.objects(fhir_user=fhir_user, client_id=client_id).modify(
        upsert=True,
        set__scope=scope,
        set__granted_at=utcnow(),
        unset__revoked_at=True,
    )


def authorized_apps(fhir_user: str, language: str = "en") -> list[AuthorizedApp]:
    grants = list(AppGrant.objects(fhir_user=fhir_user, revoked_at=None).order_by("-granted_at"))
    names = {
        c.client_id: c.client_name
        for c in OAuthClient.objects(client_id__in=[g.client_id for g in grants])
    }
    return [
        AuthorizedApp(
            str(g.id),
            g.client_id,
            names.get(g.client_id, g.client_id),
            g.granted_at,
            describe(g.scope, language),
        )
        for g in grants
    ]


def revoke_grant(fhir_user: str, grant_id: str) -> bool:
    """Revoke one of `fhir_user`'s grants and every token that app holds for them."""
    try:
        oid = ObjectId(grant_id)
    except (InvalidId, TypeError):
        return False
    grant = AppGrant.objects(id=oid, fhir_user=fhir_user, revoked_at=None).first()
    if grant is None:
        return False
    grant.update(set__revoked_at=utcnow())
    held = RefreshToken.objects(client_id=grant.client_id, fhir_user=fhir_user)
    for family in {t.family for t in held if t.family}:
        replay.revoke_family(family)
    held.filter(revoked=False).update(set__revoked=True)
    return True
