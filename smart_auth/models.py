"""The authorization server's own records (mongoengine): accounts, clients, codes, keys, revocations.

Fixed-shape data that is not FHIR. Secrets (passwords, client secrets, codes, refresh tokens) are
stored only as hashes.
"""

from datetime import UTC, datetime

import mongoengine as me

ALIAS = "carnet-auth"


def utcnow() -> datetime:
    return datetime.now(UTC)


class _Base(me.Document):
    meta = {"abstract": True, "db_alias": ALIAS}


class _Expiring(_Base):
    """A record the database deletes by itself once it has expired (a TTL index on expires_at)."""

    expires_at = me.DateTimeField(required=True)
    meta = {"abstract": True}


def _expiring(collection: str, *indexes, grace: int = 0) -> dict:
    """The meta of an _Expiring record: deleted `grace` seconds after `expires_at`."""
    ttl = {"fields": ["expires_at"], "expireAfterSeconds": grace}
    return {"collection": collection, "indexes": [ttl, *indexes]}


class Account(_Base):
    """A person who logs in: a Patient or a Practitioner (fhir_user), with their second factor."""

    username = me.StringField(required=True, unique=True)
    password_hash = me.StringField(required=True)
    fhir_user = me.StringField(
        required=True
    )  # "Patient/<id>", "Practitioner/<id>" or "RelatedPerson/<id>"
    # A legal representative (RelatedPerson account): the Patient whose record they act on, set by
    # the operator once the representation is established, never by the person.
    represents = me.StringField()
    otp_channel = me.StringField(choices=("email", "sms"), default="email")
    otp_address = me.StringField(required=True)  # where one-time codes are sent
    # The professional's national id as the external identity provider asserts it (its
    # FHIR_SERVER_PRO_IDP_ID_CLAIM claim, e.g. an RPPS number); None: built-in login only.
    external_subject = me.StringField(unique=True, sparse=True)
    failed_logins = me.IntField(default=0)
    locked_until = me.DateTimeField()
    created = me.DateTimeField(default=utcnow)
    meta = {"collection": "auth_accounts", "indexes": ["fhir_user", "represents"]}


class OAuthClient(_Base):
    """A registered application (RFC 7591 metadata plus `labelled`)."""

    client_id = me.StringField(required=True, unique=True)
    client_secret_hash = me.StringField()
    client_name = me.StringField(required=True)
    redirect_uris = me.ListField(me.StringField())
    grant_types = me.ListField(me.StringField())
    response_types = me.ListField(me.StringField())
    scope = me.StringField(default="")
    token_endpoint_auth_method = me.StringField(default="none")
    jwks = me.DictField()
    jwks_uri = me.StringField()
    labelled = me.BooleanField(default=False)
    # Backend clients only, set by the operator: the Organization the client acts for (it
    # deposits and reads back what it deposited), or `platform` for the operator's own services.
    organization = me.StringField()
    platform = me.BooleanField(default=False)
    created = me.DateTimeField(default=utcnow)
    meta = {"collection": "auth_clients"}


class LoginChallenge(_Expiring):
    """A login in progress: password checked, one-time code sent, waiting for the code."""

    challenge_id = me.StringField(required=True, unique=True)
    username = me.StringField(required=True)
    code_hash = me.StringField(required=True)
    attempts = me.IntField(default=0)
    used = me.BooleanField(default=False)
    meta = _expiring("auth_login_challenges")


class _Grant(_Expiring):
    """What an authorization code or a refresh token grants: a client, scopes, SMART context."""

    client_id = me.StringField(required=True)
    scope = me.StringField(default="")
    fhir_user = me.StringField()
    patient = me.StringField()
    purpose_of_use = me.StringField(default="normal")
    purpose_reason = me.StringField()
    need_patient_banner = me.BooleanField(default=True)
    meta = {"abstract": True}


class AuthorizationCode(_Grant):
    """A code issued at /auth/authorize, redeemed once (RFC 6749 section 4.1, PKCE RFC 7636)."""

    code_hash = me.StringField(required=True, unique=True)
    fhir_user = me.StringField(required=True)  # a code is always issued to a signed-in person
    redirect_uri = me.StringField(required=True)
    code_challenge = me.StringField()
    code_challenge_method = me.StringField()
    nonce = me.StringField()
    auth_time = me.IntField()
    used = me.BooleanField(default=False)
    meta = _expiring("auth_codes", grace=3600)


class RefreshToken(_Grant):
    """A refresh token's digest and the grant it renews; replaced at each use (RFC 6749 section 6)."""

    token_hash = me.StringField(required=True, unique=True)
    revoked = me.BooleanField(default=False)
    family = me.StringField()  # the authorization code this chain of refreshes started from
    # the family a replay revokes; a person's tokens for an app they stop authorizing
    meta = _expiring("auth_refresh_tokens", "family", ("fhir_user", "client_id"))


class IssuedToken(_Expiring):
    """An access token issued from an authorization code or its refreshes (its family), so a
    replayed code or refresh token can revoke everything that came from it."""

    jti = me.StringField(required=True, unique=True)
    family = me.StringField(required=True)
    meta = _expiring("auth_issued_tokens", "family")


class RevokedToken(_Expiring):
    """A revoked access token, kept until it would have expired anyway."""

    jti = me.StringField(required=True, unique=True)
    meta = _expiring("auth_revoked")


class UsedAssertion(_Expiring):
    """A client assertion's jti, never accepted twice (SMART Backend Services)."""

    jti = me.StringField(required=True, unique=True)
    client_id = me.StringField(required=True)
    meta = _expiring("auth_used_assertions")


class LaunchContext(_Expiring):
    """An EHR launch registered by professional software: the opaque `launch` names a patient."""

    launch_id = me.StringField(required=True, unique=True)
    client_id = me.StringField(required=True)
    patient = me.StringField(required=True)
    meta = _expiring("auth_launches")


class AppGrant(_Base):
    """An app a patient (or professional) authorized; listed and revocable by them."""

    fhir_user = me.StringField(required=True)
    client_id = me.StringField(required=True)
    scope = me.StringField(default="")
    granted_at = me.DateTimeField(default=utcnow)
    revoked_at = me.DateTimeField()
    # smart_auth.authorized_apps: one app's grant; a person's grants, newest first.
    meta = {
        "collection": "auth_app_grants",
        "indexes": [("fhir_user", "client_id"), ("fhir_user", "-granted_at")],
    }


class SignInSession(_Expiring):
    """A completed sign-in on the server's pages (smart_auth.sessions); the cookie holds its id,
    stored here only as a digest. Ended by logout, a new sign-in, or a change of password."""

    id_hash = me.StringField(required=True, unique=True)
    username = me.StringField(required=True)
    password_stamp = me.StringField(required=True)  # a digest of the password hash it began with
    created = me.DateTimeField(default=utcnow)
    ended_at = me.DateTimeField()
    meta = _expiring("auth_sign_in_sessions", "username")


class LoginThrottle(_Expiring):
    """Failed password and code attempts, per username (known or not) and per client address.

    Keyed by a hash so unknown usernames leave no readable trace; counting unknown names too
    keeps lockout from revealing which usernames exist.
    """

    key = me.StringField(required=True, unique=True)
    failures = me.IntField(default=0)
    locked_until = me.DateTimeField()
    meta = _expiring("auth_login_throttle")


class SigningKey(_Base):
    """The server's token-signing keys; retired keys stay published until their tokens expire."""

    kid = me.StringField(required=True, unique=True)
    private_jwk = me.DictField(required=True)
    created = me.DateTimeField(default=utcnow)
    retired_at = me.DateTimeField()
    # smart_auth.keys: the live keys newest first (retired_at None), the recently retired ones.
    meta = {"collection": "auth_signing_keys", "indexes": [("retired_at", "-created")]}


class ServerSecret(_Base):
    """A random secret the server made for itself, shared by every worker and kept across restarts.

    Used when the operator sets no FHIR_SERVER_SECRET_KEY: sign-in sessions signed by one worker
    must be read by the others, and a record's Patient id (a keyed hash of the INS) must be the
    same whichever worker opens it. `name` says what it is for.
    """

    name = me.StringField(primary_key=True)
    value = me.StringField(required=True)
    created = me.DateTimeField(default=utcnow)
    meta = {"collection": "auth_server_secrets"}
