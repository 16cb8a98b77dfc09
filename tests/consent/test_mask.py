"""`$mask` / `$unmask`: the patient masks a document from professionals (MASQUE_PS), as a label set."""

import pytest

from consent.codes import VISIBILITY_SYSTEM
from tests.conftest import assert_outcome

CONFIDENTIALITY = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
    "code": "N",
}


def _codes(resource: dict) -> list[str]:
    return sorted(
        c["code"] for concept in resource.get("securityLabel", []) for c in concept["coding"]
    )


@pytest.fixture
def record(fhir):
    for pid in ("alice", "bob"):
        fhir.put(f"Patient/{pid}", {"resourceType": "Patient", "id": pid})

    def doc(patient):
        return fhir.create(
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "subject": {"reference": f"Patient/{patient}"},
                "securityLabel": [{"coding": [CONFIDENTIALITY]}],
                "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/x"}}],
            }
        )["id"]

    return {"alice_doc": doc("alice"), "bob_doc": doc("bob")}


@pytest.fixture
def alice(client_for):
    return client_for(
        "patient/DocumentReference.rus",
        "patient",
        patient="Patient/alice",
        fhir_user="Patient/alice",
    )


def test_mask_adds_the_label_and_keeps_the_others_in_a_new_version(alice, record, fhir):
    response = alice.post(f"DocumentReference/{record['alice_doc']}/$mask")
    assert response.status_code == 200, response.get_data(as_text=True)
    masked = response.get_json()
    assert _codes(masked) == ["MASQUE_PS", "N"]
    assert masked["meta"]["versionId"] == "2"
    assert fhir.ids(f"DocumentReference?security-label={VISIBILITY_SYSTEM}|MASQUE_PS") == [
        record["alice_doc"]
    ]
    again = alice.post(f"DocumentReference/{record['alice_doc']}/$mask").get_json()
    assert again["meta"]["versionId"] == "2"  # already masked: nothing new to record


def test_unmask_lifts_only_the_mask(alice, record):
    alice.post(f"DocumentReference/{record['alice_doc']}/$mask")
    unmasked = alice.post(f"DocumentReference/{record['alice_doc']}/$unmask").get_json()
    assert _codes(unmasked) == ["N"]
    assert unmasked["meta"]["versionId"] == "3"


def test_nobody_masks_another_patients_document(alice, record, snapshot):
    before = snapshot()
    assert_outcome(alice.post(f"DocumentReference/{record['bob_doc']}/$mask"), 404)
    assert snapshot() == before


def test_masking_needs_write_access(client_for, record):
    reader = client_for("patient/DocumentReference.rs", "patient", patient="Patient/alice")
    assert_outcome(reader.post(f"DocumentReference/{record['alice_doc']}/$mask"), 403)
