"""The authorization server's HTTP endpoints (HTML-free): token, introspection, revocation,
registration, JWKS, userinfo, EHR launch registration and discovery.

https://hl7.org/fhir/smart-app-launch/app-launch.html - errors are OAuth JSON errors
(RFC 6749 section 5.2), never OperationOutcomes. The browser pages (/auth/authorize) live in
smart_auth.login.
"""

import hmac

from authlib.oauth2.rfc6749 import OAuth2Error, UnauthorizedClientError
from flask import Blueprint, current_app, jsonify, request

from smart_auth import discovery, launch, rfc7591
from smart_auth.oidc import user_claims
from smart_auth.rfc7523 import PRIVATE_KEY_JWT
from smart_auth.server import server_for
from smart_auth.services import AuthServices
from smart_auth.tokens import InvalidToken

blueprint = Blueprint("smart_auth", __name__)
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
AUTHENTICATED = [PRIVATE_KEY_JWT, "client_secret_basic", "client_secret_post"]


@blueprint.record_once
def _build_server(state) -> None:
    server_for(state.app.extensions["carnet"].auth)


def _auth() -> AuthServices:
    return current_app.extensions["carnet"].auth


def _json_error(status: int, error: str, description: str, headers: dict | None = None):
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    response.headers.update({**NO_STORE, **(headers or {})})
    return response


@blueprint.post("/auth/token")
def token():
    """RFC 6749 section 3.2."""
    return server_for(_auth()).create_token_response()


@blueprint.post("/auth/introspect")
def introspect():
    """RFC 7662 section 2."""
    return server_for(_auth()).create_endpoint_response("introspection")


@blueprint.post("/auth/revoke")
def revoke():
    """RFC 7009 section 2."""
    return server_for(_auth()).create_endpoint_response("revocation")


@blueprint.post("/auth/register")
def register():
    """RFC 7591 section 3, behind the administrator's credential (initial access token)."""
    admin = _auth().settings.admin_token
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    if not admin:
        return _json_error(
            403, "access_denied", "Registration is disabled: FHIR_SERVER_ADMIN_TOKEN is not set"
        )
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip(), admin):
        return _json_error(
            401,
            "invalid_token",
            "Registering a client needs the administrator's credential",
            {"WWW-Authenticate": 'Bearer realm="carnet", error="invalid_token"'},
        )
    try:
        body = rfc7591.register_client(request.get_json(silent=True))
    except rfc7591.ClientMetadataError as error:
        response = jsonify(error.as_json())
        response.status_code = 400
        return response
    response = jsonify(body)
    response.status_code = 201
    response.headers.update(NO_STORE)
    return response


@blueprint.post("/auth/launch")
def register_launch():
    """EHR launch: labelled professional software registers its patient, gets `launch`."""
    server = server_for(_auth())
    oauth_request = server.create_oauth2_request(None)
    try:
        client = server.authenticate_client(oauth_request, AUTHENTICATED, "launch")
        if not client.labelled:
            raise UnauthorizedClientError(
                "Only labelled professional software registers EHR launches"
            )
    except OAuth2Error as error:
        return server.handle_error_response(oauth_request, error)
    patient = (request.form.get("patient") or "").strip()
    reference = patient.removeprefix("Patient/")
    if not reference or "/" in reference:
        return _json_error(400, "invalid_request", "patient must be 'Patient/<id>'")
    value, lifetime = launch.register_launch(client.client_id, f"Patient/{reference}")
    response = jsonify({"launch": value, "expires_in": lifetime, "patient": reference})
    response.headers.update(NO_STORE)
    return response


@blueprint.route("/auth/userinfo", methods=["GET", "POST"])
def userinfo():
    """OpenID Connect Core section 5.3: who the access token's person is."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer":
            raise InvalidToken("a bearer access token is required")
        claims = _auth().tokens.verify(value.strip())
    except InvalidToken:
        return _json_error(
            401,
            "invalid_token",
            "The access token is missing or not valid",
            {"WWW-Authenticate": 'Bearer realm="carnet", error="invalid_token"'},
        )
    if not claims.get("fhirUser") or "openid" not in claims.get("scope", "").split():
        return _json_error(403, "insufficient_scope", "userinfo needs openid and a person")
    return jsonify(user_claims(claims["fhirUser"], _auth().settings.base_url))


@blueprint.get("/auth/jwks")
def jwks():
    """RFC 7517 section 5: the public keys tokens are signed with."""
    return jsonify(_auth().keys.public_jwks())


@blueprint.get("/.well-known/openid-configuration")
def openid_configuration():
    return jsonify(discovery.openid_configuration(_auth().settings.public_root))


@blueprint.get("/fhir/.well-known/smart-configuration")
@blueprint.get("/.well-known/smart-configuration")  # at the root too, as some apps look there
def smart_configuration():
    return jsonify(discovery.smart_configuration(_auth().settings.public_root))
