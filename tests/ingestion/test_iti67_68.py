"""ITI-67 Find Document References and ITI-68 Retrieve Document, under the consent policy.

https://profiles.ihe.net/ITI/MHD/ITI-67.html, https://profiles.ihe.net/ITI/MHD/ITI-68.html - and
the labels a professional deposits with (TRE_A07: MASQUE_PS, INVISIBLE_PATIENT) through ITI-65.
"""

from datetime import timedelta

import pytest

from consent import codes
from ingestion.ins import INS_NIR
from tests.conftest import assert_outcome
from tests.ingestion.mhd import (
    LAB_NIR,
    LETTER_NIR,
    created,
    example,
    fresh,
    labelled,
)

BY_INS = f"patient.identifier={INS_NIR}|{LETTER_NIR}"
PRCP = {
    "coding": [
        {"system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType", "code": "PRCP"}
    ]
}


def _id(reference: str) -> str:
    return reference.split("/")[1]


def _care_team_consent(patient: str, actor: str) -> dict:
    """The patient's privacy Consent naming a professional in their care team (no masked documents)."""
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [{"system": codes.CONSENT_SCOPE_SYSTEM, "code": codes.PATIENT_PRIVACY}]
        },
        "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
        "patient": {"reference": patient},
        "policyRule": {
            "coding": [
                {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}
            ]
        },
        "provision": {
            "type": "permit",
            "actor": [{"role": PRCP, "reference": {"reference": actor}}],
        },
    }


@pytest.fixture
def pushed(hospital, record_of):
    """A discharge letter and a lab report of two people, then a masked and a hidden letter."""
    letter = created(hospital.post("/fhir", example()))
    lab = created(hospital.post("/fhir", example("iti65-lab-report.json")))
    masked = created(hospital.post("/fhir", labelled(fresh(example()), codes.MASQUE_PS)))
    hidden = created(hospital.post("/fhir", labelled(fresh(example()), codes.INVISIBLE_PATIENT)))
    return {
        "patient": record_of(LETTER_NIR),
        "letter": letter,
        "lab": lab,
        "masked": masked,
        "hidden": hidden,
    }


def test_the_hospital_finds_its_documents_by_ins_and_status(hospital, pushed):
    # The hospital may not read the Patient (records-opened-by-ingestion; not in its care team)...
    assert hospital.ids(f"Patient?identifier={INS_NIR}|{LETTER_NIR}") == []
    # ...yet finds what it deposited by the INS the documents' subject carries.
    letters = sorted(_id(pushed[k]["DocumentReference"]) for k in ("letter", "masked", "hidden"))
    assert sorted(hospital.ids(f"DocumentReference?{BY_INS}&status=current")) == letters
    assert sorted(hospital.ids(f"DocumentReference?patient={pushed['patient']}")) == letters
    assert (
        sorted(hospital.ids(f"DocumentReference?subject:identifier={INS_NIR}|{LETTER_NIR}"))
        == letters
    )
    assert hospital.ids(f"DocumentReference?{BY_INS}&status=superseded") == []
    lab = hospital.ids(f"DocumentReference?patient.identifier={INS_NIR}|{LAB_NIR}&status=current")
    assert lab == [_id(pushed["lab"]["DocumentReference"])]


def test_superseded_documents_are_found_by_their_status(hospital, pushed):
    old = pushed["letter"]["DocumentReference"]
    bundle = fresh(example(), b"%PDF-1.4 corrected")
    bundle["entry"][1]["resource"]["relatesTo"] = [
        {"code": "replaces", "target": {"reference": old}}
    ]
    new = created(hospital.post("/fhir", bundle))["DocumentReference"]
    assert hospital.ids(f"DocumentReference?{BY_INS}&status=superseded") == [_id(old)]
    current = hospital.ids(f"DocumentReference?{BY_INS}&status=current")
    assert _id(new) in current and _id(old) not in current


def test_iti68_retrieves_the_attachment_url(hospital, pushed):
    document = hospital.get(pushed["letter"]["DocumentReference"]).get_json()
    attachment = document["content"][0]["attachment"]
    raw = hospital.get(attachment["url"], headers={"Accept": "*/*"})
    assert raw.status_code == 200
    assert raw.headers["Content-Type"].startswith(attachment["contentType"])
    assert len(raw.get_data()) == attachment["size"]


def test_the_patient_sees_neither_the_document_nor_the_content_kept_from_them(pushed, patient_of):
    patient = patient_of(pushed["patient"])
    mine = patient.ids("DocumentReference")
    hidden = pushed["hidden"]
    assert _id(hidden["DocumentReference"]) not in mine
    assert _id(pushed["letter"]["DocumentReference"]) in mine
    assert _id(pushed["masked"]["DocumentReference"]) in mine  # masked from professionals only
    assert_outcome(patient.get(hidden["DocumentReference"]), 404)
    assert_outcome(patient.get(hidden["Binary"], headers={"Accept": "*/*"}), 404)
    assert patient.get(pushed["letter"]["Binary"], headers={"Accept": "*/*"}).status_code == 200


def test_a_document_kept_from_the_patient_shows_itself_after_the_delay(
    hospital, monkeypatch, record_of, patient_of
):
    monkeypatch.setattr(codes, "INVISIBLE_PATIENT_DELAY", timedelta(0))  # a month has passed
    hidden = created(hospital.post("/fhir", labelled(example(), codes.INVISIBLE_PATIENT)))
    patient = patient_of(record_of(LETTER_NIR))
    assert patient.ids("DocumentReference") == [_id(hidden["DocumentReference"])]
    assert patient.get(hidden["Binary"], headers={"Accept": "*/*"}).status_code == 200


def test_a_masked_document_is_kept_from_the_care_team_not_from_its_depositor(
    fhir, hospital, client_for, pushed
):
    consent = _care_team_consent(pushed["patient"], "Practitioner/nurse")
    assert fhir.post("Consent", consent).status_code == 201
    nurse = client_for("user/*.rs", "practitioner", fhir_user="Practitioner/nurse")
    seen = nurse.ids(f"DocumentReference?patient={pushed['patient']}")
    assert _id(pushed["letter"]["DocumentReference"]) in seen
    assert _id(pushed["masked"]["DocumentReference"]) not in seen
    assert_outcome(nurse.get(pushed["masked"]["Binary"], headers={"Accept": "*/*"}), 404)
    assert nurse.get(pushed["letter"]["Binary"], headers={"Accept": "*/*"}).status_code == 200
    assert _id(pushed["masked"]["DocumentReference"]) in hospital.ids(f"DocumentReference?{BY_INS}")
    assert hospital.get(pushed["masked"]["Binary"], headers={"Accept": "*/*"}).status_code == 200


def test_a_professional_without_authorisation_sees_nothing(client_for, other_hospital, pushed):
    doctor = client_for("user/*.rs", "practitioner", fhir_user="Practitioner/stranger")
    for reader in (doctor, other_hospital):
        assert reader.ids(f"DocumentReference?{BY_INS}&status=current") == []
        assert reader.ids(f"DocumentReference?patient={pushed['patient']}") == []
        assert reader.ids(f"Patient?identifier={INS_NIR}|{LETTER_NIR}") == []
        for key in ("letter", "masked", "hidden"):
            assert_outcome(reader.get(pushed[key]["DocumentReference"]), 404)
            assert_outcome(reader.get(pushed[key]["Binary"], headers={"Accept": "*/*"}), 404)


def test_the_chain_on_identifier_still_finds_by_the_patient_resource(fhir):
    """`patient.identifier` matches the target Patient's identifier, or the reference's own."""
    patient = fhir.create(
        {"resourceType": "Patient", "identifier": [{"system": INS_NIR, "value": LAB_NIR}]}
    )["id"]
    plain = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": {"contentType": "text/plain"}}],
    }
    literal = fhir.create({**plain, "subject": {"reference": f"Patient/{patient}"}})["id"]
    logical = fhir.create(
        {
            **plain,
            "subject": {
                "reference": f"Patient/{patient}",
                "identifier": {"system": INS_NIR, "value": LAB_NIR},
            },
        }
    )["id"]
    found = fhir.ids(f"DocumentReference?patient.identifier={INS_NIR}|{LAB_NIR}")
    assert sorted(found) == sorted([literal, logical])
    assert fhir.ids(f"DocumentReference?patient.identifier={INS_NIR}|{LETTER_NIR}") == []
    assert fhir.ids(f"DocumentReference?patient.identifier={LAB_NIR}") == sorted([literal, logical])
