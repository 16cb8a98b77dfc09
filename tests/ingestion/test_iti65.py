"""ITI-65 Provide Document Bundle through POST [base], as a hospital's system pushes documents.

https://profiles.ihe.net/ITI/MHD/ITI-65.html - real-shaped PDSm bundles (examples/mhd) and bad ones
of every kind; every refusal leaves the store as it was.
"""

import base64

import pytest

from ingestion import records
from ingestion.ins import INS_NIR
from tests.conftest import assert_outcome
from tests.ingestion.mhd import (
    LAB_NIR,
    LETTER_NIR,
    created,
    documents,
    example,
    for_ins,
    fresh,
    nir,
    with_content,
)

LETTER = example()
PDF = base64.b64decode(LETTER["entry"][2]["resource"]["data"])


def test_a_first_document_opens_the_record_and_is_answered_as_mhd(
    hospital, fhir, record_of, patient_of
):
    response = hospital.post("/fhir", LETTER)
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 3
    made = created(response)
    assert set(made) == {"List", "DocumentReference", "Binary"}
    # The record was opened for the unknown INS, with what the sender said of the person.
    patient = record_of(LETTER_NIR)
    person = fhir.get(patient).get_json()
    assert person["identifier"][0]["value"] == LETTER_NIR
    assert (person["name"][0]["family"], person["gender"], person["birthDate"]) == (
        "EXEMPLE",
        "female",
        "1991-03-14",
    )
    assert records.find(LETTER_NIR).status == "open"
    assert records.find(LETTER_NIR).patient == patient
    document = hospital.get(made["DocumentReference"]).get_json()
    assert document["subject"]["reference"] == patient
    assert document["subject"]["identifier"] == {"system": INS_NIR, "value": LETTER_NIR}
    assert document["content"][0]["attachment"]["url"] == made["Binary"]
    # ITI-68: the document itself, for the depositing hospital and for the patient.
    for reader in (hospital, patient_of(patient)):
        raw = reader.get(made["Binary"], headers={"Accept": "*/*"})
        assert raw.status_code == 200, raw.get_data(as_text=True)
        assert raw.get_data() == PDF
        assert raw.headers["Content-Type"].startswith("application/pdf")
    assert patient_of(patient).ids("DocumentReference") == [made["DocumentReference"].split("/")[1]]


def test_a_known_ins_goes_to_its_record(hospital, fhir, record_of):
    existing = fhir.create(
        {"resourceType": "Patient", "identifier": [{"system": INS_NIR, "value": LAB_NIR}]}
    )["id"]
    made = created(hospital.post("/fhir", example("iti65-lab-report.json")))
    assert record_of(LAB_NIR) == f"Patient/{existing}"
    document = hospital.get(made["DocumentReference"]).get_json()
    assert document["subject"]["reference"] == f"Patient/{existing}"
    assert fhir.search(f"Patient?identifier={INS_NIR}|{LAB_NIR}&_summary=count")["total"] == 1


def test_two_documents_of_one_person_share_one_record(hospital, fhir, record_of):
    first = created(hospital.post("/fhir", LETTER))
    second = created(hospital.post("/fhir", fresh(LETTER, b"%PDF-1.4 another letter")))
    subjects = {
        hospital.get(made["DocumentReference"]).get_json()["subject"]["reference"]
        for made in (first, second)
    }
    assert subjects == {record_of(LETTER_NIR)}


def test_a_wrong_ins_key_is_refused_with_its_reason(hospital, snapshot):
    before = snapshot()
    wrong = for_ins(LETTER, LETTER_NIR[:13] + "00")
    body = assert_outcome(hospital.post("/fhir", wrong), 422, "invalid")
    issue = body["issue"][0]
    assert "control key 00 does not match the number (expected 56)" in issue["diagnostics"]
    assert issue["expression"] == ["Bundle.entry[0].resource.subject"]
    assert snapshot() == before


def test_a_missing_binary_is_refused(hospital, snapshot):
    before = snapshot()
    bundle = fresh(LETTER)
    del bundle["entry"][2]
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert "does not point at a Binary of this Bundle" in body["issue"][0]["diagnostics"]
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource.content[0].attachment.url"]
    assert snapshot() == before


def test_a_reference_to_nothing_is_refused(hospital, snapshot):
    before = snapshot()
    contained = fresh(LETTER)
    documents(contained)[0]["author"] = [{"reference": "#nobody"}]
    body = assert_outcome(hospital.post("/fhir", contained), 422, "invalid")
    assert body["issue"][0]["diagnostics"] == "#nobody is not a contained resource"
    # A urn:uuid no entry has: the transaction refuses it, naming the entry as the client did.
    dangling = fresh(LETTER)
    documents(dangling)[0]["context"]["related"] = [{"reference": "urn:uuid:nothing-here"}]
    body = assert_outcome(hospital.post("/fhir", dangling), 400, "not-found")
    assert body["issue"][0]["diagnostics"].startswith("Bundle.entry[1]: reference urn:uuid:nothing")
    assert snapshot() == before


def test_an_unknown_document_type_is_refused(hospital, snapshot):
    before = snapshot()
    bundle = fresh(LETTER)
    documents(bundle)[0]["type"]["coding"][0]["code"] = "99999-9"
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert body["issue"][0]["diagnostics"] == (
        "type http://loinc.org|99999-9 is not a document type the national record accepts "
        "(value set JDV_J66-TypeCode-DMP)"
    )
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource.type"]
    assert snapshot() == before


def test_a_type_filed_under_another_class_is_refused(hospital):
    bundle = fresh(LETTER)
    documents(bundle)[0]["category"][0]["coding"][0]["code"] = "31"
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert (
        "is not the class of type http://loinc.org|11490-0, which is 10"
        in (body["issue"][0]["diagnostics"])
    )


def test_size_and_hash_must_match_the_content_and_every_issue_is_listed(hospital, snapshot):
    before = snapshot()
    bundle = fresh(LETTER)
    bundle["entry"][2]["resource"]["data"] = base64.b64encode(b"other bytes").decode()
    documents(bundle)[0]["type"]["coding"][0]["code"] = "99999-9"
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    attachment = "Bundle.entry[1].resource.content[0].attachment"
    assert [i["expression"] for i in body["issue"]] == [
        [f"{attachment}.hash"],
        [f"{attachment}.size"],
        ["Bundle.entry[1].resource.type"],
    ]
    assert "does not match the Binary's SHA-1" in body["issue"][0]["diagnostics"]
    assert "does not match the Binary's 11 bytes" in body["issue"][1]["diagnostics"]
    assert snapshot() == before


def test_a_person_who_opposed_gets_no_record(hospital, snapshot, record_of):
    records.set_status(LETTER_NIR, "opposed")
    before = snapshot()
    body = assert_outcome(hospital.post("/fhir", LETTER), 409, "business-rule")
    assert (
        "opposed the creation of their record; nothing is deposited"
        in (body["issue"][0]["diagnostics"])
    )
    assert snapshot() == before
    assert record_of(LETTER_NIR) is None


def test_a_closed_record_refuses_pushes_until_reopened(hospital, snapshot):
    created(hospital.post("/fhir", LETTER))
    records.set_status(LETTER_NIR, "closed")
    before = snapshot()
    body = assert_outcome(hospital.post("/fhir", fresh(LETTER)), 409, "business-rule")
    assert f"the record of INS {LETTER_NIR} is closed" in body["issue"][0]["diagnostics"]
    assert snapshot() == before
    records.set_status(LETTER_NIR, "open")
    created(hospital.post("/fhir", fresh(LETTER)))


def test_the_same_document_pushed_twice_is_stored_once(hospital, fhir, snapshot):
    first = hospital.post("/fhir", LETTER).get_json()
    before = snapshot()
    again = hospital.post("/fhir", LETTER)
    assert again.status_code == 200, again.get_data(as_text=True)
    answer = again.get_json()
    assert [e["response"]["status"] for e in answer["entry"]] == ["200 OK"] * 3
    assert [e["response"]["location"] for e in answer["entry"]] == [
        e["response"]["location"] for e in first["entry"]
    ]
    assert snapshot() == before  # not the document, not its Binary, not the SubmissionSet
    master = documents(LETTER)[0]["masterIdentifier"]
    assert len(fhir.ids(f"DocumentReference?identifier={master['system']}|{master['value']}")) == 1


def test_a_repeated_document_in_a_new_submission_is_not_stored_again(hospital, fhir):
    first = created(hospital.post("/fhir", LETTER))
    bundle = fresh(LETTER)
    documents(bundle)[0]["masterIdentifier"] = documents(LETTER)[0]["masterIdentifier"]
    response = hospital.post("/fhir", bundle)
    statuses = [e["response"]["status"] for e in response.get_json()["entry"]]
    assert statuses == ["201 Created", "200 OK", "200 OK"]
    second = created(response)
    assert second["DocumentReference"] == first["DocumentReference"]
    assert second["Binary"] == first["Binary"]
    submission = fhir.get(second["List"]).get_json()
    assert submission["entry"][0]["item"]["reference"] == first["DocumentReference"]


def test_a_masteridentifier_naming_other_content_is_refused(hospital, snapshot):
    created(hospital.post("/fhir", LETTER))
    before = snapshot()
    bundle = with_content(fresh(LETTER), b"%PDF-1.4 not the same letter")
    documents(bundle)[0]["masterIdentifier"] = documents(LETTER)[0]["masterIdentifier"]
    body = assert_outcome(hospital.post("/fhir", bundle), 409, "conflict")
    assert (
        "already names another document (its content differs)" in (body["issue"][0]["diagnostics"])
    )
    assert snapshot() == before


def _replacing(target: dict, content: bytes = b"%PDF-1.4 corrected letter") -> dict:
    bundle = fresh(LETTER, content)
    documents(bundle)[0]["relatesTo"] = [{"code": "replaces", "target": target}]
    return bundle


@pytest.mark.parametrize("by", ["reference", "identifier"])
def test_a_replacement_supersedes_the_old_document(hospital, by):
    old = created(hospital.post("/fhir", LETTER))["DocumentReference"]
    target = (
        {"reference": old}
        if by == "reference"
        else {"identifier": documents(LETTER)[0]["masterIdentifier"]}
    )
    response = hospital.post("/fhir", _replacing(target))
    assert [e["response"]["status"] for e in response.get_json()["entry"]] == ["201 Created"] * 3
    new = created(response)["DocumentReference"]
    superseded = hospital.get(old).get_json()
    assert (superseded["status"], superseded["meta"]["versionId"]) == ("superseded", "2")
    assert hospital.get(f"{old}/_history/1").get_json()["status"] == "current"
    replacing = hospital.get(new).get_json()
    assert replacing["status"] == "current"
    assert replacing["relatesTo"][0]["target"]["reference"] == old
    current = hospital.ids(f"DocumentReference?patient.identifier={INS_NIR}|{LETTER_NIR}")
    assert sorted(current) == sorted([old.split("/")[1], new.split("/")[1]])


def test_replacing_an_unknown_document_is_refused(hospital, snapshot):
    created(hospital.post("/fhir", LETTER))
    before = snapshot()
    body = assert_outcome(
        hospital.post("/fhir", _replacing({"reference": "DocumentReference/nothing"})),
        422,
        "not-found",
    )
    assert body["issue"][0]["diagnostics"] == (
        "Bundle.entry[1].resource.relatesTo[0].target: the document to replace "
        "(DocumentReference/nothing) is not known"
    )
    assert snapshot() == before


def test_replacing_a_document_of_another_record_is_refused(hospital, snapshot):
    other = created(hospital.post("/fhir", for_ins(LETTER, nir("2910375112234"))))
    before = snapshot()
    body = assert_outcome(
        hospital.post("/fhir", _replacing({"reference": other["DocumentReference"]})), 422
    )
    assert "is in another patient's record" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_replacing_is_for_the_author_only(hospital, fhir, client_for, snapshot, record_of):
    old = created(hospital.post("/fhir", LETTER))["DocumentReference"]
    patient = record_of(LETTER_NIR)
    # The attending doctor reads the whole record, but did not write this document.
    person = fhir.get(patient).get_json()
    person["generalPractitioner"] = [{"reference": "Practitioner/gp"}]
    assert fhir.put(patient, person).status_code == 200
    doctor = client_for("user/*.cruds", "practitioner", fhir_user="Practitioner/gp")
    before = snapshot()
    body = assert_outcome(doctor.post("/fhir", _replacing({"reference": old})), 403, "forbidden")
    diagnostics = body["issue"][0]["diagnostics"]
    assert diagnostics.startswith("Bundle.entry[1].resource.relatesTo[0].target (PATCH ")
    assert diagnostics.endswith("(rule: author-only-changes)")
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource.relatesTo[0].target"]
    assert snapshot() == before
    # Another organisation does not even see it.
    stranger = client_for("system/*.cruds", organization="Organization/x", client_id="x")
    assert_outcome(stranger.post("/fhir", _replacing({"reference": old})), 422, "not-found")
    assert snapshot() == before


def test_a_document_is_replaced_once(hospital, snapshot):
    old = created(hospital.post("/fhir", LETTER))["DocumentReference"]
    created(hospital.post("/fhir", _replacing({"reference": old})))
    before = snapshot()
    body = assert_outcome(hospital.post("/fhir", _replacing({"reference": old})), 409, "conflict")
    assert "is superseded already" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


@pytest.mark.parametrize(
    "break_it, expected",
    [
        (lambda b: b.update(type="batch"), "an ITI-65 Bundle's type must be transaction"),
        (lambda b: b["entry"][1].pop("request"), "request is required"),
        (lambda b: b["entry"].pop(0), "exactly one SubmissionSet List"),
        (lambda b: b.pop("entry"), "entry is required"),
    ],
    ids=["batch", "no-request", "no-submission-set", "no-entries"],
)
def test_a_malformed_bundle_is_refused(hospital, snapshot, break_it, expected):
    before = snapshot()
    bundle = fresh(LETTER)
    break_it(bundle)
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert any(expected in issue["diagnostics"] for issue in body["issue"]), body
    assert snapshot() == before


def test_a_submission_is_for_one_patient(hospital, snapshot):
    before = snapshot()
    bundle = fresh(LETTER)
    bundle["entry"][0]["resource"] = for_ins(
        {"entry": [{"resource": bundle["entry"][0]["resource"]}]}, nir("1800175000001")
    )["entry"][0]["resource"]
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert (
        "names another patient than Bundle.entry[0].resource.subject"
        in (body["issue"][0]["diagnostics"])
    )
    assert snapshot() == before


def test_the_ins_serves_a_qualified_identity_only(hospital, snapshot):
    before = snapshot()
    bundle = fresh(LETTER)
    source = documents(bundle)[0]["contained"][2]
    source["extension"][0]["extension"][0]["valueCoding"]["code"] = "VALI"
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert "the INS is used only for a qualified identity" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_a_subject_without_ins_is_refused(hospital, snapshot):
    before = snapshot()
    bundle = fresh(LETTER)
    for entry in bundle["entry"][:2]:
        entry["resource"]["subject"] = {"reference": "Patient/someone"}
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert "must name the patient by their INS" in body["issue"][0]["diagnostics"]
    assert snapshot() == before
