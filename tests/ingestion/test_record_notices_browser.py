"""The patient turns a kind of notice off and on again on their record page, in a real browser
(Debian's chromium, headless, driven by Playwright): consent.record_notices through
ingestion.record_pages, and a deposit then tells them (or not) as they chose."""

import dataclasses
import json
import urllib.request

import pytest

from tests.browser import needs_chromium, sign_in
from tests.conftest import issue_token
from tests.consent import world as w
from tests.smart_auth.conftest import PASSWORD, seed_patient_record

pytestmark = needs_chromium


@pytest.fixture
def settings(settings, tmp_path):
    """An outbox of the test's own."""
    return dataclasses.replace(settings, outbox=str(tmp_path / "outbox.jsonl"))


def deposit(live) -> int:
    """A professional's software deposits a document into Patient/p1, through HTTP."""
    token = issue_token(
        live.carnet, "user/*.cruds", "practitioner", fhir_user="Practitioner/author"
    )
    request = urllib.request.Request(
        f"{live.fhir_base}/DocumentReference",
        data=json.dumps(w.document("p1", "Compte rendu")).encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/fhir+json"},
        method="POST",
    )
    with urllib.request.urlopen(request) as answer:
        return answer.status


def told(live) -> list[dict]:
    return [m for m in live.outbox.messages() if m.get("kind") == "document-added"]


def test_the_patient_turns_new_document_notices_off_and_on_in_the_browser(live_server, page):
    live = live_server
    seed_patient_record(live)
    page.goto(f"{live.url}/auth/record/mine")
    page.wait_for_url("**/auth/login")
    sign_in(page, live.outbox, "alice.martin", PASSWORD)
    page.wait_for_url("**/auth/record/mine")

    assert page.get_by_role("heading", name="Être prévenu").is_visible()
    new_document = page.get_by_label("Quand un nouveau document est ajouté à mon dossier")
    first_access = page.get_by_label(
        "Quand un professionnel consulte mon dossier pour la première fois"
    )
    assert new_document.is_checked() and first_access.is_checked()
    new_document.uncheck()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Vos choix sont enregistrés"

    assert deposit(live) == 201
    assert told(live) == []  # turned off

    page.goto(f"{live.url}/auth/record/mine")
    assert not new_document.is_checked() and first_access.is_checked()
    new_document.check()
    page.get_by_role("button", name="Enregistrer mes choix").click()
    page.get_by_role("link", name="Retour").click()
    page.wait_for_url("**/auth/record/mine")
    assert new_document.is_checked()

    assert deposit(live) == 201
    [notice] = told(live)
    assert notice["to"] == "alice@example.fr" and "Compte rendu" not in repr(notice)
