"""The grant types, configured on authlib's: https://www.rfc-editor.org/rfc/rfc6749#section-4

- authorization code (section 4.1) with PKCE S256 and OpenID Connect, SMART App Launch;
- refresh token (section 6), rotated on every use (RFC 9700 section 4.14.2);
- client credentials (section 4.4) with private_key_jwt: SMART Backend Services.
Codes are single-use (claimed atomically), bound to the client, redirect URI and PKCE challenge.
"""

import time
from datetime import timedelta

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error, grants

from smart_auth import launch, opaque, replay, scope_rules
from smart_auth.grantee import Grantee
from smart_auth.models import AuthorizationCode, RefreshToken, utcnow
from smart_auth.rfc7523 import PRIVATE_KEY_JWT

CODE_LIFETIME = 300  # seconds; RFC 6749 section 4.1.2 recommends at most 10 minutes
CLIENT_AUTH_METHODS = [PRIVATE_KEY_JWT, "client_secret_basic", "client_secret_post", "none"]


class StoredCode:
    """An AuthorizationCode record as authlib's AuthorizationCodeMixin (and OpenID's) expects."""

    def __init__(self, record: AuthorizationCode):
        self.record = record
        self.code_challenge = record.code_challenge
        self.code_challenge_method = record.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.record.redirect_uri

    def get_scope(self) -> str:
        return self.record.scope

    def get_nonce(self) -> str | None:
        return self.record.nonce

    def get_auth_time(self) -> int | None:
        return self.record.auth_time

    def get_acr(self) -> None:
        return None

    def get_amr(self) -> None:
        return None


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def validate_requested_scope(self):
        scope_rules.check_interactive(self.request.payload.scope, self.request.client)

    def validate_authorization_request(self) -> str:
        redirect_uri = super().validate_authorization_request()
        # SMART App Launch: `aud` names the FHIR server, so a token is never asked for elsewhere.
        aud = (self.request.payload.data.get("aud") or "").rstrip("/")
        if aud != self.server.fhir_base.rstrip("/"):
            raise InvalidRequestError(
                f"'aud' must be this FHIR server's base URL, {self.server.fhir_base}",
                redirect_uri=redirect_uri,
            )
        return redirect_uri

    def create_authorization_response(self, redirect_uri: str, grant_user):
        try:
            return super().create_authorization_response(redirect_uri, grant_user)
        except OAuth2Error as error:
            # Errors found once the person is known go back to the client, like the others.
            error.redirect_uri = redirect_uri
            raise

    def save_authorization_code(self, code: str, request) -> None:
        account = request.user
        scope = request.scope or ""
        params = dict(request.payload.data)
        grantee = launch.resolve(account.fhir_user, scope, params, account.represents)
        scope_rules.check_for_person(scope_rules.parse(scope), grantee.actor)
        AuthorizationCode(
            code_hash=opaque.digest(code),
            client_id=request.client.client_id,
            redirect_uri=request.payload.redirect_uri or request.client.get_default_redirect_uri(),
            scope=scope,
            fhir_user=grantee.fhir_user,
            patient=grantee.patient,
            code_challenge=params.get("code_challenge"),
            code_challenge_method=params.get("code_challenge_method"),
            nonce=params.get("nonce"),
            auth_time=int(time.time()),
            purpose_of_use=grantee.purpose_of_use,
            purpose_reason=grantee.purpose_reason,
            need_patient_banner=grantee.need_patient_banner,
            expires_at=utcnow() + timedelta(seconds=CODE_LIFETIME),
        ).save()

    def query_authorization_code(self, code: str, client) -> StoredCode | None:
        # Claimed atomically: a code is redeemed at most once, even by concurrent requests.
        digest = opaque.digest(code)
        record = AuthorizationCode.objects(
            code_hash=digest, client_id=client.client_id, used=False
        ).modify(set__used=True, new=True)
        if record is None:
            if AuthorizationCode.objects(
                code_hash=digest, client_id=client.client_id, used=True
            ).first():
                replay.revoke_family(digest)  # RFC 6749 4.1.2: a code used twice
            return None
        if record.expires_at <= utcnow():
            return None
        return StoredCode(record)

    def delete_authorization_code(self, authorization_code: StoredCode) -> None:
        """Nothing left to do: the code was marked used when it was claimed."""

    def authenticate_user(self, authorization_code: StoredCode) -> Grantee:
        return Grantee.of(authorization_code.record)


class StoredRefreshToken:
    """A RefreshToken record as authlib's TokenMixin."""

    def __init__(self, record: RefreshToken):
        self.record = record

    def check_client(self, client) -> bool:
        return self.record.client_id == client.client_id

    def get_scope(self) -> str:
        return self.record.scope


class RotatingRefreshTokenGrant(grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CLIENT_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> StoredRefreshToken | None:
        # Claimed (revoked) atomically: a refresh token works once, then only its successor.
        digest = opaque.digest(refresh_token)
        record = RefreshToken.objects(token_hash=digest, revoked=False).modify(
            set__revoked=True, new=True
        )
        if record is None:
            replayed = RefreshToken.objects(token_hash=digest, revoked=True).first()
            if replayed is not None and replayed.family:
                replay.revoke_family(replayed.family)  # RFC 9700 4.14.2: a rotated-out token
            return None
        if record.expires_at <= utcnow():
            return None
        return StoredRefreshToken(record)

    def authenticate_user(self, refresh_token: StoredRefreshToken) -> Grantee:
        return Grantee.of(refresh_token.record)

    def revoke_old_credential(self, refresh_token: StoredRefreshToken) -> None:
        """Already revoked when it was claimed."""


class BackendServicesGrant(grants.ClientCredentialsGrant):
    """https://hl7.org/fhir/smart-app-launch/backend-services.html#obtaining-an-access-token"""

    TOKEN_ENDPOINT_AUTH_METHODS = [PRIVATE_KEY_JWT]

    def validate_requested_scope(self):
        scope_rules.check_backend(self.request.payload.scope, self.request.client)
