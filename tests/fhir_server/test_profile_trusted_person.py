"""The trusted person (one current at a time) and the advance directives (replaced, never
duplicated) of the patient's profile (fhir_server.profile.trusted_person, .directives)."""

import pytest

from tests.conftest import assert_outcome
from tests.consent.world import patient, practitioner, privacy_consent

ROLE_CLASS = "https://mos.esante.gouv.fr/NOS/TRE_R260-HL7RoleClass/FHIR/TRE-R260-HL7RoleClass"
TRE_A05 = "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire"
TRE_A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"


def trusted(pid: str, family: str, code: str = "NOK") -> dict:
    return {
        "resourceType": "RelatedPerson",
        "active": True,
        "patient": {"reference": f"Patient/{pid}"},
        "relationship": [
            {"coding": [{"system": ROLE_CLASS, "code": code, "display": "personne de confiance"}]}
        ],
        "name": [{"family": family}],
        "telecom": [{"system": "phone", "value": "+33600000000"}],
    }


def directives(pid: str, title: str, replaces: list[str] = ()) -> dict:
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {
            "coding": [{"system": TRE_A05, "code": "EXPPAT_3", "display": "Directives anticipées"}]
        },
        "category": [{"coding": [{"system": TRE_A03, "code": "90"}]}],
        "subject": {"reference": f"Patient/{pid}"},
        "description": title,
        "content": [{"attachment": {"contentType": "text/plain", "title": title}}],
    }
    if replaces:
        doc["relatesTo"] = [
            {"code": "replaces", "target": {"reference": f"DocumentReference/{id}"}}
            for id in replaces
        ]
    return doc


@pytest.fixture
def me(fhir, client_for):
    fhir.put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    fhir.put("Practitioner/doc", {"resourceType": "Practitioner", "id": "doc"})
    return patient(client_for, "p1")


def current_trusted(client) -> list[str]:
    bundle = client.search(f"RelatedPerson?patient=p1&relationship={ROLE_CLASS}|NOK&active=true")
    return [e["resource"]["name"][0]["family"] for e in bundle.get("entry", [])]


def test_a_new_trusted_person_ends_the_previous_one(me):
    first = me.create(trusted("p1", "Martin"))
    assert current_trusted(me) == ["Martin"]
    second = me.create(trusted("p1", "Durand"))
    assert current_trusted(me) == ["Durand"]
    ended = me.get(f"RelatedPerson/{first['id']}").get_json()
    assert ended["active"] is False
    assert ended["period"]["end"] == second["meta"]["lastUpdated"]
    assert ended["meta"]["versionId"] == "2"  # the first designation stays in its history
    assert me.get(f"RelatedPerson/{first['id']}/_history/1").get_json()["active"] is True


def test_a_hospital_records_a_designation_and_it_replaces_the_patient_s(me, client_for):
    me.create(privacy_consent("p1", "permit", ["Practitioner/doc"]))
    me.create(trusted("p1", "Martin"))
    practitioner(client_for, "doc", "p1").create(trusted("p1", "Leroy"))
    assert current_trusted(me) == ["Leroy"]


def test_other_relatives_are_not_trusted_persons(me):
    me.create(trusted("p1", "Martin"))
    me.create(trusted("p1", "Petit", code="ECON"))  # the person to warn in an emergency
    assert current_trusted(me) == ["Martin"]


def test_a_second_directive_must_replace_the_first_and_supersedes_it(me, snapshot):
    first = me.create(directives("p1", "mes directives"))
    before = snapshot()
    refused = assert_outcome(me.post("DocumentReference", directives("p1", "bis")), 409)
    assert f"DocumentReference/{first['id']}" in refused["issue"][0]["diagnostics"]
    assert refused["issue"][0]["code"] == "business-rule"
    assert snapshot() == before  # nothing stored: no duplicate
    second = me.create(directives("p1", "mes directives, 2026", replaces=[first["id"]]))
    old = me.get(f"DocumentReference/{first['id']}").get_json()
    assert old["status"] == "superseded"
    found = me.ids(f"DocumentReference?patient=p1&type={TRE_A05}|EXPPAT_3&status=current")
    assert found == [second["id"]]


def test_a_professional_s_document_of_that_type_is_not_the_patient_s_directive(me, client_for):
    me.create(privacy_consent("p1", "permit", ["Practitioner/doc"]))
    scanned = practitioner(client_for, "doc", "p1").create(directives("p1", "scan"))
    mine = me.create(directives("p1", "les miennes"))
    assert me.get(f"DocumentReference/{scanned['id']}").get_json()["status"] == "current"
    assert mine["status"] == "current"
