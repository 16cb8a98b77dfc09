"""Professionals' sign-in through an external OpenID Connect provider (e.g. Pro Santé Connect).

OpenID Connect Core 1.0 section 3.1, the authorization code flow
(https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth), with authlib's Flask client:
the provider is found by discovery (OpenID Connect Discovery 1.0 section 4,
`<issuer>/.well-known/openid-configuration`); the authentication request carries `state`, a
`nonce` and a PKCE S256 challenge (RFC 7636); the callback checks `state` against the session,
redeems the code with the verifier, and validates the ID token as section 3.1.3.7 requires:
signature against the provider's JWKS, `iss` the configured issuer, `aud` our client id, `exp`,
and `nonce` the one sent. The claim FHIR_SERVER_PRO_IDP_ID_CLAIM (default `sub`) names the
professional; it must equal the `external_subject` an administrator set on a Practitioner's
account. Nobody unknown gets an account. The provider's authentication replaces both the
password and the one-time code.

Nothing here logs a code, token, secret or the professional's id: failures log their class only.
"""

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.flask_client import OAuth
from flask import Flask, current_app
from joserfc.errors import JoseError
from requests import RequestException

from smart_auth.models import Account

log = logging.getLogger("carnet.login.external")

NAME = "pro_idp"
HTTP_TIMEOUT = 10  # seconds, for discovery, JWKS and the token request
_EXTENSION = "carnet_pro_idp"


class ExternalLoginRefused(Exception):
    """The external sign-in did not end with a known professional; `message` is safe to show."""

    def __init__(self, status: int, title: str, message: str):
        super().__init__(title)
        self.status = status
        self.title = title
        self.message = message


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    id_claim: str
    name: str


def init_app(app: Flask) -> None:
    """Register the provider's client when FHIR_SERVER_PRO_IDP_ISSUER is set."""
    settings = app.extensions["carnet"].settings
    if not settings.pro_idp_issuer:
        return
    if not settings.pro_idp_client_id:
        raise ValueError(
            "FHIR_SERVER_PRO_IDP_ISSUER is set but FHIR_SERVER_PRO_IDP_CLIENT_ID is not"
        )
    issuer = settings.pro_idp_issuer.rstrip("/")
    scopes = settings.pro_idp_scope.split()
    if "openid" not in scopes:
        scopes.insert(0, "openid")
    oauth = OAuth(app)
    oauth.register(
        NAME,
        client_id=settings.pro_idp_client_id,
        client_secret=settings.pro_idp_client_secret,
        server_metadata_url=issuer + "/.well-known/openid-configuration",
        client_kwargs={
            "scope": " ".join(scopes),
            "code_challenge_method": "S256",
            "default_timeout": HTTP_TIMEOUT,
            "token_endpoint_auth_method": (
                "client_secret_basic" if settings.pro_idp_client_secret else "none"
            ),
        },
    )
    app.extensions[_EXTENSION] = Provider(
        issuer=settings.pro_idp_issuer,
        client_id=settings.pro_idp_client_id,
        id_claim=settings.pro_idp_id_claim,
        name=settings.pro_idp_name or urlsplit(issuer).hostname or issuer,
    )


def provider() -> Provider | None:
    """The configured provider of this app, or None (built-in login only)."""
    return current_app.extensions.get(_EXTENSION)


def _client():
    return current_app.extensions["authlib.integrations.flask_client"].create_client(NAME)


def redirect_to_provider(callback_url: str):
    """OIDC Core section 3.1.2.1: the authentication request (state, nonce, PKCE kept in session)."""
    try:
        return _client().authorize_redirect(callback_url)
    except (RequestException, ValueError, KeyError, RuntimeError) as exc:
        log.warning("external identity provider unreachable: %s", type(exc).__name__)
        raise _unavailable() from exc


def complete() -> Account:
    """OIDC Core sections 3.1.2.5-3.1.3.7: check the response, redeem the code, map the person."""
    current = provider()
    claims_options = {
        "iss": {"essential": True, "value": current.issuer},
        "aud": {"essential": True, "value": current.client_id},
    }
    try:
        token = _client().authorize_access_token(claims_options=claims_options)
    except OAuthError as exc:
        log.warning("external sign-in refused: %s", type(exc).__name__)
        raise ExternalLoginRefused(
            400,
            "Sign-in did not complete",
            f"{current.name} did not confirm who you are, or this sign-in expired. "
            "Go back to the app and start again.",
        ) from exc
    except JoseError as exc:
        log.warning("external sign-in refused, ID token invalid: %s", type(exc).__name__)
        raise _untrusted(current) from exc
    except (RequestException, ValueError, KeyError, RuntimeError) as exc:
        log.warning("external sign-in failed: %s", type(exc).__name__)
        raise _unavailable() from exc
    claims = token.get("userinfo")
    if not claims:  # no ID token: section 3.1.3.3 requires one
        log.warning("external sign-in refused: no ID token")
        raise _untrusted(current)
    subject = claims.get(current.id_claim)
    account = (
        Account.objects(external_subject=subject).first()
        if isinstance(subject, str) and subject
        else None
    )
    if account is None or not account.fhir_user.startswith("Practitioner/"):
        log.info("external sign-in refused: no professional account for this identity")
        raise ExternalLoginRefused(
            403,
            "No Carnet account for you yet",
            f"{current.name} confirmed who you are, but no Carnet professional account is linked "
            "to your identity. Ask your Carnet administrator to link your account to your "
            "national identifier.",
        )
    return account


def _untrusted(current: Provider) -> ExternalLoginRefused:
    return ExternalLoginRefused(
        400,
        "Sign-in could not be verified",
        f"The answer from {current.name} could not be verified, so it was refused. "
        "Go back to the app and start again.",
    )


def _unavailable() -> ExternalLoginRefused:
    return ExternalLoginRefused(
        502,
        "Identity provider unavailable",
        "The professional identity provider cannot be reached right now. Try again later.",
    )
