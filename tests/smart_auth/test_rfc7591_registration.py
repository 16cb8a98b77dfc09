"""Dynamic client registration (RFC 7591) behind the administrator's credential."""

import pytest

from carnet import cli
from smart_auth.models import OAuthClient
from tests.smart_auth.conftest import ADMIN_TOKEN
from tests.smart_auth.oauth_flows import signing_key

ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
APP = {"client_name": "Mon appli", "redirect_uris": ["https://app.example/cb"]}


def post(app, body: dict, headers: dict | None = ADMIN):
    return app.test_client().post("/auth/register", json=body, headers=headers or {})


@pytest.mark.parametrize("headers", [None, {"Authorization": "Bearer wrong"}])
def test_registration_needs_the_admin_credential(app, headers):
    response = post(app, APP, headers)
    assert response.status_code == 401 and response.get_json()["error"] == "invalid_token"
    assert OAuthClient.objects.count() == 0


def test_confidential_client_gets_a_secret_stored_hashed(app):
    response = post(app, {**APP, "labelled": True})
    assert response.status_code == 201
    body = response.get_json()
    assert body["token_endpoint_auth_method"] == "client_secret_basic"
    assert body["labelled"] is True and body["grant_types"] == [
        "authorization_code",
        "refresh_token",
    ]
    stored = OAuthClient.objects.get(client_id=body["client_id"])
    assert stored.labelled and body["client_secret"] not in (stored.client_secret_hash or "")


def test_public_client_gets_no_secret(app):
    body = post(app, {**APP, "token_endpoint_auth_method": "none"}).get_json()
    assert "client_secret" not in body and body["labelled"] is False


def test_backend_client_registers_its_public_key(app):
    key = signing_key("ES384")
    body = post(app, {"client_name": "Labo", "jwks": {"keys": [key.as_dict(private=False)]}})
    assert body.get_json()["grant_types"] == ["client_credentials"]
    assert body.get_json()["token_endpoint_auth_method"] == "private_key_jwt"


@pytest.mark.parametrize(
    "metadata, error",
    [
        ({**APP, "redirect_uris": ["http://app.example/cb"]}, "invalid_redirect_uri"),
        ({**APP, "redirect_uris": ["https://app.example/cb#x"]}, "invalid_redirect_uri"),
        ({"client_name": "x"}, "invalid_redirect_uri"),
        (
            {"client_name": "x", "token_endpoint_auth_method": "private_key_jwt"},
            "invalid_client_metadata",
        ),
        ({**APP, "labelled": "yes"}, "invalid_client_metadata"),
        ({**APP, "grant_types": ["password"]}, "invalid_client_metadata"),
        ({**APP, "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
    ],
)
def test_invalid_metadata_is_refused(app, metadata, error):
    response = post(app, metadata)
    assert response.status_code == 400 and response.get_json()["error"] == error


def test_private_jwks_is_refused(app):
    key = signing_key("RS384")
    response = post(app, {"client_name": "x", "jwks": {"keys": [key.as_dict(private=True)]}})
    assert response.status_code == 400


def test_cli_registers_a_client_and_prints_its_id(capsys):
    code = cli.main(
        [
            "register-client",
            "--name",
            "Logiciel",
            "--redirect-uri",
            "https://pro.example/cb",
            "--auth-method",
            "none",
            "--labelled",
        ]
    )
    assert code == 0
    client_id = capsys.readouterr().out.split()[0]
    assert OAuthClient.objects.get(client_id=client_id).labelled
