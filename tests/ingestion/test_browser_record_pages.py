"""The person's record's-life and password pages in a real browser (Debian's chromium, headless,
driven by Playwright) against the app served in a thread: what the person reads, in French, and the
record's state the FHIR API shows afterwards.

CSP R1111-28 and R1111-36 (ingestion.record_pages), NIST SP 800-63B section 6.1.2.3
(smart_auth.password_pages). The clock is the live app's (carnet.clock), moved by the test, never
slept on.
"""

import pytest
import requests

from ingestion.opt_out import read_notices
from tests.browser import enter_code, enter_password, needs_chromium
from tests.conftest import issue_token
from tests.ingestion.lifecycle import T0, record, status
from tests.ingestion.mhd import HEGP, LETTER_NIR, example, fresh
from tests.smart_auth.conftest import (  # noqa: F401 (fixtures)
    live_server,  # the app served in a thread
    settings,  # with an outbox of the test's own
)

pytestmark = needs_chromium

BORN = "1991-03-07"
CARD = "1234567890"
FIRST, SECOND, THIRD = "un mot de passe bien long", "une phrase de passe neuve", "et une troisième"


@pytest.fixture
def server(live_server):  # noqa: F811
    """The live app, its clock at T0 and LETTER_NIR notified by e-mail (the operator's notice)."""
    live_server.carnet.clock.set(T0)
    notices, errors = read_notices([f"{LETTER_NIR},{BORN},email,paul@example.fr"])
    assert errors == []
    assert live_server.carnet.lifecycle.notify(notices)["notified"] == [LETTER_NIR]
    return live_server


class Hospital:
    """The demo hospital's system, over HTTP: pushes the discharge letter, reads the record."""

    def __init__(self, server):
        token = issue_token(
            server.carnet, "system/*.cruds", organization=HEGP, client_id="hegp-system"
        )
        self.base = server.fhir_base
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}

    def push(self) -> requests.Response:
        return requests.post(self.base, json=fresh(example()), headers=self.headers, timeout=30)

    def documents(self, patient: str) -> list[str]:
        bundle = requests.get(
            f"{self.base}/DocumentReference?patient={patient}", headers=self.headers, timeout=30
        ).json()
        return [entry["resource"]["id"] for entry in bundle.get("entry", [])]


def heading(page) -> str:
    return page.get_by_role("heading", level=1).inner_text()


def identity(page, code: str | None) -> None:
    page.get_by_label("Numéro de sécurité sociale").fill(LETTER_NIR)
    page.get_by_label("Date de naissance").fill(BORN)
    if code is not None:
        page.get_by_label("Code provisoire").fill(code)


def sign_in(page, server, password: str) -> None:
    """The 2-factor sign-in, from the sign-in page to where the person was going."""
    page.wait_for_url("**/auth/login")
    enter_password(page, "paul.martin", password)
    assert "par SMS au numéro finissant par 44" in page.content()
    enter_code(page, server.outbox)


def test_opposing_asking_a_new_code_then_withdrawing(server, page):
    hospital = Hospital(server)
    code = server.outbox.last_code()
    page.goto(f"{server.url}/auth/record")
    assert heading(page) == "Votre dossier médical partagé"
    assert page.locator("html").get_attribute("lang") == "fr"

    page.get_by_role("link", name="vous opposer à son ouverture").click()
    identity(page, "AAAA-BBBB-CCCC")
    page.get_by_role("button", name="Je m'oppose à l'ouverture de mon dossier").click()
    assert "ne correspondent pas" in page.get_by_role("alert").inner_text()
    assert status(LETTER_NIR) == "pending"  # a wrong code changed nothing
    identity(page, code)
    page.get_by_role("button", name="Je m'oppose à l'ouverture de mon dossier").click()
    assert heading(page) == "Opposition enregistrée"
    assert status(LETTER_NIR) == "opposed"
    assert hospital.push().status_code == 409  # an opposed record takes nothing

    # The opposition left no code: a new one, the next day (one a day).
    server.carnet.clock.advance(days=1)
    page.goto(f"{server.url}/auth/record")
    page.get_by_role("link", name="demander un nouveau code").click()
    identity(page, None)
    page.get_by_role("button", name="Envoyer un nouveau code").click()
    assert heading(page) == "Demande reçue"
    new_code = server.outbox.last_code()
    assert new_code != code and server.outbox.messages()[-1]["to"] == "paul@example.fr"

    page.goto(f"{server.url}/auth/record")
    page.get_by_role("link", name="revenir sur votre opposition").click()
    identity(page, new_code)
    page.get_by_role("button", name="Ouvrir mon dossier").click()
    assert heading(page) == "Votre dossier est ouvert"
    assert status(LETTER_NIR) == "open"
    assert hospital.push().status_code == 200  # the open record takes deposits again
    page.get_by_role("link", name="Activer mon dossier avec mon code").click()
    assert heading(page) == "Activer votre dossier"


def test_activating_early_then_passwords_closing_and_reopening(server, page):
    hospital = Hospital(server)
    code = server.outbox.last_code()
    server.carnet.clock.advance(days=10)  # well within the 42 days: early
    page.goto(f"{server.url}/auth/record")
    page.get_by_role("link", name="activer votre dossier dès maintenant").click()
    identity(page, code)
    page.get_by_label("Numéro de série de votre carte Vitale").fill(CARD)
    page.get_by_label("Identifiant").fill("paul.martin")
    page.get_by_label("Mot de passe (au moins 12 caractères)").fill("trop court")
    page.get_by_label("Le même mot de passe, à nouveau").fill("trop court")
    page.get_by_label("par SMS").check()
    page.get_by_label("Adresse électronique ou numéro de téléphone").fill("+33611223344")
    # The browser itself holds back a password under 12 characters (minlength).
    page.get_by_role("button", name="Activer mon dossier").click()
    assert heading(page) == "Activer votre dossier" and status(LETTER_NIR) == "pending"
    page.get_by_label("Mot de passe (au moins 12 caractères)").fill(FIRST)
    page.get_by_label("Le même mot de passe, à nouveau").fill(FIRST)
    page.get_by_role("button", name="Activer mon dossier").click()
    assert heading(page) == "Votre dossier est activé"
    assert "Votre compte « paul.martin » est créé" in page.content()
    assert status(LETTER_NIR) == "open"
    assert hospital.push().status_code == 200

    # The record's page asks for the 2-factor sign-in first, then comes back.
    page.goto(f"{server.url}/auth/record/mine")
    sign_in(page, server, FIRST)
    page.wait_for_url("**/auth/record/mine")
    assert "Votre dossier est ouvert" in page.locator("main").inner_text()
    patient = record(LETTER_NIR).patient
    (document,) = hospital.documents(patient)

    page.get_by_role("link", name="Changer mon mot de passe").click()
    page.get_by_label("Mot de passe actuel").fill(FIRST)
    page.get_by_label("Nouveau mot de passe").fill(SECOND)
    page.get_by_label("Le même mot de passe, à nouveau").fill(SECOND)
    page.get_by_role("button", name="Changer de mot de passe").click()
    assert heading(page) == "Mot de passe changé"
    page.goto(f"{server.url}/auth/record/mine")  # the sign-in before the change has ended
    page.wait_for_url("**/auth/login")

    # Forgotten: a one-time code on the account's channel (SMS), then a third password.
    page.goto(f"{server.url}/auth/record")
    page.get_by_role("link", name="réinitialiser votre mot de passe").click()
    page.get_by_label("Identifiant").fill("paul.martin")
    page.get_by_role("button", name="Recevoir un code").click()
    assert heading(page) == "Nouveau mot de passe"
    sent = server.outbox.messages()[-1]
    assert sent["channel"] == "sms" and sent["to"] == "+33611223344"
    page.get_by_label("Code reçu").fill(sent["code"])
    page.get_by_label("Nouveau mot de passe").fill(THIRD)
    page.get_by_label("Le même mot de passe, à nouveau").fill(THIRD)
    page.get_by_role("button", name="Changer de mot de passe").click()
    assert heading(page) == "Mot de passe changé"

    page.goto(f"{server.url}/auth/record/mine")
    sign_in(page, server, THIRD)
    page.wait_for_url("**/auth/record/mine")
    page.get_by_role("button", name="Fermer mon dossier").click()
    assert heading(page) == "Dossier fermé"
    assert status(LETTER_NIR) == "closed"
    assert hospital.documents(patient) == []  # no professional reads a closed record
    assert hospital.push().status_code == 409  # nor deposits in it
    page.get_by_role("link", name="Retour").click()
    text = page.locator("main").inner_text()
    assert "Votre dossier est fermé" in text and "archivé jusqu'au 12/03/2036" in text

    server.carnet.clock.advance(days=9 * 365)  # within the 10 years
    page.reload()
    page.get_by_role("button", name="Rouvrir mon dossier").click()
    assert heading(page) == "Dossier rouvert"
    assert status(LETTER_NIR) == "open"
    assert hospital.documents(patient) == [document]  # as it was
