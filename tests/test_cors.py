"""CORS for browser apps (carnet.cors): listed origins on the API and token endpoints, `*` on the
public metadata only, preflights answered before any token check."""

import dataclasses

import pytest

from carnet.app import create_app
from fhir_server.config import Settings
from tests.conftest import FhirClient

APP = "http://127.0.0.1:5173"
OTHER = "https://evil.example"
ALLOWED_HEADERS = {
    "authorization",
    "content-type",
    "prefer",
    "if-match",
    "if-none-exist",
    "if-none-match",
    "if-modified-since",
}
EXPOSED = {"location", "etag", "content-location", "last-modified"}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, cors_origins=(APP, "https://app.example"))


@pytest.fixture
def web(app):
    return app.test_client()


def _listed(header: str | None) -> set[str]:
    return {part.strip().lower() for part in (header or "").split(",") if part.strip()}


def preflight(web, path: str, origin: str, method: str = "GET"):
    return web.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type, if-none-match",
        },
    )


@pytest.mark.parametrize(
    "path, method",
    [
        ("/fhir/Patient", "POST"),
        ("/fhir/Patient/p1", "PUT"),
        ("/fhir/Patient/p1", "PATCH"),
        ("/fhir", "POST"),
        ("/fhir/DocumentReference/d1/$mask", "POST"),
        ("/auth/token", "POST"),
        ("/auth/introspect", "POST"),
        ("/auth/revoke", "POST"),
    ],
)
def test_a_listed_origin_gets_its_preflight_answered(web, path, method):
    answer = preflight(web, path, APP, method)
    assert answer.status_code == 204
    assert answer.headers["Access-Control-Allow-Origin"] == APP
    assert method.lower() in _listed(answer.headers["Access-Control-Allow-Methods"])
    assert ALLOWED_HEADERS <= _listed(answer.headers["Access-Control-Allow-Headers"])
    assert "Origin" in answer.headers.get("Vary", "")
    assert answer.get_data() == b"" and "Content-Type" not in answer.headers
    assert "Access-Control-Allow-Credentials" not in answer.headers


@pytest.mark.parametrize("path", ["/fhir/Patient", "/auth/token"])
def test_an_unlisted_origin_is_never_reflected(web, path):
    answer = preflight(web, path, OTHER, "POST")
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert "Origin" in answer.headers.get("Vary", "")


def test_a_bearer_read_answers_the_listed_origin_and_exposes_the_version_headers(app, system_token):
    fhir = FhirClient(app.test_client(), system_token)
    created = fhir.post(
        "Patient", {"resourceType": "Patient", "gender": "female"}, headers={"Origin": APP}
    )
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == APP
    assert EXPOSED <= _listed(created.headers["Access-Control-Expose-Headers"])
    read = fhir.get(f"Patient/{created.get_json()['id']}", headers={"Origin": APP})
    assert read.headers["Access-Control-Allow-Origin"] == APP
    assert "Origin" in read.headers["Vary"]
    stranger = fhir.get(f"Patient/{created.get_json()['id']}", headers={"Origin": OTHER})
    assert "Access-Control-Allow-Origin" not in stranger.headers
    assert "Access-Control-Expose-Headers" not in stranger.headers


def test_an_error_is_readable_by_the_listed_app(web):
    """A browser app must see its 401 to know it needs a new token."""
    answer = web.get("/fhir/Patient", headers={"Origin": APP})
    assert answer.status_code == 401
    assert answer.headers["Access-Control-Allow-Origin"] == APP
    token = web.post("/auth/token", data={"grant_type": "nonsense"}, headers={"Origin": APP})
    assert token.status_code == 400
    assert token.headers["Access-Control-Allow-Origin"] == APP


@pytest.mark.parametrize(
    "path",
    [
        "/fhir/metadata",
        "/fhir/.well-known/smart-configuration",
        "/.well-known/smart-configuration",
        "/.well-known/openid-configuration",
        "/auth/jwks",
    ],
)
def test_public_metadata_is_open_to_every_origin(web, path):
    answer = web.get(path, headers={"Origin": OTHER})
    assert answer.status_code == 200
    assert answer.headers["Access-Control-Allow-Origin"] == "*"
    assert preflight(web, path, OTHER).headers["Access-Control-Allow-Origin"] == "*"


def test_the_sign_in_pages_are_not_open_to_other_origins(web):
    answer = web.get("/auth/login", headers={"Origin": APP})
    assert "Access-Control-Allow-Origin" not in answer.headers


def test_without_listed_origins_only_the_metadata_is_open(settings, carnet, system_token):
    closed = create_app(dataclasses.replace(settings, cors_origins=None), carnet).test_client()
    answer = closed.get(
        "/fhir/Patient", headers={"Origin": APP, "Authorization": f"Bearer {system_token}"}
    )
    assert answer.status_code == 200
    assert "Access-Control-Allow-Origin" not in answer.headers
    assert (
        closed.get("/fhir/metadata", headers={"Origin": APP}).headers["Access-Control-Allow-Origin"]
        == "*"
    )


@pytest.mark.parametrize("value", ["*", "app.example", "https://app.example/path", "null"])
def test_the_setting_refuses_what_is_not_an_origin(monkeypatch, value):
    monkeypatch.setenv("FHIR_SERVER_CORS_ORIGINS", value)
    with pytest.raises(ValueError, match="FHIR_SERVER_CORS_ORIGINS"):
        Settings.from_env()


def test_the_setting_reads_a_comma_separated_list(monkeypatch):
    monkeypatch.setenv("FHIR_SERVER_CORS_ORIGINS", " https://App.example/ , http://127.0.0.1:5173")
    assert Settings.from_env().cors_origins == ("https://app.example", "http://127.0.0.1:5173")
