"""A single-page app served from another origin runs a SMART standalone launch in a real browser
(Debian's chromium, headless, driven by Playwright) and reads FHIR with fetch(): CORS (carnet.cors).

The app's page (its own local port, so its own origin) reads /fhir/metadata and the SMART
configuration, sends the browser to /auth/authorize with PKCE, and on its redirect URI exchanges
the code at /auth/token and reads the patient and their documents with the bearer token, then
reads the patient again with If-None-Match (the ETag it could only read if it is exposed).
"""

import dataclasses
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from smart_auth.models import OAuthClient
from tests.browser import needs_chromium, sign_in
from tests.live_server import free_port
from tests.smart_auth.conftest import PASSWORD, seed_patient_record

pytestmark = needs_chromium

APP_PORT = free_port()
APP_ORIGIN = f"http://127.0.0.1:{APP_PORT}"
CLIENT_ID = "browser-app"
SCOPE = "openid fhirUser launch/patient patient/Patient.rs patient/DocumentReference.rs"

PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>App</title></head>
<body><pre id="result"></pre>
<script>
const CARNET = "%(carnet)s", CLIENT = "%(client)s", SCOPE = "%(scope)s";
const REDIRECT = location.origin + "/callback";
const show = (value) => { document.getElementById("result").textContent = JSON.stringify(value); };
const b64url = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)))
  .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");

async function start() {
  const metadata = await (await fetch(CARNET + "/fhir/metadata")).json();
  const smart = await (await fetch(CARNET + "/fhir/.well-known/smart-configuration")).json();
  const verifier = b64url(crypto.getRandomValues(new Uint8Array(32)));
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  sessionStorage.setItem("verifier", verifier);
  sessionStorage.setItem("token", smart.token_endpoint);
  sessionStorage.setItem("fhir", metadata.fhirVersion);
  location.href = smart.authorization_endpoint + "?" + new URLSearchParams({
    response_type: "code", client_id: CLIENT, redirect_uri: REDIRECT, scope: SCOPE,
    state: "app-state", aud: CARNET + "/fhir", code_challenge: b64url(digest),
    code_challenge_method: "S256",
  });
}

async function finish(code) {
  const issued = await fetch(sessionStorage.getItem("token"), {
    method: "POST",
    headers: {"Content-Type": "application/x-www-form-urlencoded"},
    body: new URLSearchParams({
      grant_type: "authorization_code", code, redirect_uri: REDIRECT, client_id: CLIENT,
      code_verifier: sessionStorage.getItem("verifier"),
    }),
  });
  const token = await issued.json();
  const headers = {"Authorization": "Bearer " + token.access_token,
                   "Accept": "application/fhir+json"};
  const patient = await fetch(CARNET + "/fhir/Patient/" + token.patient, {headers});
  const etag = patient.headers.get("ETag");
  const documents = await (await fetch(
    CARNET + "/fhir/DocumentReference?patient=Patient/" + token.patient, {headers})).json();
  const again = await fetch(CARNET + "/fhir/Patient/" + token.patient,
                            {headers: {...headers, "If-None-Match": etag}});
  show({fhirVersion: sessionStorage.getItem("fhir"), patient: (await patient.json()).id, etag,
        documents: documents.total, again: again.status});
}

const code = new URLSearchParams(location.search).get("code");
(code ? finish(code) : start()).catch((error) => show({error: String(error)}));
</script></body></html>
"""


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, cors_origins=(APP_ORIGIN,))


@pytest.fixture
def app_origin(live_server):
    """The app's own web server: its page on every path (the page and its redirect URI)."""
    page = PAGE % {"carnet": live_server.url, "client": CLIENT_ID, "scope": SCOPE}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = page.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", APP_PORT), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield APP_ORIGIN
    finally:
        server.shutdown()
        thread.join(timeout=5)


def test_an_app_from_another_origin_signs_in_and_reads_with_fetch(live_server, app_origin, page):
    seed_patient_record(live_server)
    OAuthClient(
        client_id=CLIENT_ID,
        client_name="Appli navigateur",
        redirect_uris=[f"{app_origin}/callback"],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    ).save()

    page.goto(f"{app_origin}/")
    page.wait_for_url(f"{live_server.url}/auth/login")
    sign_in(page, live_server.outbox, "alice.martin", PASSWORD)
    page.wait_for_url("**/auth/consent")
    page.get_by_role("button", name="Autoriser", exact=True).click()

    page.wait_for_url(f"{app_origin}/callback*")
    page.wait_for_function("document.getElementById('result').textContent.length > 0")
    result = json.loads(page.locator("#result").inner_text())
    assert result == {
        "fhirVersion": "4.0.1",
        "patient": "p1",
        "etag": 'W/"1"',
        "documents": 2,
        "again": 304,
    }, result
