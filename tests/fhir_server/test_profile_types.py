"""The profile's resource types: antecedents and treatments the patient keeps, and the care
history the operator imports (Condition, MedicationStatement, FamilyMemberHistory, Encounter,
MedicationDispense), with their R4 search parameters and the record's policy."""

import pytest

from tests.conftest import assert_outcome
from tests.consent.world import patient, practitioner, privacy_consent
from tests.ingestion.test_bulk_import_http import (  # noqa: F401
    bulk,
    import_dir,
    kick_off,
    poll,
    settings,
    write_ndjson,
)

SNOMED = "http://snomed.info/sct"
CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"


def condition(pid: str, code: str, category: str = "problem-list-item") -> dict:
    return {
        "resourceType": "Condition",
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}]},
        "category": [{"coding": [{"system": CATEGORY, "code": category}]}],
        "code": {"coding": [{"system": SNOMED, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": "2020-05-01",
    }


def treatment(pid: str, text: str, status: str = "active") -> dict:
    return {
        "resourceType": "MedicationStatement",
        "status": status,
        "medicationCodeableConcept": {"text": text},
        "subject": {"reference": f"Patient/{pid}"},
        "effectivePeriod": {"start": "2025-01-01"},
    }


def family(pid: str, relation: str) -> dict:
    return {
        "resourceType": "FamilyMemberHistory",
        "status": "completed",
        "patient": {"reference": f"Patient/{pid}"},
        "relationship": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": relation}
            ]
        },
        "condition": [{"code": {"coding": [{"system": SNOMED, "code": "22298006"}]}}],
    }


def encounter(pid: str, n: int) -> dict:
    return {
        "resourceType": "Encounter",
        "id": f"enc-{n}",
        "status": "finished",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
        "subject": {"reference": f"Patient/{pid}"},
        "participant": [{"individual": {"reference": "Practitioner/doc"}}],
        "period": {"start": f"2025-0{n}-10", "end": f"2025-0{n}-10"},
    }


def dispense(pid: str, n: int) -> dict:
    return {
        "resourceType": "MedicationDispense",
        "id": f"disp-{n}",
        "status": "completed",
        "medicationCodeableConcept": {
            "coding": [{"system": "http://www.whocc.no/atc", "code": "N02BE01"}],
            "text": "paracétamol 1 g",
        },
        "subject": {"reference": f"Patient/{pid}"},
        "performer": [{"actor": {"reference": "Organization/pharmacy"}}],
        "authorizingPrescription": [{"reference": "MedicationRequest/rx-1"}],
        "whenHandedOver": f"2025-0{n}-11",
    }


@pytest.fixture
def record(fhir):
    for pid in ("p1", "p2"):
        fhir.put(f"Patient/{pid}", {"resourceType": "Patient", "id": pid})
    fhir.put("Practitioner/doc", {"resourceType": "Practitioner", "id": "doc"})
    fhir.put("Organization/pharmacy", {"resourceType": "Organization", "id": "pharmacy"})


@pytest.fixture
def me(record, client_for):
    return patient(client_for, "p1")


@pytest.fixture
def doctor(me, client_for):
    me.create(privacy_consent("p1", "permit", ["Practitioner/doc"]))
    return practitioner(client_for, "doc", "p1")


def test_the_patient_adds_and_edits_their_antecedents_and_treatments(me):
    for resource in (condition("p1", "38341003"), treatment("p1", "ramipril"), family("p1", "FTH")):
        made = me.create(resource)
        edited = {**made, "note": [{"text": "précisé par le patient"}]}
        response = me.put(f"{made['resourceType']}/{made['id']}", edited)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.get_json()["meta"]["versionId"] == "2"
        assert me.delete(f"{made['resourceType']}/{made['id']}").status_code == 204


def test_a_professional_s_entry_is_theirs(me, doctor, snapshot):
    made = doctor.create(condition("p1", "44054006"))
    assert me.ids("Condition?patient=p1") == [made["id"]]  # shown to the patient
    before = snapshot()
    edited = {**made, "note": [{"text": "not mine"}]}
    refused = assert_outcome(me.put(f"Condition/{made['id']}", edited), 403, "forbidden")
    assert "author-only-changes" in refused["issue"][0]["diagnostics"]
    assert_outcome(me.delete(f"Condition/{made['id']}"), 403)
    assert snapshot() == before
    assert doctor.put(f"Condition/{made['id']}", edited).status_code == 200


def test_the_patient_writes_only_into_their_own_record(me, snapshot):
    before = snapshot()
    assert_outcome(me.post("Condition", condition("p2", "38341003")), 403)
    assert snapshot() == before


def test_their_r4_search_parameters(me):
    diabetes = me.create(condition("p1", "44054006"))
    me.create(condition("p1", "38341003", category="encounter-diagnosis"))
    assert me.ids(f"Condition?category={CATEGORY}|problem-list-item") == [diabetes["id"]]
    assert me.ids(f"Condition?code={SNOMED}|44054006&clinical-status=active") == [diabetes["id"]]
    assert len(me.ids("Condition?subject=Patient/p1&onset-date=ge2020-01-01")) == 2
    assert me.ids("Condition?onset-date=lt2020-01-01") == []
    stopped = me.create(treatment("p1", "metformine", "stopped"))
    me.create(treatment("p1", "ramipril"))
    assert me.ids("MedicationStatement?patient=p1&status=stopped") == [stopped["id"]]
    assert len(me.ids("MedicationStatement?effective=ge2024-12-01")) == 2
    father = me.create(family("p1", "FTH"))
    me.create(family("p1", "MTH"))
    found = me.ids(
        "FamilyMemberHistory?relationship=http://terminology.hl7.org/CodeSystem/v3-RoleCode|FTH"
    )
    assert found == [father["id"]]
    names = {
        p["name"] for p in me.get("metadata").get_json()["rest"][0]["resource"][0]["searchParam"]
    }
    assert names  # the CapabilityStatement lists them too (see test_capability_lists_the_new_types)


def test_capability_lists_the_new_types_and_their_parameters(me):
    rest = me.get("metadata").get_json()["rest"][0]
    by_type = {r["type"]: {p["name"] for p in r["searchParam"]} for r in rest["resource"]}
    assert {"category", "patient", "code", "clinical-status", "onset-date"} <= by_type["Condition"]
    assert {"status", "patient", "medication", "effective"} <= by_type["MedicationStatement"]
    assert {"relationship", "patient", "code"} <= by_type["FamilyMemberHistory"]
    assert {"date", "patient", "class", "participant"} <= by_type["Encounter"]
    assert {"patient", "performer", "prescription", "whenhandedover"} <= by_type[
        "MedicationDispense"
    ]


def test_care_history_comes_from_the_operator_s_import_and_the_patient_reads_it(
    bulk,  # noqa: F811 (the $import fixtures of tests/ingestion)
    record,
    client_for,
    import_dir,  # noqa: F811
    me,
):
    visits = [encounter("p1", 1), encounter("p1", 2), encounter("p2", 3)]
    encounters = write_ndjson(import_dir / "encounters.ndjson", visits)
    dispenses = write_ndjson(import_dir / "dispenses.ndjson", [dispense("p1", 1)])
    operator = client_for("system/*.cruds", client_id="insurer-feed")
    url = kick_off(
        operator,
        {
            "inputFormat": "application/fhir+ndjson",
            "inputSource": "https://insurer.example.org",
            "input": [
                {"type": "Encounter", "url": encounters.as_uri()},
                {"type": "MedicationDispense", "url": dispenses.as_uri()},
            ],
        },
    )
    done = poll(operator, url)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.get_json().get("error", []) == []
    assert me.ids("Encounter?patient=p1&_sort=date") == ["enc-1", "enc-2"]
    assert me.ids("Encounter?date=ge2025-02-01&patient=p1") == ["enc-2"]
    assert me.ids("MedicationDispense?patient=p1&performer=Organization/pharmacy") == ["disp-1"]
    assert me.ids("MedicationDispense?prescription=MedicationRequest/rx-1") == ["disp-1"]
    assert me.get("Encounter/enc-3").status_code == 404  # another record


def test_nobody_but_the_operator_writes_the_care_history(me, doctor, fhir, snapshot):
    fhir.put("Encounter/enc-1", encounter("p1", 1))
    before = snapshot()
    for client in (me, doctor):
        new = {k: v for k, v in encounter("p1", 2).items() if k != "id"}
        refused = assert_outcome(client.post("Encounter", new), 403, "forbidden")
        assert "care-history-by-operator" in refused["issue"][0]["diagnostics"]
        handed = {k: v for k, v in dispense("p1", 1).items() if k != "id"}
        assert_outcome(client.post("MedicationDispense", handed), 403, "forbidden")
        changed = {**encounter("p1", 1), "status": "cancelled"}
        assert_outcome(client.put("Encounter/enc-1", changed), 403)
    assert snapshot() == before
    assert doctor.ids("Encounter?patient=p1") == ["enc-1"]  # the care team reads it
