"""smart_auth.password_pages: changing a password signed in, and resetting a forgotten one with a
one-time code sent on the account's registered channel (NIST SP 800-63B 6.1.2.3)."""

import re
from datetime import timedelta

import pytest

from smart_auth.accounts import ADDRESS_FACTOR, create_account
from smart_auth.models import Account, LoginThrottle, utcnow
from tests.smart_auth.conftest import PASSWORD, Browser

NEW = "un tout nouveau mot de passe"


@pytest.fixture
def sms_account(carnet):
    return create_account("bruno.petit", PASSWORD, "Patient/p9", "sms", "+33600000042")


def _change(browser, current: str, new: str, again: str | None = None):
    browser.get("/auth/password")
    form = {"current": current, "password": new, "password2": new if again is None else again}
    return browser.submit("/auth/password", form)


def test_changing_needs_a_sign_in_and_the_current_password(browser, patient_account, outbox):
    assert browser.get("/auth/password").status_code == 302  # to the sign-in page
    browser.sign_in(outbox)
    response = browser.get("/auth/password")
    assert response.status_code == 200 and '<html lang="fr">' in browser.page
    before = Account.objects.get(username="alice.martin").password_hash
    assert _change(browser, "wrong password!", NEW).status_code == 401
    assert _change(browser, PASSWORD, "short", "short").status_code == 400
    assert _change(browser, PASSWORD, NEW, NEW + "x").status_code == 400
    assert Account.objects.get(username="alice.martin").password_hash == before
    assert _change(browser, PASSWORD, NEW).status_code == 200
    assert Account.objects.get(username="alice.martin").password_hash.startswith("$argon2id$")
    # The sessions begun with the old password end; the new one signs in, the old one not.
    assert browser.get("/auth/password").status_code == 302
    assert browser.login(password=PASSWORD).status_code == 401
    assert browser.login(password=NEW).status_code == 302


def _reset(browser, username: str):
    browser.get("/auth/password/reset")
    return browser.submit("/auth/password/reset", {"username": username})


def _reset_code(browser, code: str, new: str = NEW):
    browser.get("/auth/password/reset/code")
    form = {"code": code, "password": new, "password2": new}
    return browser.submit("/auth/password/reset/code", form)


def test_reset_by_a_code_on_the_registered_channel(browser, sms_account, outbox):
    assert _reset(browser, "bruno.petit").status_code == 302
    sent = outbox.messages()[-1]
    assert sent["channel"] == "sms" and sent["to"] == "+33600000042"
    code = sent["code"]
    wrong = "000000" if code != "000000" else "111111"
    assert _reset_code(browser, wrong).status_code == 401 and "incorrect" in browser.page
    assert _reset_code(browser, code, "short").status_code == 400
    assert _reset_code(browser, code).status_code == 200
    assert browser.login("bruno.petit", NEW).status_code == 302
    # The code served once.
    _reset(browser, "bruno.petit")
    assert _reset_code(browser, code).status_code == 401


def test_reset_tells_nothing_of_unknown_usernames(browser, sms_account, outbox):
    assert _reset(browser, "nobody.here").status_code == 302
    browser.get("/auth/password/reset/code")
    unknown_page = browser.page
    assert outbox.messages() == []
    response = _reset_code(browser, "123456")
    assert response.status_code == 401 and 'href="/auth/password/reset"' in browser.page
    _reset(browser, "bruno.petit")
    browser.get("/auth/password/reset/code")
    assert browser.page == unknown_page  # the same session, the same page
    assert len(outbox.messages()) == 1


def test_reset_forms_need_the_csrf_token(browser, sms_account, outbox):
    browser.get("/auth/password/reset")
    response = browser.submit("/auth/password/reset", {"username": "bruno.petit"}, csrf=False)
    assert response.status_code == 400 and outbox.messages() == []


def _without_csrf(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]+"', "", page)


def test_reset_requests_pause_per_username_known_or_not(
    app, settings, sms_account, outbox, plan_check
):
    limit = settings.reset_max_requests
    known, unknown = Browser(app.test_client()), Browser(app.test_client())
    for _ in range(limit):
        assert _reset(known, "bruno.petit").status_code == 302
        assert _reset(unknown, "nobody.here").status_code == 302
    assert len(outbox.messages()) == limit
    paused = _reset(known, "Bruno.Petit")  # the same username, however typed
    assert paused.status_code == 429 and "reprendront dans 15 minutes" in known.page
    assert _reset(unknown, "nobody.here").status_code == 429
    assert _without_csrf(known.page) == _without_csrf(unknown.page)  # tells nothing
    assert len(outbox.messages()) == limit  # no message while paused
    # Another username from the same address is not paused; nor is signing in.
    assert _reset(known, "someone.else").status_code == 302
    assert known.login("bruno.petit", PASSWORD).status_code == 302
    sent = len(outbox.messages())  # the sign-in's code among them
    # The pause ends with its window.
    with plan_check.paused():
        LoginThrottle.objects.update(
            set__locked_until=utcnow() - timedelta(seconds=1),
            set__expires_at=utcnow() - timedelta(seconds=1),
        )
    assert _reset(known, "bruno.petit").status_code == 302
    assert len(outbox.messages()) == sent + 1


def test_reset_requests_pause_per_client_address(app, settings, sms_account, outbox):
    from_there = Browser(app.test_client())
    for n in range(settings.reset_max_requests * ADDRESS_FACTOR):
        assert _reset(from_there, f"name.{n}").status_code == 302
    assert _reset(from_there, "bruno.petit").status_code == 429
    assert outbox.messages() == []
    elsewhere = Browser(app.test_client())
    elsewhere.http.environ_base["REMOTE_ADDR"] = "192.0.2.7"
    assert _reset(elsewhere, "bruno.petit").status_code == 302
    assert outbox.messages()[-1]["to"] == "+33600000042"
