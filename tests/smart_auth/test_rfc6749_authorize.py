"""GET /auth/authorize through sign-in and consent to the redirect (RFC 6749 section 4.1)."""

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from smart_auth.models import AppGrant
from tests.smart_auth.conftest import REDIRECT_URI, authorize_params, pkce_pair


def redirect_query(response) -> dict:
    assert response.status_code in (302, 303), response.get_data(as_text=True)
    location = response.location
    assert location.split("?")[0] == REDIRECT_URI
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def start(browser, params: dict):
    return browser.get("/auth/authorize?" + urlencode(params))


def test_valid_request_leads_to_login_naming_the_app(browser, patient_app):
    response = start(browser, authorize_params())
    assert response.status_code == 302 and response.location.endswith("/auth/login")
    browser.get("/auth/login")
    assert "Mon Appli Santé" in browser.page


def test_consent_page_says_in_plain_words_what_the_app_asks(
    browser, patient_account, patient_app, outbox
):
    scope = "openid fhirUser launch/patient patient/DocumentReference.rs patient/Observation.cruds"
    start(browser, authorize_params(scope=scope))
    response = browser.sign_in(outbox)
    assert response.location.endswith("/auth/consent")
    browser.get("/auth/consent")
    page = browser.page
    assert "Allow Mon Appli Santé to access your health record?" in page
    assert "Read your documents" in page
    assert "Read, add to, change and delete your test results and measurements" in page
    assert 'value="approve"' in page and 'value="refuse"' in page


def test_approval_redirects_with_code_and_state_and_records_the_app(
    app, browser, patient_account, patient_app, outbox
):
    verifier, challenge = pkce_pair()
    params = authorize_params(code_challenge=challenge)
    start(browser, params)
    browser.sign_in(outbox)
    query = redirect_query(browser.consent("approve"))
    assert query["state"] == params["state"] and query["code"]
    grant = AppGrant.objects(fhir_user="Patient/p1", client_id="patient-app").first()
    assert grant is not None and "patient/DocumentReference.rs" in grant.scope
    # The code works at the token endpoint, for this patient.
    token = app.test_client().post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": "patient-app",
            "code_verifier": verifier,
        },
    )
    assert token.status_code == 200, token.get_data(as_text=True)
    assert token.get_json()["patient"] == "p1"


def test_refusal_redirects_with_access_denied_and_state(
    browser, patient_account, patient_app, outbox
):
    params = authorize_params()
    start(browser, params)
    browser.sign_in(outbox)
    query = redirect_query(browser.consent("refuse"))
    assert query == {"error": "access_denied", "state": params["state"]} | (
        {"error_description": query["error_description"]} if "error_description" in query else {}
    )
    assert AppGrant.objects.count() == 0


def test_consent_without_csrf_token_is_refused(browser, patient_account, patient_app, outbox):
    start(browser, authorize_params())
    browser.sign_in(outbox)
    browser.get("/auth/consent")
    request_id = browser.page.split('name="request_id" value="')[1].split('"')[0]
    response = browser.submit(
        "/auth/consent", {"decision": "approve", "request_id": request_id}, csrf=False
    )
    assert response.status_code == 400 and "Location" not in response.headers


def test_signed_in_person_goes_straight_to_consent(browser, patient_account, patient_app, outbox):
    browser.sign_in(outbox)
    response = start(browser, authorize_params())
    assert response.location.endswith("/auth/consent")
    response = start(browser, authorize_params(prompt="login"))
    assert response.location.endswith("/auth/login")


@pytest.mark.parametrize(
    "change",
    [
        {"client_id": "no-such-app"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": REDIRECT_URI + "/more"},
    ],
)
def test_untrusted_redirect_uri_gets_an_error_page_not_a_redirect(browser, patient_app, change):
    response = start(browser, authorize_params(**change))
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "This app&#39;s request cannot be accepted" in browser.page


@pytest.mark.parametrize(
    "change, error",
    [
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": None, "code_challenge_method": None}, "invalid_request"),
        ({"response_type": "token"}, "unsupported_response_type"),
    ],
)
def test_bad_request_from_a_known_app_redirects_with_the_error(browser, patient_app, change, error):
    params = {k: v for k, v in authorize_params(**change).items() if v is not None}
    response = start(browser, params)
    query = redirect_query(response)
    assert query["error"] == error and query["state"] == params["state"]


def test_stale_consent_form_is_refused(browser, patient_account, patient_app, outbox):
    start(browser, authorize_params())
    browser.sign_in(outbox)
    browser.get("/auth/consent")
    response = browser.submit("/auth/consent", {"decision": "approve", "request_id": "old"})
    assert response.status_code == 400 and "Location" not in response.headers


def test_authorization_request_may_be_posted(browser, patient_account, patient_app, outbox):
    """OpenID Connect Core 1.0 section 3.1.2.1: GET and POST; the app's form carries no CSRF token."""
    params = authorize_params()
    response = browser.http.post("/auth/authorize", data=params)
    assert response.status_code == 302 and response.location.endswith("/auth/login")
    browser.sign_in(outbox)
    query = redirect_query(browser.consent("approve"))
    assert query["state"] == params["state"] and query["code"]
