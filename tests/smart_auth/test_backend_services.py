"""SMART Backend Services: client_credentials with a private_key_jwt assertion (RFC 7523).

https://hl7.org/fhir/smart-app-launch/backend-services.html
"""

import base64
import io
import json
import time

import pytest

from smart_auth.models import OAuthClient
from tests.conftest import FhirClient
from tests.smart_auth.oauth_flows import assertion_form, basic_auth, signing_key

DOC = {
    "resourceType": "DocumentReference",
    "status": "current",
    "subject": {"reference": "Patient/lab1"},
    "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
    "content": [{"attachment": {"contentType": "application/pdf", "title": "results"}}],
}


@pytest.fixture
def key():
    return signing_key("RS384")


@pytest.fixture
def lab(oauth, key) -> dict:
    return oauth.backend(key)


def refused(response, error: str) -> str:
    assert response.status_code in (400, 401), response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == error, body
    return body.get("error_description", "")


def _acting_for(client: dict, organization: str | None) -> None:
    """What the operator sets when registering a hospital's client (never self-asserted)."""
    OAuthClient.objects(client_id=client["client_id"]).update(set__organization=organization)


def test_backend_client_pushes_and_reads_back_a_document(app, oauth, lab, key, fhir):
    assert fhir.put("Patient/lab1", {"resourceType": "Patient", "id": "lab1"}).status_code == 201
    _acting_for(lab, "Organization/lab")
    response = oauth.token(assertion_form(lab["client_id"], key, "system/*.cruds"))
    assert response.status_code == 200, response.get_data(as_text=True)
    token = response.get_json()
    assert token["token_type"] == "Bearer" and token["scope"] == "system/*.cruds"
    assert 0 < token["expires_in"] <= 900 and "refresh_token" not in token
    hospital = FhirClient(app.test_client(), token["access_token"])
    created = hospital.create(DOC)
    read = hospital.get(f"DocumentReference/{created['id']}")
    assert read.status_code == 200 and read.get_json()["subject"] == DOC["subject"]
    # It reads back what it deposited, not the rest of the record.
    assert hospital.get("Patient/lab1").status_code == 404


def test_a_backend_client_acting_for_nobody_reads_nothing_and_writes_nothing(
    app, oauth, lab, key, fhir
):
    fhir.put("Patient/lab1", {"resourceType": "Patient", "id": "lab1"})
    fhir.create(DOC)
    token = oauth.token(assertion_form(lab["client_id"], key, "system/*.cruds")).get_json()
    anonymous = FhirClient(app.test_client(), token["access_token"])
    assert anonymous.search("DocumentReference?_total=accurate")["total"] == 0
    assert anonymous.get("Patient/lab1").status_code == 404
    assert anonymous.post("DocumentReference", DOC).status_code == 403


def test_es384_assertion_is_accepted(oauth):
    key = signing_key("ES384")
    client = oauth.backend(key)
    assert oauth.token(assertion_form(client["client_id"], key)).status_code == 200


def test_reused_jti_is_refused(oauth, lab, key):
    form = assertion_form(lab["client_id"], key)
    assert oauth.token(form).status_code == 200
    assert "used before" in refused(oauth.token(form), "invalid_client")


def test_expired_assertion_is_refused(oauth, lab, key):
    form = assertion_form(lab["client_id"], key, exp=int(time.time()) - 300)
    refused(oauth.token(form), "invalid_client")


def test_assertion_expiring_more_than_5_minutes_ahead_is_refused(oauth, lab, key):
    form = assertion_form(lab["client_id"], key, exp=int(time.time()) + 3600)
    assert "5 minutes" in refused(oauth.token(form), "invalid_client")


def test_wrongly_addressed_assertion_is_refused(oauth, lab, key):
    form = assertion_form(lab["client_id"], key, audience="https://other.example/token")
    refused(oauth.token(form), "invalid_client")


def test_assertion_signed_with_another_key_is_refused(oauth, lab):
    form = assertion_form(lab["client_id"], signing_key("RS384"))
    refused(oauth.token(form), "invalid_client")


def test_rs256_assertion_is_refused(oauth):
    key = signing_key("RS256")
    client = oauth.backend(key)
    refused(oauth.token(assertion_form(client["client_id"], key, alg="RS256")), "invalid_client")


@pytest.mark.parametrize("scope", ["patient/*.rs", "user/Observation.rs", "openid", ""])
def test_backend_services_get_system_scopes_only(oauth, lab, key, scope):
    assert "system/" in refused(
        oauth.token(assertion_form(lab["client_id"], key, scope)), "invalid_scope"
    )


def test_client_secret_cannot_replace_the_assertion(oauth):
    secret_client = oauth.register(
        client_name="Lab", redirect_uris=["https://lab.example/cb"], labelled=False
    )
    response = oauth.token(
        {"grant_type": "client_credentials", "scope": "system/*.rs"},
        headers=basic_auth(secret_client),
    )
    refused(response, "invalid_client")


def test_key_published_at_a_jwks_uri(oauth, monkeypatch):
    key = signing_key("RS384")
    document = json.dumps({"keys": [key.as_dict(private=False)]}).encode()
    fetched = []

    def urlopen(url, timeout):
        fetched.append(url)
        return io.BytesIO(document)

    monkeypatch.setattr("smart_auth.clients.urllib.request.urlopen", urlopen)
    client = oauth.register(client_name="Hôpital", jwks_uri="https://hospital.example/jwks")
    assert oauth.token(assertion_form(client["client_id"], key)).status_code == 200
    assert fetched == ["https://hospital.example/jwks"]


def _signed_by_hand(header: dict, claims: dict, key) -> str:
    """An RS384 JWS over any header (joserfc itself refuses to sign a malformed one)."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    def segment(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = (
        segment(json.dumps(header).encode()) + b"." + segment(json.dumps(claims).encode())
    )
    signature = key.private_key.sign(signing_input, padding.PKCS1v15(), hashes.SHA384())
    return (signing_input + b"." + segment(signature)).decode()


@pytest.mark.parametrize("kid", [{"a": 1}, ["k"], 7])
def test_an_assertion_whose_kid_is_not_a_string_is_refused(oauth, lab, key, kid):
    claims = {
        "iss": lab["client_id"],
        "sub": lab["client_id"],
        "aud": "http://testserver/auth/token",
        "exp": int(time.time()) + 240,
        "jti": f"kid-{kid!r}",
    }
    signed = _signed_by_hand({"alg": "RS384", "kid": kid, "typ": "JWT"}, claims, key)
    form = {**assertion_form(lab["client_id"], key), "client_assertion": signed}
    assert "kid" in refused(oauth.token(form), "invalid_client")
