"""With no FHIR_SERVER_SECRET_KEY, every worker and every restart share the server's own secret.

`fhir-server serve` runs several workers on one store: a sign-in started on one worker must be
finished on another, and a restart must not sign everyone out of a half-done sign-in.
"""

import dataclasses

import pytest

from carnet.app import build, create_app
from tests.smart_auth.conftest import Browser


@pytest.fixture
def unset(settings):
    return dataclasses.replace(settings, secret_key=None)


def worker(settings) -> Browser:
    """One more process on the same store (another worker, or the server after a restart)."""
    return Browser(create_app(settings, build(settings)).test_client())


def test_sign_in_started_on_one_worker_finishes_on_another(unset, patient_account, outbox):
    first, second = worker(unset), worker(unset)
    assert first.login().status_code == 302
    cookie = first.http.get_cookie("carnet_auth", path="/auth")
    second.http.set_cookie("carnet_auth", cookie.value, path="/auth")
    response = second.enter_code(outbox.last_code())
    assert response.status_code == 302 and response.location.endswith("/auth/apps")
    assert second.get("/auth/apps").status_code == 200
    assert "You have not authorized any app" in second.page


def test_a_forged_session_cookie_is_not_read(unset, patient_account, outbox):
    browser = worker(unset)
    assert browser.login().status_code == 302
    cookie = browser.http.get_cookie("carnet_auth", path="/auth")
    payload, _, signature = cookie.value.rpartition(".")
    tampered = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
    browser.http.set_cookie("carnet_auth", tampered, path="/auth")
    response = browser.get("/auth/code")
    assert response.status_code == 302 and response.location.endswith("/auth/login")
