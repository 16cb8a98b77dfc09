"""The sign-in pages speak French first (smart_auth.languages): French by default and by
`Accept-Language: fr`, English by `Accept-Language: en`, `<html lang>` and Content-Language
accordingly; a bad authorization request shows a page with a way back."""

import re
from html import unescape
from urllib.parse import urlencode

import pytest

from smart_auth.french import FRENCH
from tests.smart_auth.conftest import REDIRECT_URI, Browser, authorize_params

# The catalogue's English sentences (those of more than one word, without values): none of
# them may be left on a French page.
ENGLISH = [text for text in FRENCH if " " in text and "{" not in text]


def _visible(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def assert_french(page: str) -> None:
    assert '<html lang="fr">' in page
    text = unescape(_visible(page))
    left = [english for english in ENGLISH if english in text]
    assert not left, left


@pytest.fixture
def french(app) -> Browser:
    """A browser that sends no Accept-Language at all."""
    browser = Browser(app.test_client())
    del browser.http.environ_base["HTTP_ACCEPT_LANGUAGE"]
    return browser


@pytest.mark.parametrize(
    "header, lang",
    [
        (None, "fr"),
        ("fr-FR,fr;q=0.9", "fr"),
        ("en-GB,en;q=0.9", "en"),
        ("de-DE, en;q=0.5", "en"),
        ("en;q=0.3, fr;q=0.8", "fr"),
        ("es, it", "fr"),
        ("en;q=0, fr;q=0.1", "fr"),
    ],
)
def test_the_language_follows_accept_language(app, header, lang):
    headers = {"Accept-Language": header} if header else {}
    answer = app.test_client().get("/auth/login", headers=headers)
    page = answer.get_data(as_text=True)
    assert f'<html lang="{lang}">' in page
    assert answer.headers["Content-Language"] == lang
    assert "Accept-Language" in answer.headers["Vary"]
    assert ("Identifiant" in page) == (lang == "fr")
    assert ("Username" in page) == (lang == "en")


def test_the_whole_sign_in_is_in_french_by_default(french, patient_account, patient_app, outbox):
    french.get(f"/auth/authorize?{urlencode(authorize_params())}")
    french.get("/auth/login")
    assert_french(french.page)
    assert "Connexion" in unescape(french.page) and "Mot de passe" in unescape(french.page)
    assert "Mon Appli Santé" in unescape(french.page)

    refused = french.submit("/auth/login", {"username": "alice.martin", "password": "wrong!"})
    assert refused.status_code == 401
    assert_french(french.page)
    assert "L'identifiant ou le mot de passe est incorrect." in unescape(french.page)

    french.login()
    french.get("/auth/code")
    assert_french(french.page)
    assert "par e-mail à a…@example.fr" in unescape(french.page)
    french.submit("/auth/code", {"code": "000000"})
    assert "Ce code est incorrect." in unescape(french.page)
    french.enter_code(outbox.last_code())

    french.get("/auth/consent")
    assert_french(french.page)
    assert "Autoriser Mon Appli Santé à accéder à votre dossier de santé ?" in unescape(french.page)
    assert "Lire vos documents" in unescape(french.page)
    assert "Savoir qui vous êtes" in unescape(french.page)

    request_id = re.search(r'name="request_id" value="([^"]+)"', french.page).group(1)
    approved = french.submit("/auth/consent", {"decision": "approve", "request_id": request_id})
    assert approved.status_code == 302 and approved.location.startswith(REDIRECT_URI)

    french.get("/auth/apps")
    assert_french(french.page)
    assert "Vos applications autorisées" in unescape(french.page)
    assert "Lire vos documents" in unescape(french.page)
    grant = re.search(r'action="(/auth/apps/[^"]+/revoke)"', french.page).group(1)
    french.submit(grant, {})
    french.get("/auth/apps")
    assert "C'est fait : cette application ne peut plus accéder à votre dossier." in unescape(
        french.page
    )

    french.submit("/auth/logout", {})
    assert_french(french.page)
    assert "Vous êtes déconnecté(e) de Carnet." in unescape(french.page)


def test_english_when_asked(browser, patient_account, patient_app, outbox):
    browser.get(f"/auth/authorize?{urlencode(authorize_params())}")
    browser.sign_in(outbox)
    browser.get("/auth/consent")
    assert '<html lang="en">' in unescape(browser.page)
    assert "Allow Mon Appli Santé to access your health record?" in unescape(browser.page)
    assert "Read your documents" in unescape(browser.page)


def test_an_expired_form_is_explained_in_french(french):
    french.get("/auth/login")
    answer = french.submit("/auth/login", {"username": "x", "password": "y"}, csrf=False)
    assert answer.status_code == 400
    assert_french(french.page)
    assert "Ce formulaire a expiré" in unescape(french.page)


# -- a bad authorization request (RFC 6749 section 4.1.2.1) -----------------------------------
@pytest.mark.parametrize(
    "change, explained",
    [
        ({"client_id": "no-such-app"}, "n'est pas connue de Carnet"),
        ({"redirect_uri": "https://evil.example/cb"}, "une adresse qu'elle n'a pas déclarée"),
    ],
)
def test_a_request_that_cannot_go_back_to_the_app_shows_a_page_with_a_way_back(
    french, patient_app, change, explained
):
    came_from = "https://app.example/start"
    answer = french.get(
        f"/auth/authorize?{urlencode(authorize_params(**change))}",
        headers={"Referer": came_from},
    )
    assert answer.status_code == 400
    assert answer.mimetype == "text/html"
    assert_french(french.page)
    assert "La demande de cette application ne peut pas être acceptée" in unescape(french.page)
    assert explained in unescape(french.page)
    assert f'href="{came_from}"' in unescape(french.page)  # the way back
    assert 'href="/auth/apps"' in unescape(french.page)
    assert "evil.example" not in french.page.split("<code>")[0]
    assert not answer.is_json


def test_an_error_that_may_go_back_to_the_app_is_redirected(french, patient_app):
    answer = french.get(
        f"/auth/authorize?{urlencode(authorize_params(code_challenge_method='plain'))}"
    )
    assert answer.status_code == 302
    assert answer.location.startswith(REDIRECT_URI) and "error=" in answer.location
