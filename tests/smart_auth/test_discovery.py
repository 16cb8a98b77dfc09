"""Discovery: SMART configuration, OpenID Provider metadata, JWKS, CapabilityStatement security,
userinfo. https://hl7.org/fhir/smart-app-launch/conformance.html
"""

from joserfc import jwt
from joserfc.jwk import KeySet

from smart_auth.accounts import create_account

OAUTH_URIS = "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris"
REQUIRED = (
    "issuer",
    "jwks_uri",
    "authorization_endpoint",
    "grant_types_supported",
    "token_endpoint",
    "capabilities",
    "code_challenge_methods_supported",
)


def test_smart_configuration_has_every_required_field(app):
    response = app.test_client().get("/fhir/.well-known/smart-configuration")
    assert response.status_code == 200
    config = response.get_json()
    assert all(config.get(field) for field in REQUIRED), config
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["token_endpoint"] == "http://testserver/auth/token"
    assert config["issuer"] == "http://testserver"
    assert {"launch-ehr", "launch-standalone", "sso-openid-connect", "permission-v2"} <= set(
        config["capabilities"]
    )
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert "client_credentials" in config["grant_types_supported"]


def test_every_advertised_endpoint_exists(app):
    http = app.test_client()
    config = http.get("/fhir/.well-known/smart-configuration").get_json()
    for field in ("token_endpoint", "introspection_endpoint", "revocation_endpoint"):
        path = config[field].removeprefix("http://testserver")
        assert http.post(path).status_code in (400, 401), field
    assert http.get(config["jwks_uri"].removeprefix("http://testserver")).status_code == 200


def test_openid_configuration_matches(app):
    http = app.test_client()
    oidc = http.get("/.well-known/openid-configuration").get_json()
    smart = http.get("/fhir/.well-known/smart-configuration").get_json()
    assert oidc["issuer"] == smart["issuer"] and oidc["jwks_uri"] == smart["jwks_uri"]
    assert oidc["id_token_signing_alg_values_supported"] == ["RS256"]


def test_jwks_publishes_public_keys_only(app):
    keys = app.test_client().get("/auth/jwks").get_json()["keys"]
    assert keys and all("d" not in k and k["kid"] for k in keys)


def test_capability_statement_declares_smart(app):
    statement = app.test_client().get("/fhir/metadata").get_json()
    security = statement["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {
        e["url"]: e["valueUri"]
        for x in security["extension"]
        if x["url"] == OAUTH_URIS
        for e in x["extension"]
    }
    assert uris["token"] == "http://testserver/auth/token"
    assert uris["authorize"] == "http://testserver/auth/authorize"


def test_userinfo_names_the_person(app, oauth, carnet):
    account = create_account(
        "bob.leroy", "correct horse battery staple", "Patient/bob", "email", "b@example.fr"
    )
    token = oauth.login_tokens(oauth.public_app(), account, "openid fhirUser patient/*.rs")
    response = app.test_client().get(
        "/auth/userinfo", headers={"Authorization": f"Bearer {token['access_token']}"}
    )
    assert response.get_json() == {
        "sub": "Patient/bob",
        "fhirUser": "http://testserver/fhir/Patient/bob",
    }
    keys = KeySet.import_key_set(app.test_client().get("/auth/jwks").get_json())
    assert jwt.decode(token["id_token"], keys).claims["sub"] == "Patient/bob"


def test_userinfo_without_token_is_401(app):
    response = app.test_client().get("/auth/userinfo")
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
