"""The identity step (INS) of every push: immunizations and allergies too; record statuses; the CLI."""

import os
import uuid

import pytest

from carnet.cli import main
from carnet_core.context import operator_context
from ingestion import records
from ingestion.identity import Identity
from ingestion.ins import INS_NIR, INS_NIR_TEST, InvalidIns
from tests.conftest import assert_outcome
from tests.ingestion.mhd import LETTER_NIR, created, example, nir

OTHER_NIR = nir("1850275123456")


def by_ins(value: str, system: str = INS_NIR) -> dict:
    return {"reference": f"Patient?identifier={system}|{value}"}


def immunization(patient: dict) -> dict:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [{"system": "http://hl7.org/fhir/sid/cvx", "code": "207"}]},
        "patient": patient,
        "occurrenceDateTime": "2025-10-01",
    }


def allergy(patient: dict) -> dict:
    return {
        "resourceType": "AllergyIntolerance",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}]},
        "patient": patient,
    }


def transaction(*resources: dict) -> dict:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for r in resources
        ],
    }


def test_an_immunization_for_an_unknown_ins_opens_the_record(hospital, record_of):
    made = created(hospital.post("/fhir", transaction(immunization(by_ins(LETTER_NIR)))))
    patient = record_of(LETTER_NIR)
    stored = hospital.get(made["Immunization"]).get_json()
    assert stored["patient"] == {
        "reference": patient,
        "identifier": {"system": INS_NIR, "value": LETTER_NIR},
    }
    assert records.find(LETTER_NIR).patient == patient


def test_several_people_in_one_transaction_each_go_to_their_record(client_for, fhir, record_of):
    known = fhir.create(
        {"resourceType": "Patient", "identifier": [{"system": INS_NIR, "value": OTHER_NIR}]}
    )["id"]
    doctor = client_for("user/*.cruds", "practitioner", fhir_user="Practitioner/dr")
    pushed = transaction(allergy(by_ins(OTHER_NIR)), immunization(by_ins(LETTER_NIR)))
    made = created(doctor.post("/fhir", pushed))
    assert doctor.get(made["AllergyIntolerance"]).get_json()["patient"]["reference"] == (
        f"Patient/{known}"
    )
    assert doctor.get(made["Immunization"]).get_json()["patient"]["reference"] == record_of(
        LETTER_NIR
    )


def test_a_wrong_key_or_a_refused_record_stores_nothing(hospital, snapshot):
    records.set_status(LETTER_NIR, "opposed")  # the operator's record, before the snapshot
    before = snapshot()
    wrong = transaction(immunization(by_ins(LETTER_NIR[:13] + "99")))
    body = assert_outcome(hospital.post("/fhir", wrong), 422, "invalid")
    assert "control key 99 does not match" in body["issue"][0]["diagnostics"]
    assert body["issue"][0]["expression"] == ["Bundle.entry[0].resource.patient"]
    body = assert_outcome(
        hospital.post("/fhir", transaction(allergy(by_ins(LETTER_NIR)))), 409, "business-rule"
    )
    assert "opposed the creation of their record" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_a_failed_push_does_not_leave_the_record_it_opened(client_for, snapshot):
    """The Patient is created in the push's unit of work: a refusal later undoes it too."""
    before = snapshot()
    app = client_for(
        "patient/*.cruds", "patient", fhir_user="Patient/alice", patient="Patient/alice"
    )
    assert_outcome(app.post("/fhir", example()), 403, "forbidden")
    assert snapshot() == before
    assert records.find(LETTER_NIR) is None


def test_the_platform_keeps_plain_transaction_semantics(fhir, snapshot):
    """The operator's own clients (migrations, tests) resolve conditional references as FHIR says."""
    before = snapshot()
    assert_outcome(fhir.post("/fhir", transaction(immunization(by_ins(LETTER_NIR)))), 412)
    assert snapshot() == before


def test_test_and_demo_ins_systems_are_checked_alike(hospital, record_of):
    created(hospital.post("/fhir", transaction(immunization(by_ins(OTHER_NIR, INS_NIR_TEST)))))
    assert record_of(OTHER_NIR, INS_NIR_TEST) is not None
    assert record_of(OTHER_NIR) is None


def test_new_patient_ids_are_keyed_hashes_of_the_ins_when_the_server_has_a_secret(carnet):
    keyed = Identity(carnet.interactions, "a-secret")
    first = keyed.patient_id((INS_NIR, LETTER_NIR))
    assert first == keyed.patient_id((INS_NIR, LETTER_NIR))
    assert first != keyed.patient_id((INS_NIR, OTHER_NIR))
    assert first != Identity(carnet.interactions, "another").patient_id((INS_NIR, LETTER_NIR))
    assert LETTER_NIR not in first and len(first) == 36
    plain = Identity(carnet.interactions, None)
    assert plain.patient_id((INS_NIR, LETTER_NIR)) != plain.patient_id((INS_NIR, LETTER_NIR))


def test_two_racing_first_pushes_open_one_record(carnet, monkeypatch):
    """Neither sees the other's Patient yet: both write the same id, so one record holds both."""
    identity = Identity(carnet.interactions, "a-secret")
    ins = (INS_NIR, LETTER_NIR)
    with carnet.store.unit_of_work() as uow:
        first = identity.resolve(ins, None, uow, "subject")
    monkeypatch.setattr(identity, "find", lambda ins: None)
    with carnet.store.unit_of_work() as uow:
        second = identity.resolve(ins, None, uow, "subject")
    assert first == second
    found = carnet.store.find(
        operator_context(), "Patient", {"tk": f"identifier={INS_NIR}|{LETTER_NIR}"}
    )
    assert [f"Patient/{d['_id']}" for d in found] == [first]


def test_record_statuses(carnet):
    assert records.status_of(INS_NIR, LETTER_NIR) == "open"
    assert records.set_status(f"{LETTER_NIR[:5]} {LETTER_NIR[5:]}", "opposed").value == LETTER_NIR
    assert records.status_of(INS_NIR, LETTER_NIR) == "opposed"
    assert records.set_status(LETTER_NIR, "open").status == "open"
    with pytest.raises(InvalidIns, match="control key"):
        records.set_status(LETTER_NIR[:13] + "00", "closed")
    with pytest.raises(ValueError, match="a record status is one of"):
        records.set_status(LETTER_NIR, "archived")


def test_the_operator_sets_a_record_status_from_the_command_line(monkeypatch, capsys):
    name = f"carnet_cli_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MONGODB_DB", name)
    assert main(["record-status", "--ins", LETTER_NIR, "--set", "opposed"]) == 0
    assert f"Record of INS {INS_NIR}|{LETTER_NIR}: opposed" in capsys.readouterr().out
    assert records.status_of(INS_NIR, LETTER_NIR) == "opposed"
    assert main(["record-status", "--ins", OTHER_NIR]) == 0
    assert "open (never opposed" in capsys.readouterr().out
    assert main(["record-status", "--ins", "123", "--set", "closed"]) == 2
    assert "Invalid INS: INS must be 15 characters" in capsys.readouterr().err
    if os.environ.get("MONGODB_URI"):
        import pymongo

        pymongo.MongoClient(os.environ["MONGODB_URI"]).drop_database(name)
