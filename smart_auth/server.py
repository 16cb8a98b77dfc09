"""The OAuth 2.0 / OpenID Connect authorization server (authlib's Flask integration).

https://hl7.org/fhir/smart-app-launch/app-launch.html and
https://hl7.org/fhir/smart-app-launch/backend-services.html - one AuthorizationServer per app,
kept at `AuthServices.extra["server"]`. The login and consent pages call
`server.get_consent_grant(end_user=account)` and
`server.create_authorization_response(grant_user=account)` with a `models.Account`.
"""

import logging

from authlib.integrations.flask_oauth2 import AuthorizationServer

from smart_auth.clients import query_client
from smart_auth.discovery import endpoints
from smart_auth.grants import (
    AuthorizationCodeGrant,
    BackendServicesGrant,
    RotatingRefreshTokenGrant,
)
from smart_auth.oidc import SmartOpenIDCode
from smart_auth.rfc7009 import SmartRevocationEndpoint
from smart_auth.rfc7523 import PRIVATE_KEY_JWT, PrivateKeyJWT
from smart_auth.rfc7636 import S256CodeChallenge
from smart_auth.rfc7662 import SmartIntrospectionEndpoint
from smart_auth.services import AuthServices
from smart_auth.token_response import TokenResponder

# authlib logs issued tokens at DEBUG level ("Issue token ..."): tokens never reach a log.
logging.getLogger("authlib").setLevel(logging.INFO)


class SmartAuthorizationServer(AuthorizationServer):
    """authlib's Flask server, knowing the FHIR base its tokens are for (the `aud` to check)."""

    def __init__(self, fhir_base: str, responder: TokenResponder):
        super().__init__(query_client=query_client, save_token=responder.save)
        self.fhir_base = fhir_base


def build_server(auth: AuthServices) -> SmartAuthorizationServer:
    settings = auth.settings
    responder = TokenResponder(
        auth.tokens, settings.refresh_lifetime, settings.emergency_token_lifetime
    )
    server = SmartAuthorizationServer(settings.base_url, responder)
    server.register_token_generator("default", responder)
    server.register_client_auth_method(
        PRIVATE_KEY_JWT, PrivateKeyJWT(endpoints(settings.public_root)["token_endpoint"])
    )
    openid = SmartOpenIDCode(
        auth.keys, settings.public_root, settings.base_url, settings.token_lifetime
    )
    server.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True), openid])
    server.register_grant(RotatingRefreshTokenGrant)
    server.register_grant(BackendServicesGrant)
    server.register_endpoint(SmartIntrospectionEndpoint(server, auth.tokens, settings.base_url))
    server.register_endpoint(SmartRevocationEndpoint(server, auth.tokens))
    return server


def server_for(auth: AuthServices) -> SmartAuthorizationServer:
    """The app's authorization server, built on first use."""
    if "server" not in auth.extra:
        auth.extra["server"] = build_server(auth)
    return auth.extra["server"]
