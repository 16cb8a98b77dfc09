"""consent.care_team: a professional's self-declaration in the care team is announced to the
patient at once, shown on their care team page, and withdrawn there in one click."""

import pytest

from smart_auth.accounts import create_account
from smart_auth.models import Account
from tests.conftest import store_snapshot
from tests.consent import world as w
from tests.smart_auth.conftest import PASSWORD, Browser


@pytest.fixture
def world(fhir, client_for, carnet):
    seeded = w.seed(fhir, client_for)
    create_account("alice.martin", PASSWORD, "Patient/alice", "email", "alice@example.fr")
    return seeded


@pytest.fixture
def alice_browser(app, world, outbox) -> Browser:
    browser = Browser(app.test_client())
    browser.sign_in(outbox)
    return browser


def _declare(client_for, who: str = "other", patient: str = "alice"):
    """Professional software records that the patient agreed to its user's access."""
    pro = w.practitioner(client_for, who, patient)
    return pro.post("Consent", w.privacy_consent(patient, "permit", [f"Practitioner/{who}"]))


def _notices(outbox) -> list[dict]:
    return [m for m in outbox.messages() if m.get("kind") == "care-team-declared"]


def test_a_declaration_is_announced_to_the_patient_at_once(world, client_for, outbox):
    response = _declare(client_for)
    assert response.status_code == 201
    consent_id = response.get_json()["id"]
    [notice] = _notices(outbox)
    assert notice["to"] == "alice@example.fr" and notice["patient"] == "Patient/alice"
    assert notice["consent"] == f"Consent/{consent_id}"
    assert "Practitioner/other" in notice["body"] and "/auth/care-team" in notice["body"]
    # Who declared themselves, never a document.
    for doc in world.docs["alice"].values():
        assert doc not in repr(notice)
    assert "DocumentReference" not in repr(notice)


def test_the_patients_own_choices_and_refused_declarations_are_not_announced(
    world, client_for, outbox, carnet
):
    alice = w.patient(client_for, "alice")
    alice.create(w.privacy_consent("alice", "permit", ["Practitioner/other"]))
    before = store_snapshot(carnet)
    assert _declare(client_for, "blocked").status_code == 403  # she blocked him
    assert store_snapshot(carnet) == before
    assert _notices(outbox) == []


def test_the_page_lists_who_declared_themselves_and_whom_she_added(
    world, client_for, alice_browser
):
    _declare(client_for)
    alice_browser.get("/auth/care-team")
    page = alice_browser.page
    assert "Practitioner/other" in page and "Declared by their own software" in page
    assert "Practitioner/colleague" in page and "Added by you" in page
    assert "Practitioner/blocked" not in page  # a block is not a care team member
    for doc in world.docs["alice"].values():
        assert doc not in page


def test_withdrawing_ends_the_professionals_access(world, client_for, alice_browser, fhir):
    consent_id = _declare(client_for).get_json()["id"]
    other = w.practitioner(client_for, "other", "alice")
    normal = world.doc("alice", "normal")
    assert other.get(f"DocumentReference/{normal}").status_code == 200
    alice_browser.get("/auth/care-team")
    response = alice_browser.submit(f"/auth/care-team/{consent_id}/withdraw", {})
    assert response.status_code == 302 and response.location.endswith("/auth/care-team")
    alice_browser.get("/auth/care-team")
    assert "withdrawn" in alice_browser.page and "Practitioner/other" not in alice_browser.page
    assert other.get(f"DocumentReference/{normal}").status_code == 404
    consent = fhir.get(f"Consent/{consent_id}").get_json()
    assert consent["status"] == "inactive" and consent["meta"]["versionId"] == "2"
    # A new version, kept in the history beside the professional's declaration.
    history = fhir.search(f"Consent/{consent_id}/_history")
    assert [e["resource"]["status"] for e in history["entry"]] == ["inactive", "active"]


def test_a_withdrawal_without_the_forms_token_is_refused(world, client_for, alice_browser, carnet):
    consent_id = _declare(client_for).get_json()["id"]
    alice_browser.get("/auth/care-team")
    before = store_snapshot(carnet)
    response = alice_browser.submit(f"/auth/care-team/{consent_id}/withdraw", {}, csrf=False)
    assert response.status_code == 400 and "This form has expired" in alice_browser.page
    forged = alice_browser.http.post(
        f"/auth/care-team/{consent_id}/withdraw", data={"csrf_token": "forged"}
    )
    assert forged.status_code == 400
    assert store_snapshot(carnet) == before


def test_nobody_withdraws_from_another_record(world, client_for, alice_browser, carnet):
    bernard_consent = _declare(client_for, patient="bernard").get_json()["id"]
    alice_browser.get("/auth/care-team")
    before = store_snapshot(carnet)
    alice_browser.submit(f"/auth/care-team/{bernard_consent}/withdraw", {})
    assert store_snapshot(carnet) == before


def test_the_page_needs_a_signed_in_patient(app, world, outbox, carnet):
    browser = Browser(app.test_client())
    response = browser.get("/auth/care-team")
    assert response.status_code == 302 and response.location.endswith("/auth/login")
    create_account("dr.other", PASSWORD, "Practitioner/other", "email", "other@example.fr")
    browser.login("dr.other")
    browser.enter_code(outbox.last_code())
    assert browser.get("/auth/care-team").status_code == 403
    assert Account.objects(username="dr.other").first() is not None
