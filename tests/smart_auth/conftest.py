"""Fixtures for the sign-in pages: an outbox to read codes from, an account, a registered app."""

import base64
import dataclasses
import hashlib
import json
import os
import re
import secrets
import threading
from pathlib import Path

import pytest

from fhir_server.config import Settings
from smart_auth.accounts import create_account
from smart_auth.models import OAuthClient
from tests.conftest import BASE

ADMIN_TOKEN = "test-admin-credential"
PASSWORD = "correct horse battery staple"
REDIRECT_URI = "https://app.example/callback"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def settings(settings, tmp_path) -> Settings:
    """The shared settings, with an outbox of its own and an administrator credential."""
    return dataclasses.replace(
        settings,
        outbox=str(tmp_path / "outbox.jsonl"),
        admin_token=ADMIN_TOKEN,
        secret_key="test-session-key",
    )


class Outbox:
    """What people would have received (smart_auth.sender.OutboxSender's JSON lines)."""

    def __init__(self, path: str):
        self.path = Path(path)

    def messages(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line]

    def last_code(self) -> str:
        return self.messages()[-1]["code"]


@pytest.fixture
def outbox(settings) -> Outbox:
    return Outbox(settings.outbox)


@pytest.fixture
def patient_account(carnet):
    return create_account("alice.martin", PASSWORD, "Patient/p1", "email", "alice@example.fr")


@pytest.fixture
def patient_app(carnet) -> OAuthClient:
    return register_patient_app()


def register_patient_app() -> OAuthClient:
    """A public patient app (no secret: PKCE S256 only), as an administrator registered it."""
    return OAuthClient(
        client_id="patient-app",
        client_name="Mon Appli Santé",
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method="none",
    ).save()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_params(
    scope: str = "openid fhirUser launch/patient patient/DocumentReference.rs", **extra
) -> dict:
    _, challenge = pkce_pair()
    return {
        "response_type": "code",
        "client_id": "patient-app",
        "redirect_uri": REDIRECT_URI,
        "scope": scope,
        "state": "st-" + secrets.token_urlsafe(8),
        "aud": BASE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **extra,
    }


class Browser:
    """A person's browser over Flask's test client: it keeps cookies and posts the forms."""

    def __init__(self, client, language: str = "en"):
        self.http = client
        # The pages are in French unless the browser asks for English; these tests read English
        # (tests/smart_auth/test_page_language.py reads both).
        self.http.environ_base["HTTP_ACCEPT_LANGUAGE"] = language
        self.page = ""

    def get(self, url: str, **kw):
        response = self.http.get(url, **kw)
        self.page = response.get_data(as_text=True)
        return response

    def submit(self, url: str, data: dict, csrf: bool = True):
        """POST a form, with the CSRF token of the page last shown (unless csrf=False)."""
        form = dict(data)
        if csrf:
            form["csrf_token"] = _CSRF.search(self.page).group(1)
        response = self.http.post(url, data=form)
        self.page = response.get_data(as_text=True)
        return response

    def login(self, username: str = "alice.martin", password: str = PASSWORD):
        self.get("/auth/login")
        return self.submit("/auth/login", {"username": username, "password": password})

    def enter_code(self, code: str):
        self.get("/auth/code")
        return self.submit("/auth/code", {"code": code})

    def sign_in(self, outbox: Outbox):
        assert self.login().status_code == 302
        return self.enter_code(outbox.last_code())

    def consent(self, decision: str):
        self.get("/auth/consent")
        request_id = re.search(r'name="request_id" value="([^"]+)"', self.page).group(1)
        return self.submit("/auth/consent", {"decision": decision, "request_id": request_id})


@pytest.fixture
def browser(app) -> Browser:
    return Browser(app.test_client())


@dataclasses.dataclass
class LiveServer:
    url: str  # the server's root, e.g. http://127.0.0.1:51234
    carnet: object
    outbox: Outbox

    @property
    def fhir_base(self) -> str:
        return self.url + "/fhir"


@pytest.fixture
def live_server(settings):
    """The app served by werkzeug on a free loopback port, in a thread, with its base URL set.

    The port is chosen first (by a server whose application is filled in afterwards), so that
    FHIR_SERVER_BASE_URL, the token audience and issuer, can name it.
    """
    from werkzeug.serving import make_server

    from carnet.app import build, create_app

    holder: dict = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start))
    root = f"http://127.0.0.1:{server.server_port}"
    live_settings = dataclasses.replace(settings, base_url=root + "/fhir")
    carnet = build(live_settings)
    holder["app"] = create_app(live_settings, carnet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LiveServer(root, carnet, Outbox(live_settings.outbox))
    finally:
        server.shutdown()
        thread.join(timeout=5)
        if os.environ.get("MONGODB_URI"):
            carnet.store.db.client.drop_database(carnet.store.db.name)


def seed_patient_record(live: LiveServer) -> None:
    """Alice (Patient/p1) with two documents, Bob (Patient/p2) with one; her account and app."""
    from carnet_core.context import operator_context

    ctx = operator_context("test-seed")
    interactions = live.carnet.interactions
    for pid, family in (("p1", "Martin"), ("p2", "Bernard")):
        interactions.update(
            ctx,
            "Patient",
            pid,
            {"resourceType": "Patient", "id": pid, "name": [{"family": family}]},
        )
    for pid, title in (("p1", "Compte rendu"), ("p1", "Ordonnance"), ("p2", "Radio")):
        interactions.create(
            ctx,
            "DocumentReference",
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "subject": {"reference": f"Patient/{pid}"},
                "description": title,
                "content": [{"attachment": {"contentType": "text/plain", "title": title}}],
            },
        )
    create_account("alice.martin", PASSWORD, "Patient/p1", "email", "alice@example.fr")
    register_patient_app()


@pytest.fixture
def oauth(app):
    """An OAuth client's side of the flows (tests/smart_auth/oauth_flows.py)."""
    from tests.smart_auth.oauth_flows import OAuthDriver

    return OAuthDriver(app)


@pytest.fixture
def alice(carnet):
    """A patient account for Patient/alice, for flows driven through OAuthDriver."""
    return create_account("alice.durand", PASSWORD, "Patient/alice", "email", "a@example.fr")


@pytest.fixture
def app_client(oauth) -> dict:
    """A public patient app (PKCE, no secret)."""
    return oauth.public_app()
