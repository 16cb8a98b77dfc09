"""A real browser (Debian's chromium, headless, driven by Playwright) signs in and approves an app.

SMART App Launch 2 standalone launch, the person's side
(https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code): login page,
one-time code page (the code read from the outbox), consent page, then the redirect to the app
with a code and the app's state.
"""

import os
from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from tests.smart_auth.conftest import PASSWORD, REDIRECT_URI, authorize_params, seed_patient_record

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM),
    reason=f"Debian's chromium is not installed at {CHROMIUM} (apt-get install chromium)",
)


@contextmanager
def chromium_page():
    """A page of headless Debian chromium, with a French locale; the browser closed afterwards."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(locale="fr-FR")
        try:
            yield context.new_page()
        finally:
            context.close()
            browser.close()


@pytest.fixture
def page():
    with chromium_page() as opened:
        yield opened


def test_browser_goes_through_login_code_and_consent(live_server, page):
    seed_patient_record(live_server)
    params = authorize_params(aud=live_server.fhir_base)
    arrived: list[str] = []

    # The app's redirect URI is not served here: the browser's request to it is caught and answered.
    def at_the_app(route):
        arrived.append(route.request.url)
        route.fulfill(
            status=200, content_type="text/html", body="<title>App</title>Back in the app"
        )

    page.route(REDIRECT_URI + "*", at_the_app)

    page.goto(f"{live_server.url}/auth/authorize?{urlencode(params)}")
    assert page.url == f"{live_server.url}/auth/login"
    assert "Mon Appli Santé" in page.content()
    # The browser speaks French (locale fr-FR): so do the pages.
    assert page.locator("html").get_attribute("lang") == "fr"
    page.get_by_label("Identifiant").fill("alice.martin")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Continuer").click()

    page.wait_for_url("**/auth/code")
    page.get_by_label("Code à 6 chiffres").fill(live_server.outbox.last_code())
    page.get_by_role("button", name="Valider").click()

    page.wait_for_url("**/auth/consent")
    assert page.get_by_role("heading", level=1).inner_text() == (
        "Autoriser Mon Appli Santé à accéder à votre dossier de santé ?"
    )
    assert page.get_by_text("Lire vos documents").is_visible()
    page.get_by_role("button", name="Autoriser", exact=True).click()

    page.wait_for_url(REDIRECT_URI + "*")
    assert "Back in the app" in page.content()
    (url,) = arrived
    query = parse_qs(urlsplit(url).query)
    assert query["state"] == [params["state"]]
    assert len(query["code"][0]) >= 20
