"""smart_auth.login: the sign-in, one-time code and app pages, as a browser uses them."""

from datetime import timedelta

import pytest

from smart_auth.models import AppGrant, LoginChallenge, RefreshToken, utcnow
from smart_auth.otp import GONE, WRONG
from tests.smart_auth.conftest import PASSWORD


def test_login_page_is_plain_accessible_html(browser):
    response = browser.get("/auth/login")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = browser.page
    assert '<html lang="en">' in page
    assert 'name="username"' in page and 'name="password"' in page
    assert '<label for="username">' in page and '<label for="password">' in page
    assert 'autocomplete="current-password"' in page


def test_pages_send_security_headers(browser):
    headers = browser.get("/auth/login").headers
    assert headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"


def test_session_cookie_is_http_only_and_scoped(browser, patient_account):
    browser.login()
    cookie = browser.http.get_cookie("carnet_auth", path="/auth")
    assert cookie is not None and cookie.http_only and cookie.same_site == "Lax"


def test_password_then_code_signs_in(browser, patient_account, outbox):
    response = browser.login()
    assert response.status_code == 302 and response.location.endswith("/auth/code")
    browser.get("/auth/code")
    assert "by e-mail to a…@example.fr" in browser.page
    assert 'name="code"' in browser.page and 'autocomplete="one-time-code"' in browser.page
    response = browser.enter_code(outbox.last_code())
    assert response.status_code == 302 and response.location.endswith("/auth/apps")
    browser.get("/auth/apps")
    assert "You have not authorized any app" in browser.page


def test_wrong_password_and_unknown_user_are_indistinguishable(browser, patient_account, outbox):
    wrong = browser.login(password="not the password")
    wrong_page = browser.page
    unknown = browser.login(username="nobody.here", password="not the password")
    unknown_page = browser.page.replace("nobody.here", "alice.martin")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong_page == unknown_page
    assert "The username or password is incorrect." in wrong_page
    assert outbox.messages() == []


def test_lockout_page(browser, patient_account, settings, outbox):
    for _ in range(settings.login_max_failures):
        browser.login(password="not the password")
    response = browser.login()
    assert response.status_code == 401
    assert "sign-in is paused for 15 minutes" in browser.page
    assert outbox.messages() == []


def test_wrong_code_stays_on_the_code_page(browser, patient_account, outbox):
    browser.login()
    code = outbox.last_code()
    response = browser.enter_code("000000" if code != "000000" else "111111")
    assert response.status_code == 401 and WRONG in browser.page
    assert browser.enter_code(code).status_code == 302


def test_expired_code_sends_back_to_the_login_page(browser, patient_account, outbox, plan_check):
    browser.login()
    with plan_check.paused():  # the test sets the clock back on every challenge
        LoginChallenge.objects.update(set__expires_at=utcnow() - timedelta(seconds=1))
    response = browser.enter_code(outbox.last_code())
    assert response.status_code == 401
    assert GONE in browser.page and 'name="password"' in browser.page


def test_code_is_single_use(app, patient_account, outbox):
    from tests.smart_auth.conftest import Browser

    first = Browser(app.test_client())
    first.login()
    code = outbox.last_code()
    # Someone replaying the same session cookie and code after the person used it.
    cookie = first.http.get_cookie("carnet_auth", path="/auth").value
    replay = Browser(app.test_client())
    replay.http.set_cookie("carnet_auth", cookie, path="/auth")
    replay.get("/auth/code")
    assert first.enter_code(code).status_code == 302
    response = replay.submit("/auth/code", {"code": code})
    assert response.status_code == 401 and GONE in replay.page


@pytest.mark.parametrize("url", ["/auth/login", "/auth/code", "/auth/consent", "/auth/logout"])
def test_forms_without_csrf_token_are_refused(browser, patient_account, outbox, url):
    browser.get("/auth/login")
    response = browser.submit(url, {"username": "alice.martin", "password": PASSWORD}, csrf=False)
    assert response.status_code == 400
    assert "This form has expired" in browser.page
    assert outbox.messages() == []


def test_forged_csrf_token_is_refused(browser, patient_account, outbox):
    browser.get("/auth/login")
    response = browser.http.post(
        "/auth/login",
        data={"username": "alice.martin", "password": PASSWORD, "csrf_token": "forged"},
    )
    assert response.status_code == 400 and outbox.messages() == []


def test_password_never_enters_the_session(browser, patient_account, outbox):
    browser.login()
    with browser.http.session_transaction("/auth/apps") as session:
        assert PASSWORD not in repr(dict(session))
    browser.enter_code(outbox.last_code())
    with browser.http.session_transaction("/auth/apps") as session:
        assert PASSWORD not in repr(dict(session))
        # Who signed in is kept on the server; the cookie only names the session.
        assert "alice.martin" not in repr(dict(session)) and session["sid"]


def test_apps_page_needs_sign_in_then_comes_back(browser, patient_account, outbox):
    response = browser.get("/auth/apps")
    assert response.status_code == 302 and response.location.endswith("/auth/login")
    browser.login()
    response = browser.enter_code(outbox.last_code())
    assert response.location.endswith("/auth/apps")


def test_patient_lists_and_revokes_an_authorized_app(browser, patient_account, patient_app, outbox):
    AppGrant(
        fhir_user="Patient/p1", client_id="patient-app", scope="patient/DocumentReference.rs"
    ).save()
    RefreshToken(
        token_hash="h1",
        client_id="patient-app",
        fhir_user="Patient/p1",
        expires_at=utcnow() + timedelta(days=1),
    ).save()
    RefreshToken(
        token_hash="h2",
        client_id="patient-app",
        fhir_user="Patient/p2",
        expires_at=utcnow() + timedelta(days=1),
    ).save()
    browser.sign_in(outbox)
    browser.get("/auth/apps")
    assert "Mon Appli Santé" in browser.page and "Read your documents" in browser.page
    grant = AppGrant.objects.first()
    response = browser.submit(f"/auth/apps/{grant.id}/revoke", {})
    assert response.status_code == 302
    browser.get("/auth/apps")
    assert "can no longer reach your record" in browser.page
    assert "Mon Appli Santé" not in browser.page
    assert AppGrant.objects.first().revoked_at is not None
    assert RefreshToken.objects(token_hash="h1").first().revoked
    assert not RefreshToken.objects(token_hash="h2").first().revoked  # another person's


def test_nobody_revokes_someone_elses_app(browser, patient_account, outbox):
    other = AppGrant(fhir_user="Patient/p2", client_id="patient-app").save()
    browser.sign_in(outbox)
    browser.get("/auth/apps")
    browser.submit(f"/auth/apps/{other.id}/revoke", {})
    assert AppGrant.objects(id=other.id).first().revoked_at is None


def test_logout(browser, patient_account, outbox):
    browser.sign_in(outbox)
    browser.get("/auth/apps")
    assert browser.submit("/auth/logout", {}).status_code == 200
    assert browser.get("/auth/apps").status_code == 302
