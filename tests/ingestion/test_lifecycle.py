"""The record's life through HTTP and the operator's command: opt-out notice, opening at the end
of the window, $close / $reopen / $erase and the archive's end (CSP R1111-28, R1111-36).

The clock is the test's (carnet.clock), never slept on; the rules are in
docs/domain.md#the-record-and-its-status.
"""

import dataclasses
from datetime import timedelta

import pytest

from carnet_core.clock import aware
from smart_auth.accounts import create_account, verify_hash
from smart_auth.models import Account
from tests.conftest import assert_outcome
from tests.consent import world as w
from tests.fhir_server.test_bulk_export import files, kick_off, manifest, observation
from tests.ingestion.lifecycle import T0, Lifecycle, record, remains_of, status
from tests.ingestion.mhd import LETTER_NIR, example, fresh
from tests.plan_check import unchecked
from tests.smart_auth.conftest import ADMIN_TOKEN, PASSWORD

NIR_A, NIR_B, NIR_C = "184057512300192", "292017512300270", "170017512300333"


@pytest.fixture
def settings(settings, tmp_path):
    """An outbox of the test's own; Binary content beyond a few bytes goes to GridFS (erasure
    must reach it there too)."""
    return dataclasses.replace(
        settings,
        outbox=str(tmp_path / "outbox.jsonl"),
        admin_token=ADMIN_TOKEN,
        secret_key="test-session-key",
        gridfs_threshold=16,
    )


@pytest.fixture
def life(monkeypatch, settings, clock):
    return Lifecycle(monkeypatch, settings, clock)


@pytest.fixture
def pushed(hospital, record_of, clock):
    """The discharge letter pushed for LETTER_NIR: `Patient/<id>` of the record it opened."""
    answer = hospital.post("", fresh(example()))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return record_of(LETTER_NIR)


@pytest.fixture
def own(client_for, pushed):
    """The patient's own app on that record."""
    return w.patient(client_for, pushed.removeprefix("Patient/"))


def test_notify_writes_once_to_each_person_with_a_code_kept_only_hashed(
    life, outbox, tmp_path, capsys
):
    listing = tmp_path / "people.csv"
    listing.write_text(
        "ins,birth_date,channel,address\n"
        f"{NIR_A},1984-05-12,email,anne@example.fr\n"
        f"{NIR_B},1992-01-30,sms,+33612345678\n"
        "184057512300100,1984-05-12,email,wrong-key@example.fr\n"
        f"{NIR_C},1970-13-01,letter,1 rue de la Paix 75002 Paris\n",
        encoding="utf-8",
    )
    assert life.run("notify", str(listing)) == 1  # two lines are refused, the others sent
    err = capsys.readouterr().err
    assert "line 4:" in err and "line 5:" in err
    sent = outbox.messages()
    assert [(m["channel"], m["to"]) for m in sent] == [
        ("email", "anne@example.fr"),
        ("sms", "+33612345678"),
    ]
    for message, nir in zip(sent, (NIR_A, NIR_B), strict=True):
        stored = record(nir)
        assert stored.status == "pending"
        assert message["code"] in message["body"] and "/auth/record" in message["body"]
        assert message["code"] not in repr(stored.to_mongo())
        assert verify_hash(stored.code_hash, message["code"])
        assert aware(stored.window_ends) == T0 + timedelta(days=42)
    # Safe to run again on the same list: nobody is written to twice.
    assert life.run("notify", str(listing)) == 1
    assert "0 person(s) notified, 2 skipped" in capsys.readouterr().out
    assert len(outbox.messages()) == 2
    # Standard input, as the help says.
    assert life.notify(f"{NIR_C},1970-01-01,letter,1 rue de la Paix 75002 Paris") == 0
    assert outbox.messages()[-1]["channel"] == "letter"


def test_without_an_answer_the_record_opens_when_the_window_ends(life, clock, capsys):
    assert life.notify(f"{NIR_A},1984-05-12,email,anne@example.fr") == 0
    clock.advance(days=41, hours=23)
    assert life.run("run") == 0 and status(NIR_A) == "pending"
    clock.advance(hours=1)
    capsys.readouterr()
    assert life.run("run") == 0 and status(NIR_A) == "open"
    assert "1 record(s) opened" in capsys.readouterr().out
    # Twice, or late: nothing more happens.
    clock.advance(days=300)
    assert life.run("run") == 0 and status(NIR_A) == "open"
    assert "0 record(s) opened" in capsys.readouterr().out


def test_a_push_before_the_opening_opens_the_record_as_today(life, hospital, record_of, client_for):
    assert life.notify(f"{LETTER_NIR},1991-03-07,email,p@example.fr") == 0
    assert hospital.post("", fresh(example())).status_code == 200
    pk = record_of(LETTER_NIR)
    assert pk is not None and status(LETTER_NIR) == "pending"  # still free to oppose
    assert hospital.search(f"DocumentReference?patient={pk}")["total"] >= 1


def test_a_record_a_push_opened_is_notified_for_activation(life, pushed, outbox):
    assert status(LETTER_NIR) == "open"
    assert life.notify(f"{LETTER_NIR},1991-03-07,sms,+33611111111") == 0
    sent = outbox.messages()[-1]
    assert sent["channel"] == "sms" and "est ouvert" in sent["body"]
    assert status(LETTER_NIR) == "open" and verify_hash(record(LETTER_NIR).code_hash, sent["code"])
    assert life.notify(f"{LETTER_NIR},1991-03-07,sms,+33611111111") == 0
    assert len(outbox.messages()) == 1  # once


def test_only_the_patient_closes_their_record(own, pushed, hospital, client_for, snapshot):
    id = pushed.removeprefix("Patient/")
    before = snapshot()
    for caller in (
        hospital,
        w.practitioner(client_for, "gp", id),
        w.patient(client_for, "someone"),
    ):
        assert_outcome(caller.post(f"Patient/{id}/$close"), 403, "forbidden")
    assert_outcome(own.post(f"Patient/{id}/$close?mode=shred"), 400)
    reader = w.patient(client_for, id, "patient/*.rs")
    assert_outcome(reader.post(f"Patient/{id}/$close"), 403)  # no scope to change the record
    assert snapshot() == before
    assert status(LETTER_NIR) == "open"


def test_a_closed_record_takes_no_deposit_and_no_professional_reads_it(
    own, pushed, hospital, client_for, snapshot, clock
):
    id = pushed.removeprefix("Patient/")
    doc = hospital.ids(f"DocumentReference?patient={pushed}")[0]
    answer = own.post(f"Patient/{id}/$close")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    said = {p["name"]: p for p in answer.get_json()["parameter"]}
    assert said["status"]["valueCode"] == "closed"
    assert said["archivedUntil"]["valueDateTime"].startswith("2036-03-02T09:00:00")
    assert_outcome(own.post(f"Patient/{id}/$close"), 409, "business-rule")
    before = snapshot()
    assert_outcome(hospital.post("", fresh(example())), 409, "business-rule")  # ITI-65
    observation = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": pushed},
    }
    assert_outcome(hospital.post("Observation", observation), 409, "business-rule")
    entry = {"resource": observation, "request": {"method": "POST", "url": "Observation"}}
    transaction = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
    assert_outcome(hospital.post("", transaction), 409, "business-rule")
    assert snapshot() == before
    emergency = w.practitioner(client_for, "er", id, "bris_de_glace")
    for professional in (hospital, emergency):
        assert_outcome(professional.get(f"DocumentReference/{doc}"), 404)
        assert professional.search(f"DocumentReference?patient={pushed}").get("entry", []) == []
    assert own.get(f"DocumentReference/{doc}").status_code == 200  # the patient still reads it


def test_reopening_within_the_archive_period_finds_the_record_as_it_was(
    own, pushed, hospital, clock
):
    id = pushed.removeprefix("Patient/")
    doc = hospital.ids(f"DocumentReference?patient={pushed}")[0]
    was = hospital.get(f"DocumentReference/{doc}").get_json()
    assert_outcome(own.post(f"Patient/{id}/$reopen"), 409, "business-rule")  # not closed
    assert own.post(f"Patient/{id}/$close").status_code == 200
    clock.advance(days=9 * 365)
    answer = own.post(f"Patient/{id}/$reopen")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["parameter"] == [{"name": "status", "valueCode": "open"}]
    assert hospital.get(f"DocumentReference/{doc}").get_json() == was
    assert hospital.post("", fresh(example())).status_code == 200  # deposits again


def test_after_the_archive_period_the_record_cannot_be_reopened_and_run_erases_it(
    own, pushed, hospital, life, clock, carnet, snapshot, capsys
):
    id = pushed.removeprefix("Patient/")
    assert own.post(f"Patient/{id}/$close").status_code == 200
    clock.advance(days=10 * 366)
    before = snapshot()
    assert_outcome(own.post(f"Patient/{id}/$reopen"), 409, "business-rule")
    assert snapshot() == before
    assert life.run("run") == 0
    assert "1 archived record(s) erased" in capsys.readouterr().out
    assert status(LETTER_NIR) == "erased"
    _only_the_fact_of_erasure_is_left(carnet, id)
    assert life.run("run") == 0
    assert "0 archived record(s) erased" in capsys.readouterr().out


def _only_the_fact_of_erasure_is_left(carnet, id: str) -> None:
    db = unchecked(carnet.store.db)  # the test's own reads, not the server's
    left = remains_of(db, id, LETTER_NIR)
    # The INS and its state (to refuse deposits), and the erasure's own AuditEvent.
    assert [name for name, _ in left] == ["AuditEvent", "patient_records"], left
    fact = left[0][1]["res"]
    assert fact["outcomeDesc"].startswith("record erased") and fact["entity"] == [
        {"what": {"reference": f"Patient/{id}"}}
    ]
    assert db["binary_content.files"].count_documents({}) == 0
    assert db["binary_content.chunks"].count_documents({}) == 0
    kept = record(LETTER_NIR)
    assert kept.erased_at is not None and kept.patient is None and kept.birth_date is None


@pytest.mark.parametrize("operation", ["$erase", "$close?mode=erase"])
def test_erasure_leaves_nothing_but_its_fact_and_date(
    operation, own, pushed, hospital, carnet, client_for, snapshot
):
    id = pushed.removeprefix("Patient/")
    # More versions, a Binary of the patient's own, an account: all of it goes.
    doc = hospital.ids(f"DocumentReference?patient={pushed}")[0]
    assert own.post(f"DocumentReference/{doc}/$mask").status_code == 200
    weight = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": pushed},
    }
    own.create(weight)
    assert unchecked(carnet.store.db)["binary_content.files"].count_documents({}) >= 1
    create_account("anne.erased", PASSWORD, pushed, "email", "anne@example.fr")
    answer = own.post(f"Patient/{id}/{operation}")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["parameter"] == [{"name": "status", "valueCode": "erased"}]
    _only_the_fact_of_erasure_is_left(carnet, id)
    assert Account.objects(fhir_user=pushed).count() == 0
    # Nothing comes back: not the record, not a deposit into it, not a second erasure.
    before = snapshot()
    assert_outcome(hospital.get(f"DocumentReference/{doc}/_history/1"), 404)
    assert_outcome(hospital.post("", fresh(example())), 409, "business-rule")
    assert_outcome(own.post(f"Patient/{id}/$erase"), 404)
    assert snapshot() == before


def test_a_record_without_an_ins_has_no_status_to_change(fhir, client_for, snapshot):
    assert (
        fhir.put("Patient/no-ins", {"resourceType": "Patient", "id": "no-ins"}).status_code == 201
    )
    before = snapshot()
    body = assert_outcome(w.patient(client_for, "no-ins").post("Patient/no-ins/$close"), 422)
    assert "carries no INS" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_erasure_takes_the_exports_holding_the_record_with_it(
    own, pushed, fhir, carnet, data_dir, monkeypatch
):
    id = pushed.removeprefix("Patient/")
    fhir.put("Patient/other", {"resourceType": "Patient", "id": "other"})
    fhir.create(observation("other", "weight"))
    everything = manifest(fhir, kick_off(fhir, "$export"))
    mine = manifest(own, kick_off(own, f"Patient/{id}/$export"))
    others = manifest(fhir, kick_off(fhir, "Patient/other/$export"))
    exports = data_dir / "exports"
    assert any(id in path.read_text() for path in exports.rglob("*.ndjson"))
    # A job still running over every record (its thread held back) may yet write this one.
    monkeypatch.setattr(carnet.exports, "start", lambda work: None)
    running = kick_off(fhir, "Patient/$export")
    assert fhir.get(running).status_code == 202
    answer = own.post(f"Patient/{id}/$erase")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert_outcome(fhir.get(running), 404)
    for client, body in ((fhir, everything), (own, mine)):
        for output in body["output"]:
            assert_outcome(client.get(output["url"].removeprefix("http://testserver")), 404)
    assert files(fhir, others)["Observation"][0]["subject"] == {"reference": "Patient/other"}
    # On disk: the other record's export only, nothing naming the erased record.
    left = [path for path in exports.rglob("*") if path.is_file()]
    assert {path.parent.name for path in left} == {others["output"][0]["url"].split("/")[-2]}
    assert not [path for path in left if id in path.read_text() or LETTER_NIR in path.read_text()]
    _only_the_fact_of_erasure_is_left(carnet, id)
