"""EHR launch: professional software registers the patient, the token hands it back.

https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch
"""

import pytest

from smart_auth.accounts import create_account
from tests.smart_auth.oauth_flows import basic_auth, pkce

SCOPE = "launch openid fhirUser user/DocumentReference.rs"


@pytest.fixture
def doctor(carnet):
    return create_account(
        "dr.martin", "correct horse battery staple", "Practitioner/rpps9", "sms", "+33611111111"
    )


@pytest.fixture
def software(oauth) -> dict:
    """Labelled professional software, a confidential client."""
    return oauth.register(
        client_name="Logiciel de cabinet",
        redirect_uris=["https://cabinet.example/smart"],
        token_endpoint_auth_method="client_secret_basic",
        labelled=True,
    )


def register_launch(oauth, client: dict, patient: str):
    return oauth.http.post("/auth/launch", data={"patient": patient}, headers=basic_auth(client))


def test_ehr_launch_hands_the_software_its_patient(carnet, oauth, software, doctor):
    response = register_launch(oauth, software, "Patient/x")
    assert response.status_code == 200, response.get_data(as_text=True)
    launch = response.get_json()["launch"]
    assert 0 < response.get_json()["expires_in"] <= 300
    code, verifier = oauth.code(software, doctor, SCOPE, launch=launch)
    token = oauth.token(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": software["redirect_uris"][0],
            "code_verifier": verifier,
        },
        headers=basic_auth(software),
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    body = token.get_json()
    assert body["patient"] == "x" and body["need_patient_banner"] is False
    claims = carnet.auth.tokens.verify(body["access_token"])
    assert claims["patient"] == "Patient/x" and claims["fhirUser"] == "Practitioner/rpps9"
    assert claims["labelled"] is True


def test_unlabelled_software_cannot_register_a_launch(oauth):
    plain = oauth.register(redirect_uris=["https://other.example/cb"], labelled=False)
    response = register_launch(oauth, plain, "Patient/x")
    assert response.status_code == 400 and response.get_json()["error"] == "unauthorized_client"


def test_launch_registration_needs_client_authentication(oauth, software):
    response = oauth.http.post("/auth/launch", data={"patient": "Patient/x"})
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"


def test_unknown_launch_is_refused(oauth, software, doctor):
    _, challenge = pkce()
    status, query, _ = oauth.authorize(software, doctor, SCOPE, challenge, launch="forged")
    assert status == 302 and query["error"] == "invalid_request" and "code" not in query


def test_launch_of_another_client_is_refused(oauth, software, doctor):
    launch = register_launch(oauth, software, "Patient/x").get_json()["launch"]
    other = oauth.register(redirect_uris=["https://other.example/cb"], labelled=True)
    _, challenge = pkce()
    status, query, _ = oauth.authorize(other, doctor, SCOPE, challenge, launch=launch)
    assert status == 302 and query["error"] == "invalid_request"


def test_professional_standalone_launch_patient_without_launch_is_refused(oauth, software, doctor):
    _, challenge = pkce()
    status, query, _ = oauth.authorize(software, doctor, "launch/patient " + SCOPE, challenge)
    assert status == 302 and query["error"] == "invalid_scope"
