"""Shared fixtures: an app built through the factory, on the embedded store or MONGODB_URI."""

import os
import shutil
import sqlite3
import uuid

import pytest

from carnet import app as app_module
from carnet.app import build, create_app
from fhir_server.config import Settings
from fhir_server.store import db as db_module
from fhir_server.store.embedded.engine import FILE_NAME
from tests import core as core_module
from tests.browser import chromium_page
from tests.core import watched
from tests.plan_check import PlanCheck

FHIR_JSON = "application/fhir+json"
BASE = "http://testserver/fhir"


@pytest.fixture
def page():
    """A fresh page of headless chromium speaking French (tests/browser.py)."""
    with chromium_page() as opened:
        yield opened


@pytest.fixture(scope="session")
def store_template(tmp_path_factory):
    """An embedded store with the declared indexes, made once: each test starts from a copy."""
    if os.environ.get("MONGODB_URI"):
        return None
    path = tmp_path_factory.mktemp("template") / "carnet-data"
    built = build(Settings.from_env(base_url=BASE, mongodb_db="carnet_test", data_dir=str(path)))
    built.auth.keys.current()  # a signing key (RSA key generation is the slow part)
    with sqlite3.connect(path / FILE_NAME) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch, store_template):
    """A fresh embedded store for every test (and for the processes a test starts)."""
    path = tmp_path / "carnet-data"
    if store_template is not None:
        path.mkdir()
        shutil.copy(store_template / FILE_NAME, path / FILE_NAME)
    monkeypatch.setenv("FHIR_SERVER_DATA_DIR", str(path))
    return path


@pytest.fixture(autouse=True)
def plan_check(monkeypatch):
    """Every query the server sends in this test, on any engine, must be served by a declared
    index (tests/plan_check.py): the test fails naming each one that is not, and what it lacks."""
    plan = PlanCheck()
    for module in (app_module, db_module, core_module):
        if hasattr(module, "connect"):
            monkeypatch.setattr(module, "connect", plan.connect(module.connect))
        if hasattr(module, "connect_documents"):
            monkeypatch.setattr(
                module, "connect_documents", plan.connect_documents(module.connect_documents)
            )
    yield plan
    if plan.unserved:
        pytest.fail("\n".join(dict.fromkeys(plan.unserved)), pytrace=False)


@pytest.fixture
def settings():
    db_name = (
        f"carnet_test_{uuid.uuid4().hex[:12]}" if os.environ.get("MONGODB_URI") else "carnet_test"
    )
    return Settings.from_env(base_url=BASE, mongodb_db=db_name, default_count=20, max_count=200)


@pytest.fixture
def queries():
    """Every (collection, filter, sort) the store issued during the test."""
    return []


@pytest.fixture
def carnet(settings, queries, request):
    built = build(settings)
    # Every query any test makes the server issue must be served by a declared index.
    with watched(built.store, queries):
        yield built


@pytest.fixture
def app(settings, carnet):
    return create_app(settings, carnet)


class FhirClient:
    """A thin FHIR client over Flask's test client, sending its bearer token on every request."""

    def __init__(self, client, token: str | None = None):
        self.http = client
        self.token = token

    def send(self, method, url, body=None, headers=None, content_type=FHIR_JSON):
        """Any method, `body` as JSON (its content type `content_type`), with the token."""
        import json

        headers = dict(headers or {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
            headers.setdefault("Content-Type", content_type)
        response = self.http.open(
            url if url.startswith("/") else f"/fhir/{url}",
            method=method,
            data=data,
            headers=headers,
        )
        return response

    def get(self, url, **kw):
        return self.send("GET", url, **kw)

    def post(self, url, body=None, **kw):
        return self.send("POST", url, body, **kw)

    def put(self, url, body=None, **kw):
        return self.send("PUT", url, body, **kw)

    def patch(self, url, body=None, **kw):
        kw.setdefault("content_type", "application/json-patch+json")
        return self.send("PATCH", url, body, **kw)

    def delete(self, url, **kw):
        return self.send("DELETE", url, **kw)

    def create(self, resource: dict) -> dict:
        response = self.post(resource["resourceType"], resource)
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def search(self, url: str) -> dict:
        response = self.get(url)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def ids(self, url: str) -> list[str]:
        bundle = self.search(url)
        return [
            e["resource"]["id"]
            for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode") == "match"
        ]


def issue_token(carnet, scope: str, actor: str = "system", **claims) -> str:
    """An access token as the authorization server would issue it."""
    subject = claims.pop("subject", claims.get("fhir_user") or "test-client")
    if actor == "system" and "organization" not in claims:
        # A backend client of the operator's own services (reads every record, audited);
        # tests of organisation clients pass `organization=` (consent.policy).
        claims.setdefault("platform", True)
    token, _ = carnet.auth.tokens.issue(
        client_id=claims.pop("client_id", "test-client"),
        scope=scope,
        actor=actor,
        subject=subject,
        **claims,
    )
    return token


@pytest.fixture
def system_token(carnet):
    """A backend system client's token with every permission on every type."""
    return issue_token(carnet, "system/*.cruds")


@pytest.fixture
def fhir(app, system_token):
    return FhirClient(app.test_client(), system_token)


@pytest.fixture
def client_for(app, carnet):
    """A FhirClient holding a token with the given scopes and context."""
    return lambda scope, actor="system", **claims: FhirClient(
        app.test_client(), issue_token(carnet, scope, actor, **claims)
    )


def store_snapshot(carnet) -> dict:
    """Every document of every collection, to prove a failed request changed nothing.

    The audit trail is left out: a refused or failed access is itself recorded (consent.audit).
    """
    db = carnet.store.db.unchecked  # the test's own reads, not the server's
    return {
        name: sorted(map(repr, db[name].find()))
        for name in sorted(db.list_collection_names())
        if not name.startswith("AuditEvent") and db[name].estimated_document_count()
    }


@pytest.fixture
def snapshot(carnet):
    return lambda: store_snapshot(carnet)


def assert_outcome(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome", body
    assert body["issue"], body
    if code is not None:
        assert body["issue"][0]["code"] == code, body
    return body
