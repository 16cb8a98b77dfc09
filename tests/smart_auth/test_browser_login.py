"""A real browser (Debian's chromium, headless, driven by Playwright) signs in and approves an app.

SMART App Launch 2 standalone launch, the person's side
(https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code): login page,
one-time code page (the code read from the outbox), consent page, then the redirect to the app
with a code and the app's state.
"""

from urllib.parse import parse_qs, urlencode, urlsplit

from tests.browser import needs_chromium, sign_in
from tests.smart_auth.conftest import PASSWORD, REDIRECT_URI, authorize_params, seed_patient_record

pytestmark = needs_chromium


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
    sign_in(page, live_server.outbox, "alice.martin", PASSWORD)

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
