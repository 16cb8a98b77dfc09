"""What the browser tests share: Debian's chromium driven by Playwright, and the French sign-in.

A test module uses `needs_chromium` as its `pytestmark` and takes the `page` fixture
(tests/conftest.py) for a fresh French-speaking page.
"""

import os
from contextlib import contextmanager

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

needs_chromium = pytest.mark.skipif(
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


def enter_password(page, username: str, password: str) -> None:
    """The French sign-in page (where the page already is), up to the one-time code page."""
    page.get_by_label("Identifiant").fill(username)
    page.get_by_label("Mot de passe").fill(password)
    page.get_by_role("button", name="Continuer").click()
    page.wait_for_url("**/auth/code")


def enter_code(page, outbox) -> None:
    """The one-time code page: the last code `outbox` holds, then on to where the person was
    going."""
    page.get_by_label("Code à 6 chiffres").fill(outbox.last_code())
    page.get_by_role("button", name="Valider").click()


def sign_in(page, outbox, username: str, password: str) -> None:
    """The 2-factor sign-in on the French pages, from the sign-in page."""
    enter_password(page, username, password)
    enter_code(page, outbox)
