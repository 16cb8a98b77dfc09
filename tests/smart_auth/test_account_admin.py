"""POST /auth/admin/accounts: account creation behind the administrator credential."""

import pytest

from smart_auth.models import Account
from tests.smart_auth.conftest import ADMIN_TOKEN, PASSWORD

BODY = {
    "username": "dr.durand",
    "password": PASSWORD,
    "fhir_user": "Practitioner/10001234567",
    "otp_channel": "sms",
    "otp_address": "+33612345678",
}


def post(app, body, token: str | None = ADMIN_TOKEN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().post("/auth/admin/accounts", json=body, headers=headers)


def test_administrator_creates_an_account(app):
    response = post(app, BODY)
    assert response.status_code == 201, response.get_json()
    assert response.get_json() == {
        "username": "dr.durand",
        "fhir_user": "Practitioner/10001234567",
        "otp_channel": "sms",
        "otp_address": "+33612345678",
    }
    assert PASSWORD not in response.get_data(as_text=True)
    assert Account.objects(username="dr.durand").first().password_hash.startswith("$argon2id$")


def test_no_credential_is_401_with_a_challenge(app):
    response = post(app, BODY, token=None)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert Account.objects.count() == 0


def test_wrong_credential_is_403(app):
    assert post(app, BODY, token="guess").status_code == 403
    assert Account.objects.count() == 0


def test_duplicate_is_409(app):
    assert post(app, BODY).status_code == 201
    assert post(app, {**BODY, "username": "DR.DURAND"}).status_code == 409


@pytest.mark.parametrize(
    "change", [{"password": "short"}, {"fhir_user": "Device/x"}, {"otp_address": "x"}]
)
def test_invalid_account_is_400_with_the_reason(app, change):
    response = post(app, {**BODY, **change})
    assert response.status_code == 400
    assert next(iter(change)) in response.get_json()["error_description"]


def test_not_json_is_400(app):
    response = app.test_client().post(
        "/auth/admin/accounts", data="x", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 400


def test_practitioner_account_linked_to_the_external_provider(app):
    response = post(app, {**BODY, "external_subject": "10001234567"})
    assert response.status_code == 201
    assert response.get_json()["external_subject"] == "10001234567"
    other = {**BODY, "username": "dr.other", "external_subject": "10001234567"}
    response = post(app, other)
    assert (
        response.status_code == 409
        and "external_subject" in response.get_json()["error_description"]
    )
    patient = {**BODY, "username": "alice", "fhir_user": "Patient/p1", "external_subject": "x"}
    assert post(app, patient).status_code == 400
