"""Token introspection (RFC 7662) with the SMART fields.

https://hl7.org/fhir/smart-app-launch/token-introspection.html
"""

import pytest

from tests.smart_auth.oauth_flows import basic_auth


@pytest.fixture
def confidential(oauth) -> dict:
    return oauth.register(redirect_uris=["https://app.example/cb"])


def introspect(oauth, client: dict, token: str):
    return oauth.http.post("/auth/introspect", data={"token": token}, headers=basic_auth(client))


def exchange(oauth, client: dict, account, scope: str) -> dict:
    code, verifier = oauth.code(client, account, scope)
    response = oauth.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": client["redirect_uris"][0],
            "code_verifier": verifier,
        },
        headers=basic_auth(client),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_active_access_token_has_the_smart_fields(oauth, confidential, alice):
    token = exchange(oauth, confidential, alice, "launch/patient patient/*.rs")
    body = introspect(oauth, confidential, token["access_token"]).get_json()
    assert body["active"] is True and body["scope"] == "launch/patient patient/*.rs"
    assert body["client_id"] == confidential["client_id"] and body["exp"] > body["iat"]
    assert body["patient"] == "alice"
    assert body["fhirUser"] == "http://testserver/fhir/Patient/alice"


def test_refresh_token_introspection(oauth, confidential, alice):
    token = exchange(oauth, confidential, alice, "offline_access patient/*.rs")
    body = introspect(oauth, confidential, token["refresh_token"]).get_json()
    assert body["active"] is True and body["patient"] == "alice"


def test_revoked_token_is_inactive(carnet, oauth, confidential, alice):
    token = exchange(oauth, confidential, alice, "patient/*.rs")
    carnet.auth.tokens.revoke(carnet.auth.tokens.verify(token["access_token"]))
    assert introspect(oauth, confidential, token["access_token"]).get_json() == {"active": False}


def test_garbage_and_other_clients_tokens_are_inactive(oauth, confidential, alice):
    token = exchange(oauth, confidential, alice, "patient/*.rs")
    other = oauth.register(redirect_uris=["https://other.example/cb"])
    assert introspect(oauth, other, token["access_token"]).get_json() == {"active": False}
    assert introspect(oauth, confidential, "not-a-token").get_json() == {"active": False}


def test_introspection_needs_client_authentication(oauth, confidential, alice):
    token = exchange(oauth, confidential, alice, "patient/*.rs")
    response = oauth.http.post("/auth/introspect", data={"token": token["access_token"]})
    assert response.status_code in (400, 401)
    assert response.get_json()["error"] == "invalid_client"
