"""Signing keys: made on first start, kept, and rotated without cutting live tokens short."""

from smart_auth.keys import KeyRing
from tests.conftest import FhirClient


def test_rotation_keeps_old_tokens_valid_and_publishes_both_keys(app, carnet, system_token):
    jwks_before = app.test_client().get("/auth/jwks").get_json()
    assert len(jwks_before["keys"]) == 1
    assert "d" not in jwks_before["keys"][0]  # public parts only
    new_kid = carnet.auth.keys.rotate()
    jwks_after = app.test_client().get("/auth/jwks").get_json()
    assert {k["kid"] for k in jwks_after["keys"]} == {jwks_before["keys"][0]["kid"], new_kid}
    assert FhirClient(app.test_client(), system_token).get("Patient").status_code == 200
    fresh, claims = carnet.auth.tokens.issue(
        client_id="c", scope="system/*.rs", actor="system", subject="c"
    )
    assert FhirClient(app.test_client(), fresh).get("Patient").status_code == 200


def test_keys_survive_a_restart(carnet):
    kid = carnet.auth.keys.current().kid
    assert KeyRing(carnet.settings.token_lifetime).current().kid == kid


def test_retired_keys_leave_the_jwks_once_their_tokens_have_expired(carnet):
    short = KeyRing(token_lifetime=-120)
    first = short.current().kid
    short.rotate()
    assert first not in {k["kid"] for k in short.public_jwks()["keys"]}
