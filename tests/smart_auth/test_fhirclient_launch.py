"""SMART standalone patient launch with the SMART Python client `fhirclient`, against a live server.

https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-standalone-launch - fhirclient
discovers the endpoints, builds the authorization URL (PKCE S256); the person's browser steps are
posted with `requests`; fhirclient handles the callback and reads the patient's documents.
"""

import logging
import re
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from fhirclient import client
from fhirclient.models.documentreference import DocumentReference

from tests.smart_auth.conftest import PASSWORD, REDIRECT_URI, seed_patient_record

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')


def browse_to_callback(authorize_url: str, outbox) -> str:
    """What the person does in the browser: sign in, type the code, allow. Returns the callback URL."""
    browser = requests.Session()
    page = browser.get(authorize_url)  # follows to the login page
    assert page.url.endswith("/auth/login"), page.text
    page = browser.post(
        page.url,
        data={
            "username": "alice.martin",
            "password": PASSWORD,
            "csrf_token": _CSRF.search(page.text)[1],
        },
    )
    assert page.url.endswith("/auth/code"), page.text
    page = browser.post(
        page.url, data={"code": outbox.last_code(), "csrf_token": _CSRF.search(page.text)[1]}
    )
    assert page.url.endswith("/auth/consent"), page.text
    assert "Lire vos documents" in page.text
    answer = browser.post(
        page.url,
        data={
            "decision": "approve",
            "request_id": _REQUEST_ID.search(page.text)[1],
            "csrf_token": _CSRF.search(page.text)[1],
        },
        allow_redirects=False,  # the redirect URI belongs to the app, not to this test
    )
    assert answer.status_code == 302, answer.text
    return urljoin(page.url, answer.headers["Location"])


def test_fhirclient_standalone_patient_launch_reads_the_patients_documents(live_server, caplog):
    caplog.set_level(logging.DEBUG)
    seed_patient_record(live_server)
    smart = client.FHIRClient(
        settings={
            "app_id": "patient-app",
            "api_base": live_server.fhir_base,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid fhirUser patient/Patient.rs patient/DocumentReference.rs",
        }
    )
    authorize_url = smart.authorize_url
    assert authorize_url.startswith(live_server.url + "/auth/authorize?")
    assert "code_challenge_method=S256" in authorize_url and "launch%2Fpatient" in authorize_url

    callback = browse_to_callback(authorize_url, live_server.outbox)
    assert callback.startswith(REDIRECT_URI + "?")
    smart.handle_callback(callback)

    assert smart.ready
    assert smart.patient_id == "p1"
    assert smart.patient.name[0].family == "Martin"
    documents = DocumentReference.where(struct={"patient": "p1"}).perform_resources_iter(
        smart.server
    )
    assert sorted(d.description for d in documents) == ["Compte rendu", "Ordonnance"]

    # Nothing secret reached a log line: not the password, code, state or access token.
    secrets = [
        PASSWORD,
        live_server.outbox.last_code(),
        parse_qs(urlsplit(callback).query)["code"][0],
    ]
    secrets += [smart.server.auth.access_token, smart.server.auth.auth_state or "no-state"]
    # The server's log lines (the client libraries' own debug lines are the app's business).
    logged = "\n".join(
        record.getMessage()
        for record in caplog.records
        if not record.name.startswith(("fhirclient", "urllib3"))
    )
    assert "/auth/authorize?[query hidden]" in logged
    assert not [s for s in secrets if s in logged]
