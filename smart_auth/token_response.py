"""The token endpoint's success response (RFC 6749 section 5.1) with the SMART launch context.

https://hl7.org/fhir/smart-app-launch/app-launch.html#response-5 - access_token (our signed JWT,
smart_auth.tokens), token_type, expires_in, scope, `patient` and `need_patient_banner` whenever
there is a patient in context, and a refresh token when `offline_access` or `online_access` was
granted. Refresh tokens are opaque and stored as digests with the context they renew.
"""

from datetime import timedelta

from smart_auth import opaque, replay, scope_rules
from smart_auth.grantee import Grantee
from smart_auth.models import RefreshToken, utcnow
from smart_auth.tokens import TokenService


class TokenResponder:
    """authlib's token generator: `(grant_type, client, user, scope, ...) -> token dict`."""

    def __init__(self, tokens: TokenService, refresh_lifetime: int, emergency_lifetime: int = 900):
        self.tokens = tokens
        self.refresh_lifetime = refresh_lifetime
        self.emergency_lifetime = emergency_lifetime

    def __call__(
        self,
        grant_type: str,
        client,
        user: Grantee | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict:
        scope = scope or ""
        # A client that lost its label loses user/ access on its next token, refresh included.
        scope_rules.check_user_scopes(scope_rules.parse(scope), client)
        if user is None:
            access, claims = self.tokens.issue(
                client_id=client.client_id,
                scope=scope,
                actor="system",
                subject=client.client_id,
                labelled=client.labelled,
                lifetime=expires_in,
                organization=client.organization,
                platform=bool(client.platform),
            )
        else:
            emergency = user.purpose_of_use != "normal"
            if emergency:
                # Break-glass and centre_15 tokens expire quickly and are never refreshed.
                expires_in = min(expires_in or self.emergency_lifetime, self.emergency_lifetime)
                include_refresh_token = False
            access, claims = self.tokens.issue(
                client_id=client.client_id,
                scope=scope,
                actor=user.actor,
                subject=user.fhir_user,
                fhir_user=user.fhir_user,
                patient=user.patient,
                labelled=client.labelled,
                purpose_of_use=user.purpose_of_use,
                purpose_reason=user.purpose_reason,
                lifetime=expires_in,
            )
            if user.family:
                replay.record_issued(claims["jti"], user.family, claims["exp"])
        token = {
            "token_type": "Bearer",
            "access_token": access,
            "expires_in": claims["exp"] - claims["iat"],
            "scope": scope,
        }
        if user is not None and user.patient:
            token["patient"] = user.patient.removeprefix("Patient/")
            token["need_patient_banner"] = user.need_patient_banner
        granted = set(scope.split())
        if include_refresh_token and user is not None and granted & set(scope_rules.REFRESH_SCOPES):
            token["refresh_token"] = opaque.new_value()
        return token

    def save(self, token: dict, request) -> None:
        """authlib's save_token: keep the refresh token's digest and the context it renews."""
        refresh = token.get("refresh_token")
        user: Grantee | None = request.user
        if not refresh or user is None:
            return
        RefreshToken(
            token_hash=opaque.digest(refresh),
            client_id=request.client.client_id,
            fhir_user=user.fhir_user,
            scope=token.get("scope", ""),
            patient=user.patient,
            purpose_of_use=user.purpose_of_use,
            purpose_reason=user.purpose_reason,
            need_patient_banner=user.need_patient_banner,
            expires_at=utcnow() + timedelta(seconds=self.refresh_lifetime),
            family=user.family,
        ).save()
