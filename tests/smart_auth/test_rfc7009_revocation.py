"""Token revocation (RFC 7009): a revoked token stops working at once."""

from tests.conftest import FhirClient, assert_outcome

SCOPE = "launch/patient offline_access patient/*.rs"


def revoke(oauth, client: dict, token: str, hint: str | None = None):
    data = {"token": token, "client_id": client["client_id"]}
    if hint:
        data["token_type_hint"] = hint
    return oauth.http.post("/auth/revoke", data=data)


def test_revoked_access_token_gets_401_on_fhir(app, oauth, app_client, alice, fhir):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    token = oauth.login_tokens(app_client, alice, SCOPE)
    reader = FhirClient(app.test_client(), token["access_token"])
    assert reader.get("Patient/alice").status_code == 200
    assert revoke(oauth, app_client, token["access_token"], "access_token").status_code == 200
    response = reader.get("Patient/alice")
    assert_outcome(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_revoked_refresh_token_is_refused(oauth, app_client, alice):
    token = oauth.login_tokens(app_client, alice, SCOPE)
    assert revoke(oauth, app_client, token["refresh_token"]).status_code == 200
    response = oauth.refresh(app_client, token["refresh_token"])
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"


def test_unknown_token_revocation_answers_200(oauth, app_client):
    assert revoke(oauth, app_client, "no-such-token").status_code == 200


def test_a_client_cannot_revoke_another_clients_token(app, oauth, app_client, alice):
    token = oauth.login_tokens(app_client, alice, SCOPE)
    other = oauth.public_app()
    assert revoke(oauth, other, token["access_token"]).status_code == 400
    assert FhirClient(app.test_client(), token["access_token"]).get("Patient").status_code != 401


def test_revoking_a_refresh_token_also_revokes_the_access_tokens_it_came_with(
    app, oauth, app_client, alice, fhir
):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    token = oauth.login_tokens(app_client, alice, SCOPE)
    reader = FhirClient(app.test_client(), token["access_token"])
    assert reader.get("Patient/alice").status_code == 200
    assert revoke(oauth, app_client, token["refresh_token"], "refresh_token").status_code == 200
    assert_outcome(reader.get("Patient/alice"), 401)


def test_revoking_an_app_stops_its_access_tokens_at_once(app, oauth, app_client, alice, fhir):
    from smart_auth.authorized_apps import revoke_grant
    from smart_auth.models import AppGrant

    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    token = oauth.login_tokens(app_client, alice, SCOPE)
    reader = FhirClient(app.test_client(), token["access_token"])
    assert reader.get("Patient/alice").status_code == 200
    grant = AppGrant(
        fhir_user="Patient/alice", client_id=app_client["client_id"], scope=SCOPE
    ).save()
    assert revoke_grant("Patient/alice", str(grant.id))
    assert_outcome(reader.get("Patient/alice"), 401)
    assert oauth.refresh(app_client, token["refresh_token"]).status_code == 400
