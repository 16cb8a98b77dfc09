"""The notices of consent.record_notices on the hospitals' path: an ITI-65 push tells the patient,
a push or a read refused by the record's life tells nothing, and the daily pass tells what a
failing sender left untold (docs/domain.md#told-of-what-matters)."""

import dataclasses
import io
import re
import sys

import pytest

from carnet.cli import main
from ingestion import records
from smart_auth.accounts import create_account
from tests.conftest import assert_outcome
from tests.consent import world as w
from tests.ingestion.lifecycle import Lifecycle, status
from tests.ingestion.mhd import LETTER_NIR, example, fresh, labelled
from tests.plan_check import unchecked
from tests.smart_auth.conftest import PASSWORD, Browser


@pytest.fixture
def settings(settings, tmp_path):
    """An outbox of the test's own."""
    return dataclasses.replace(settings, outbox=str(tmp_path / "outbox.jsonl"))


@pytest.fixture
def pushed(hospital, record_of, clock):
    """The discharge letter pushed for LETTER_NIR, then its patient's account (as activation makes
    it): `Patient/<id>` of the record."""
    answer = hospital.post("", fresh(example()))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    pk = record_of(LETTER_NIR)
    create_account("letter.patient", PASSWORD, pk, "sms", "+33612345678")
    return pk


def told(outbox) -> list[dict]:
    return [m for m in outbox.messages() if m.get("kind") == "document-added"]


def test_an_iti65_push_tells_the_patient_by_their_channel(pushed, hospital, outbox):
    assert told(outbox) == []  # the push before her account told nobody
    answer = hospital.post("", fresh(example()))
    assert answer.status_code == 200
    [notice] = told(outbox)
    assert notice["channel"] == "sms" and notice["to"] == "+33612345678"
    assert notice["patient"] == pushed and "02/03/2026" in notice["body"]  # the test's clock
    # Not its title, type, author or content: only that a document arrived, when, where to look.
    for secret in ("Lettre", "liaison", "11490-0", "cardiologie", "DocumentReference", "Binary"):
        assert secret not in repr(notice)
    assert "/auth/record/mine" in notice["body"]


def test_a_push_invisible_to_the_patient_is_not_told(pushed, hospital, outbox):
    answer = hospital.post("", labelled(fresh(example()), "INVISIBLE_PATIENT"))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert told(outbox) == []


def test_a_closed_record_is_told_nothing(pushed, hospital, client_for, outbox):
    id = pushed.removeprefix("Patient/")
    own = w.patient(client_for, id)
    assert own.post(f"Patient/{id}/$close").status_code == 200
    assert_outcome(hospital.post("", fresh(example())), 409, "business-rule")
    doctor = w.practitioner(client_for, "gp", id)
    assert doctor.get(f"Patient/{id}").status_code == 404
    assert outbox.messages() == []
    assert own.post(f"Patient/{id}/$reopen").status_code == 200
    assert hospital.post("", fresh(example())).status_code == 200
    assert len(told(outbox)) == 1


def test_the_daily_pass_tells_what_a_failing_sender_left(
    pushed, hospital, outbox, carnet, monkeypatch, settings, clock
):
    sender = carnet.notices.sender
    real = sender.send

    def down(*args, **kw):
        raise ConnectionError("SMS gateway unreachable")

    monkeypatch.setattr(sender, "send", down)
    assert hospital.post("", fresh(example())).status_code == 200  # no 5xx to the pusher
    monkeypatch.setattr(sender, "send", real)
    assert told(outbox) == []
    monkeypatch.setenv("FHIR_SERVER_OUTBOX", settings.outbox)
    monkeypatch.setenv("FHIR_SERVER_BASE_URL", settings.base_url)
    monkeypatch.setenv("MONGODB_DB", settings.mongodb_db)
    monkeypatch.setattr(sys, "stdout", io.StringIO())
    assert main(["notify-pending"], clock=clock) == 0
    [notice] = told(outbox)
    assert "Un nouveau document" in notice["body"]
    assert main(["notify-pending"], clock=clock) == 0  # once
    assert len(told(outbox)) == 1


# -- the patient's record page ------------------------------------------------------------------
CHECKBOX = re.compile(r'<input type="checkbox" id="([\w-]+)"[^>]*?(checked)?\s*>')


def checked(page: str) -> dict[str, bool]:
    """The notice boxes of the record page, checked or not."""
    boxes = {name: bool(on) for name, on in CHECKBOX.findall(page)}
    return {kind: boxes[kind] for kind in ("document-added", "first-access")}


@pytest.fixture
def signed_in(app, pushed, outbox) -> Browser:
    browser = Browser(app.test_client(), "fr")
    assert browser.login("letter.patient").status_code == 302
    browser.enter_code(outbox.last_code())
    return browser


def test_the_record_page_turns_each_kind_off_and_on(
    signed_in, pushed, hospital, client_for, outbox
):
    browser = signed_in
    browser.get("/auth/record/mine")
    assert "Être prévenu" in browser.page and "par SMS" in browser.page
    assert checked(browser.page) == {"document-added": True, "first-access": True}
    answer = browser.submit("/auth/record/mine/notices", {"first-access": "on"})
    assert answer.status_code == 200 and "Vos choix sont enregistrés" in browser.page
    browser.get("/auth/record/mine")
    assert checked(browser.page) == {"document-added": False, "first-access": True}
    assert hospital.post("", fresh(example())).status_code == 200
    assert told(outbox) == []
    # The API says the same (the patient's app).
    id = pushed.removeprefix("Patient/")
    own = w.patient(client_for, id)
    said = own.get(f"Patient/{id}/$notifications").get_json()["parameter"]
    assert {p["name"]: p["valueBoolean"] for p in said} == {
        "document-added": False,
        "first-access": True,
    }
    browser.get("/auth/record/mine")
    browser.submit("/auth/record/mine/notices", {"document-added": "on", "first-access": "on"})
    assert hospital.post("", fresh(example())).status_code == 200
    assert len(told(outbox)) == 1


def test_the_notice_choices_need_the_pages_token_and_a_patient(
    signed_in, app, carnet, outbox, snapshot
):
    signed_in.get("/auth/record/mine")
    before = snapshot()
    refused = signed_in.submit("/auth/record/mine/notices", {}, csrf=False)
    assert refused.status_code == 400
    assert snapshot() == before
    stranger = Browser(app.test_client(), "fr")
    response = stranger.http.post("/auth/record/mine/notices", data={})
    assert response.status_code in (302, 400)
    assert snapshot() == before


def test_a_pending_record_has_no_one_to_tell_and_no_backlog(
    monkeypatch, settings, clock, hospital, record_of, outbox
):
    life = Lifecycle(monkeypatch, settings, clock)
    assert life.notify(f"{LETTER_NIR},1991-03-07,email,p@example.fr") == 0
    assert hospital.post("", fresh(example())).status_code == 200
    assert status(LETTER_NIR) == "pending"
    assert told(outbox) == []  # the only message is the record's own notice, with its code
    # Her account, as activation makes it: the documents pushed before are not told afterwards.
    create_account("pending.patient", PASSWORD, record_of(LETTER_NIR), "email", "p@example.fr")
    assert hospital.post("", fresh(example())).status_code == 200
    [notice] = told(outbox)
    assert "Un nouveau document" in notice["body"]


def test_an_opposed_record_is_told_nothing(hospital, outbox, monkeypatch, settings, clock):
    life = Lifecycle(monkeypatch, settings, clock)
    assert life.run("notify", stdin=f"{LETTER_NIR},1991-03-07,email,p@example.fr\n") == 0
    records.set_status(LETTER_NIR, "opposed")
    sent = len(outbox.messages())
    assert_outcome(hospital.post("", fresh(example())), 409, "business-rule")
    assert len(outbox.messages()) == sent


def test_erasure_forgets_the_notices(pushed, hospital, client_for, carnet):
    id = pushed.removeprefix("Patient/")
    emergency = w.practitioner(client_for, "er", id, "bris_de_glace")
    assert emergency.get(f"Patient/{id}").status_code == 200
    assert hospital.post("", labelled(fresh(example()), "INVISIBLE_PATIENT")).status_code == 200
    own = w.patient(client_for, id)
    assert (
        own.post(
            f"Patient/{id}/$notifications",
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "first-access", "valueBoolean": False}],
            },
        ).status_code
        == 200
    )
    db = unchecked(carnet.store.db)
    for name in (
        "consent_queued_documents",
        "consent_first_accesses",
        "consent_notice_preferences",
    ):
        assert db[name].count_documents({}) == 1, name
    assert own.post(f"Patient/{id}/$erase").status_code == 200
    for name in (
        "consent_queued_documents",
        "consent_first_accesses",
        "consent_notice_preferences",
    ):
        assert db[name].count_documents({}) == 0, name
