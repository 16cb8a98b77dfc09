"""smart_auth.sessions: a sign-in lives on the server; logout ends it for every copy of the cookie."""

import logging
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from smart_auth.models import Account, AppGrant, SignInSession, utcnow
from tests.smart_auth.conftest import Browser, authorize_params

COOKIE = "carnet_auth"


def _copy(browser: Browser, app) -> Browser:
    """Someone else's browser holding a copy of this browser's sign-in cookie."""
    thief = Browser(app.test_client())
    cookie = browser.http.get_cookie(COOKIE, path="/auth").value
    thief.http.set_cookie(COOKIE, cookie, path="/auth")
    return thief


def _logout(browser: Browser) -> None:
    browser.get("/auth/apps")
    assert browser.submit("/auth/logout", {}).status_code == 200


def _to_login(response) -> bool:
    return response.status_code == 302 and response.location.endswith("/auth/login")


@pytest.fixture
def signed_in(browser, patient_account, patient_app, outbox) -> Browser:
    """Signed in with an app waiting for approval (the consent page has something to show)."""
    browser.get("/auth/authorize?" + urlencode(authorize_params()))
    response = browser.sign_in(outbox)
    assert response.location.endswith("/auth/consent")
    return browser


@pytest.mark.parametrize("page", ["/auth/apps", "/auth/consent", "/auth/care-team"])
def test_a_copied_cookie_reaches_nothing_after_logout(signed_in, app, page):
    thief = _copy(signed_in, app)
    assert thief.get(page).status_code == 200, "the copy worked while signed in"
    _logout(signed_in)
    assert _to_login(thief.get(page))
    assert signed_in.get(page).status_code in (302, 400)  # nothing pending there any more


def test_a_copied_cookie_cannot_post_after_logout(signed_in, app):
    grant = AppGrant(fhir_user="Patient/p1", client_id="patient-app").save()
    thief = _copy(signed_in, app)
    thief.get("/auth/apps")  # a page with the session's CSRF token, before the logout
    _logout(signed_in)
    assert _to_login(thief.submit(f"/auth/apps/{grant.id}/revoke", {}))
    assert AppGrant.objects(id=grant.id).first().revoked_at is None
    thief.get("/auth/consent")
    response = thief.http.post("/auth/consent", data={"decision": "approve"})
    assert response.status_code in (302, 400) and "code=" not in response.headers.get(
        "Location", ""
    )


def test_a_session_ends_at_its_expiry(signed_in, plan_check):
    with plan_check.paused():  # the test sets the clock back on every session
        SignInSession.objects.update(set__expires_at=utcnow() - timedelta(seconds=1))
    assert _to_login(signed_in.get("/auth/apps"))


def test_a_new_password_ends_every_session(signed_in, app):
    thief = _copy(signed_in, app)
    Account.objects(username="alice.martin").update(set__password_hash="$argon2id$another")
    assert _to_login(thief.get("/auth/apps"))
    assert _to_login(signed_in.get("/auth/apps"))


def test_signing_in_again_ends_the_previous_session(signed_in, app, outbox):
    old = _copy(signed_in, app)
    signed_in.sign_in(outbox)
    assert signed_in.get("/auth/apps").status_code == 200
    assert _to_login(old.get("/auth/apps"))


def test_the_session_id_is_stored_hashed_and_never_logged(
    browser, patient_account, outbox, caplog, carnet, plan_check
):
    caplog.set_level(logging.DEBUG)
    browser.sign_in(outbox)
    browser.get("/auth/apps")
    with browser.http.session_transaction("/auth/apps") as session:
        session_id = session["sid"]
    cookie = browser.http.get_cookie(COOKIE, path="/auth").value
    with plan_check.paused():  # the test reads everything stored
        stored = repr([s.to_mongo() for s in SignInSession.objects])
    assert session_id not in stored
    assert session_id not in caplog.text and cookie not in caplog.text
