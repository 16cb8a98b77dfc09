"""Authorization code grant with PKCE, OpenID Connect and refresh tokens (RFC 6749 section 4.1).

https://hl7.org/fhir/smart-app-launch/app-launch.html - standalone patient launch and the
refusals the issue lists: wrong verifier, reused code, `plain` PKCE, unlabelled software asking
`user/` scopes, a refresh token reused after rotation.
"""

import logging

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet

from smart_auth.accounts import create_account
from tests.conftest import FhirClient
from tests.smart_auth.oauth_flows import assertion, pkce, signing_key

SCOPE = "openid fhirUser launch/patient offline_access patient/DocumentReference.rs"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def doctor(carnet):
    return create_account("dr.house", PASSWORD, "Practitioner/rpps1", "sms", "+33600000000")


def oauth_error(response, error: str) -> str:
    assert response.status_code in (400, 401), response.get_data(as_text=True)
    assert response.get_json()["error"] == error, response.get_json()
    return response.get_json().get("error_description", "")


def test_standalone_patient_launch_gives_patient_context_id_token_and_refresh(
    app, oauth, app_client, alice, fhir
):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    token = oauth.login_tokens(app_client, alice, SCOPE)
    assert token["patient"] == "alice" and token["need_patient_banner"] is True
    assert token["scope"] == SCOPE and token["expires_in"] > 0 and token["refresh_token"]
    keys = KeySet.import_key_set(app.test_client().get("/auth/jwks").get_json())
    id_token = jwt.decode(token["id_token"], keys).claims
    assert id_token["fhirUser"] == "http://testserver/fhir/Patient/alice"
    assert id_token["aud"] == [app_client["client_id"]] and id_token["iss"] == "http://testserver"
    reader = FhirClient(app.test_client(), token["access_token"])
    assert reader.get("Patient/alice").status_code == 403  # Patient.rs was not asked for
    assert reader.search("DocumentReference")["resourceType"] == "Bundle"


def test_access_token_carries_the_smart_context(carnet, oauth, app_client, alice):
    token = oauth.login_tokens(app_client, alice, "launch/patient patient/*.rs")
    claims = carnet.auth.tokens.verify(token["access_token"])
    assert claims["actor"] == "patient" and claims["fhirUser"] == "Patient/alice"
    assert claims["patient"] == "Patient/alice" and claims["purpose_of_use"] == "normal"
    assert claims["labelled"] is False and claims["client_id"] == app_client["client_id"]
    assert "refresh_token" not in token and "id_token" not in token


def test_wrong_pkce_verifier_is_refused(oauth, app_client, alice):
    code, _ = oauth.code(app_client, alice, SCOPE)
    other_verifier, _ = pkce()
    oauth_error(oauth.exchange(app_client, code, other_verifier), "invalid_grant")


def test_reused_code_is_refused(oauth, app_client, alice):
    code, verifier = oauth.code(app_client, alice, SCOPE)
    assert oauth.exchange(app_client, code, verifier).status_code == 200
    oauth_error(oauth.exchange(app_client, code, verifier), "invalid_grant")


def test_code_is_bound_to_its_client(oauth, app_client, alice):
    code, verifier = oauth.code(app_client, alice, SCOPE)
    other = oauth.public_app()
    response = oauth.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": other["redirect_uris"][0],
            "client_id": other["client_id"],
            "code_verifier": verifier,
        }
    )
    oauth_error(response, "invalid_grant")


def test_code_is_bound_to_its_redirect_uri(oauth, alice):
    client = oauth.register(
        redirect_uris=["https://app.example/a", "https://app.example/b"],
        token_endpoint_auth_method="none",
    )
    code, verifier = oauth.code(client, alice, SCOPE)
    response = oauth.exchange(client, code, verifier, redirect_uri="https://app.example/b")
    oauth_error(response, "invalid_grant")


def test_plain_pkce_is_refused(oauth, app_client, alice):
    verifier, _ = pkce()
    status, query, sent = oauth.authorize(
        app_client, alice, SCOPE, None, code_challenge=verifier, code_challenge_method="plain"
    )
    assert status == 302 and query["error"] == "invalid_request"
    assert "S256" in query["error_description"] and query["state"] == sent["state"]


def test_missing_pkce_is_refused(oauth, app_client, alice):
    status, query, _ = oauth.authorize(app_client, alice, SCOPE, None)
    assert status == 302 and query["error"] == "invalid_request" and "code" not in query


def test_unregistered_redirect_uri_is_not_redirected_to(oauth, app_client, alice):
    _, challenge = pkce()
    status, query, _ = oauth.authorize(
        app_client, alice, SCOPE, challenge, redirect_uri="https://app.example/callback/x"
    )
    assert status == 400 and query == {}


def test_unlabelled_software_asking_user_scopes_is_refused(oauth, app_client, doctor):
    _, challenge = pkce()
    status, query, _ = oauth.authorize(app_client, doctor, "user/Observation.rs", challenge)
    assert status == 302 and query["error"] == "invalid_scope"
    assert "labelled" in query["error_description"]


def test_labelled_software_gets_user_scopes(carnet, oauth, doctor):
    software = oauth.public_app(labelled=True)
    token = oauth.login_tokens(software, doctor, "openid fhirUser user/DocumentReference.rs")
    claims = carnet.auth.tokens.verify(token["access_token"])
    assert claims["actor"] == "practitioner" and claims["labelled"] is True
    assert claims["purpose_of_use"] == "normal"
    assert "patient" not in token and "patient" not in claims


def test_break_glass_without_a_patient_in_context_is_refused(oauth, doctor):
    software = oauth.public_app(labelled=True)
    _, challenge = pkce()
    status, query, _ = oauth.authorize(
        software,
        doctor,
        "user/DocumentReference.rs",
        challenge,
        purpose_of_use="bris_de_glace",
        purpose_reason="patient unconscious",
    )
    assert status == 302 and query["error"] == "invalid_request"
    assert "patient in context" in query["error_description"]


def test_unknown_purpose_of_use_is_refused(oauth, doctor):
    software = oauth.public_app(labelled=True)
    _, challenge = pkce()
    status, query, _ = oauth.authorize(
        software, doctor, "user/DocumentReference.rs", challenge, purpose_of_use="curiosity"
    )
    assert status == 302 and query["error"] == "invalid_request"


def test_patient_login_cannot_get_user_scopes(oauth, alice):
    software = oauth.public_app(labelled=True)
    _, challenge = pkce()
    status, query, _ = oauth.authorize(software, alice, "user/DocumentReference.rs", challenge)
    assert status == 302 and query["error"] == "invalid_scope"


def test_system_scopes_are_refused_to_interactive_apps(oauth, app_client, alice):
    _, challenge = pkce()
    status, query, _ = oauth.authorize(app_client, alice, "system/*.rs", challenge)
    assert status == 302 and query["error"] == "invalid_scope"


def test_refresh_token_is_rotated(carnet, oauth, app_client, alice):
    first = oauth.login_tokens(app_client, alice, SCOPE)
    response = oauth.refresh(app_client, first["refresh_token"])
    assert response.status_code == 200, response.get_data(as_text=True)
    second = response.get_json()
    assert second["refresh_token"] != first["refresh_token"]
    assert second["patient"] == "alice" and second["scope"] == SCOPE
    claims = carnet.auth.tokens.verify(second["access_token"])
    assert claims["patient"] == "Patient/alice"
    assert oauth.refresh(app_client, second["refresh_token"]).status_code == 200


def test_refresh_token_reused_after_rotation_is_refused(oauth, app_client, alice):
    first = oauth.login_tokens(app_client, alice, SCOPE)
    assert oauth.refresh(app_client, first["refresh_token"]).status_code == 200
    oauth_error(oauth.refresh(app_client, first["refresh_token"]), "invalid_grant")


def test_refresh_token_works_only_for_its_client(oauth, app_client, alice):
    first = oauth.login_tokens(app_client, alice, SCOPE)
    oauth_error(oauth.refresh(oauth.public_app(), first["refresh_token"]), "invalid_grant")


def test_token_endpoint_errors_are_oauth_json(app):
    response = app.test_client().post("/auth/token", data={"grant_type": "password"})
    assert response.status_code == 400
    assert response.get_json()["error"] == "unsupported_grant_type"


def test_asymmetric_confidential_client_authenticates_with_an_assertion(oauth, alice):
    key = signing_key("ES384")
    client = oauth.register(
        redirect_uris=["https://app.example/cb"],
        jwks={"keys": [key.as_dict(private=False)]},
        token_endpoint_auth_method="private_key_jwt",
    )
    code, verifier = oauth.code(client, alice, SCOPE)
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": client["redirect_uris"][0],
        "code_verifier": verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(client["client_id"], key),
    }
    response = oauth.token(form)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["patient"] == "alice"


def test_authlib_never_logs_tokens(oauth, app_client, alice, caplog):
    caplog.set_level(logging.DEBUG)
    token = oauth.login_tokens(app_client, alice, SCOPE)
    for secret in (token["access_token"], token["refresh_token"]):
        assert secret not in caplog.text


@pytest.mark.parametrize("aud", [None, "https://other.example/fhir"])
def test_authorization_for_another_fhir_server_is_refused(oauth, app_client, alice, aud):
    _, challenge = pkce()
    status, query, _ = oauth.authorize(app_client, alice, SCOPE, challenge, aud=aud)
    assert (
        status == 302
        and query["error"] == "invalid_request"
        and "aud" in query["error_description"]
    )


def test_a_replayed_code_revokes_the_tokens_it_gave(app, oauth, app_client, alice):
    code, verifier = oauth.code(app_client, alice, SCOPE)
    first = oauth.exchange(app_client, code, verifier).get_json()
    reader = FhirClient(app.test_client(), first["access_token"])
    assert reader.get("DocumentReference").status_code == 200
    oauth_error(oauth.exchange(app_client, code, verifier), "invalid_grant")
    assert reader.get("DocumentReference").status_code == 401
    oauth_error(oauth.refresh(app_client, first["refresh_token"]), "invalid_grant")


def test_a_replayed_refresh_token_revokes_its_whole_chain(app, oauth, app_client, alice):
    first = oauth.login_tokens(app_client, alice, SCOPE)
    second = oauth.refresh(app_client, first["refresh_token"]).get_json()
    reader = FhirClient(app.test_client(), second["access_token"])
    assert reader.get("DocumentReference").status_code == 200
    oauth_error(oauth.refresh(app_client, first["refresh_token"]), "invalid_grant")
    assert reader.get("DocumentReference").status_code == 401
    oauth_error(oauth.refresh(app_client, second["refresh_token"]), "invalid_grant")
