"""`Patient/{id}/$summary` and a record-wide `$mask` / `$unmask`, under the consent policy
(the seeded record of tests/consent/world.py)."""

import pytest

from consent import codes
from tests.conftest import assert_outcome
from tests.consent.world import hospital, label, patient, practitioner, seed
from tests.fhir_server.test_profile_bmi import height, weight
from tests.fhir_server.test_profile_trusted_person import TRE_A03, directives, trusted
from tests.fhir_server.test_profile_types import condition, family, treatment

LOINC = "http://loinc.org"


@pytest.fixture
def world(fhir, client_for):
    return seed(fhir, client_for)


@pytest.fixture
def alice(world, client_for):
    return patient(client_for, "alice")


@pytest.fixture
def profile(alice, client_for, fhir):
    """Alice's profile: some of it hers, some her doctors', one directive masked."""
    author = practitioner(client_for, "author", "alice")
    made = {
        "allergy": author.create(
            {
                "resourceType": "AllergyIntolerance",
                "patient": {"reference": "Patient/alice"},
                "code": {"text": "pénicilline"},
            }
        ),
        "immunization": author.create(
            {
                "resourceType": "Immunization",
                "status": "completed",
                "vaccineCode": {"text": "DTP"},
                "patient": {"reference": "Patient/alice"},
                "occurrenceDateTime": "2024-03-01",
            }
        ),
        "condition": alice.create(
            {**condition("alice", "38341003"), "subject": {"reference": "Patient/alice"}}
        ),
        "treatment": alice.create(treatment("alice", "ramipril")),
        "family": alice.create(
            {**family("alice", "FTH"), "patient": {"reference": "Patient/alice"}}
        ),
        "old_height": alice.create(height(170, when="2020-01-01", pid="alice")),
        "height": alice.create(height(180, when="2025-01-01", pid="alice")),
        "weight": author.create(weight(81, when="2025-01-02", pid="alice")),
        "trusted": alice.create(trusted("alice", "Martin")),
    }
    alice.create(trusted("alice", "Durand"))
    made["trusted"] = alice.ids("RelatedPerson?patient=alice&active=true")[0]
    made["directives"] = alice.create(directives("alice", "mes directives"))
    masked = {**directives("alice", "secret"), "securityLabel": [label(codes.MASQUE_PS)]}
    made["masked_directives"] = author.create(masked)
    kept = {**directives("alice", "kept"), "securityLabel": [label(codes.INVISIBLE_PATIENT)]}
    made["kept_directives"] = author.create(kept)
    return made


def summary_ids(client, pid: str = "alice") -> dict:
    response = client.get(f"Patient/{pid}/$summary")
    assert response.status_code == 200, response.get_data(as_text=True)
    bundle = response.get_json()
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "collection"
    assert bundle["total"] == len(bundle["entry"])
    found: dict = {}
    for entry in bundle["entry"]:
        resource = entry["resource"]
        assert entry["fullUrl"].endswith(f"/{resource['resourceType']}/{resource['id']}")
        found.setdefault(resource["resourceType"], []).append(resource["id"])
    return found


def test_the_summary_holds_the_profile_the_patient_reads(alice, profile):
    found = summary_ids(alice)
    assert found["Patient"] == ["alice"]
    assert found["AllergyIntolerance"] == [profile["allergy"]["id"]]
    assert found["Immunization"] == [profile["immunization"]["id"]]
    assert found["Condition"] == [profile["condition"]["id"]]
    assert found["MedicationStatement"] == [profile["treatment"]["id"]]
    assert found["FamilyMemberHistory"] == [profile["family"]["id"]]
    bmi = alice.ids(f"Observation?patient=alice&code={LOINC}|39156-5")
    # The latest height only, the weight and the BMI.
    assert sorted(found["Observation"]) == sorted(
        [profile["height"]["id"], profile["weight"]["id"], *bmi]
    )
    assert found["RelatedPerson"] == [profile["trusted"]]  # the current trusted person only
    # Masked directives never appear; those kept from the patient are not hers to see.
    assert found["DocumentReference"] == [profile["directives"]["id"]]


def test_a_professional_reads_in_it_only_what_they_may(profile, client_for, world):
    colleague = summary_ids(practitioner(client_for, "colleague", "alice"))
    # The care team reads what is kept from the patient, never what she masked.
    assert sorted(colleague["DocumentReference"]) == sorted(
        [profile["directives"]["id"], profile["kept_directives"]["id"]]
    )
    assert "Condition" in colleague
    author = summary_ids(practitioner(client_for, "author", "alice"))
    # The author reads what he deposited, the masked directive too, but not in a summary.
    assert profile["masked_directives"]["id"] not in author["DocumentReference"]
    assert profile["kept_directives"]["id"] in author["DocumentReference"]
    # Someone outside the care team: as if the record did not exist.
    outsider = practitioner(client_for, "other", "alice")
    assert_outcome(outsider.get("Patient/alice/$summary"), 404)
    assert_outcome(outsider.get("Patient/nobody/$summary"), 404)
    blocked = practitioner(client_for, "blocked", "alice")
    assert_outcome(blocked.get("Patient/alice/$summary"), 404)


def test_a_professional_s_summary_is_audited(profile, client_for, fhir):
    summary_ids(practitioner(client_for, "colleague", "alice"))
    events = fhir.search("AuditEvent?patient=Patient/alice&agent=Practitioner/colleague")["entry"]
    # One event, with a separate one for what is kept from the patient and the request's
    # parameters in the operator's own (consent.audit): all of them name the operation.
    assert {e["resource"]["subtype"][0]["code"] for e in events} == {"operation"}
    seen = {
        entity["what"]["reference"].split("/_history")[0]
        for e in events
        for entity in e["resource"]["entity"]
        if "what" in entity
    }
    assert f"Condition/{profile['condition']['id']}" in seen
    assert f"DocumentReference/{profile['masked_directives']['id']}" not in seen


def test_the_patient_masks_every_document_of_the_record_and_unmasks_them(
    alice, world, client_for, fhir, profile
):
    colleague = practitioner(client_for, "colleague", "alice")
    assert colleague.ids("DocumentReference?patient=alice")
    response = alice.post("Patient/alice/$mask")
    assert response.status_code == 200, response.get_data(as_text=True)
    changed = response.get_json()["parameter"]
    assert changed[0] == {"name": "changed", "valueInteger": len(changed) - 1}
    # Only what is kept from the patient is left: those are not hers to mask.
    assert sorted(colleague.ids("DocumentReference?patient=alice")) == sorted(
        [world.doc("alice", "invisible"), profile["kept_directives"]["id"]]
    )
    kept = fhir.get(f"DocumentReference/{world.doc('alice', 'invisible')}").get_json()
    assert not any(c["code"] == "MASQUE_PS" for s in kept["securityLabel"] for c in s["coding"])
    assert alice.post("Patient/alice/$mask").get_json()["parameter"] == [
        {"name": "changed", "valueInteger": 0}
    ]
    assert alice.post("Patient/alice/$unmask").status_code == 200
    visible = colleague.ids("DocumentReference?patient=alice")
    assert world.doc("alice", "masked") in visible  # masked at deposit, unmasked with the rest


def test_masking_one_category(alice, profile, client_for):
    colleague = practitioner(client_for, "colleague", "alice")
    response = alice.post(f"Patient/alice/$mask?category={TRE_A03}|90")
    assert response.status_code == 200, response.get_data(as_text=True)
    left = colleague.ids("DocumentReference?patient=alice")
    assert profile["directives"]["id"] not in left
    assert left  # the consultation reports stay shown
    assert alice.post(f"Patient/alice/$unmask?category={TRE_A03}|90").status_code == 200
    assert profile["directives"]["id"] in colleague.ids("DocumentReference?patient=alice")


def test_only_the_patient_masks_a_record_and_a_refusal_changes_nothing(
    alice, world, client_for, snapshot
):
    before = snapshot()
    author = practitioner(client_for, "author", "alice")
    refused = assert_outcome(author.post("Patient/alice/$mask"), 403)
    assert "masking-by-patient" in refused["issue"][0]["diagnostics"]
    assert_outcome(alice.post("Patient/alice/$mask?type=x"), 400)
    assert_outcome(hospital(client_for).post("Patient/alice/$unmask"), 403)
    assert snapshot() == before
    other = patient(client_for, "bernard")
    assert other.post("Patient/alice/$mask").get_json()["parameter"] == [
        {"name": "changed", "valueInteger": 0}
    ]
    assert snapshot() == before
