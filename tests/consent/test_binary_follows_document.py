"""A Binary is read under the access facts of the DocumentReference that points at it.

https://hl7.org/fhir/R4/binary.html#security - MHD Binaries carry no securityContext; the server
puts each in the record of its document and keeps it under the document's labels.
"""

import base64

import pytest

from tests.conftest import BASE, assert_outcome
from tests.consent import world as w


@pytest.fixture
def alice(fhir, client_for):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    fhir.put("Patient/bob", {"resourceType": "Patient", "id": "bob"})
    return w.patient(client_for, "alice")


def _bundle(order: list[str]) -> dict:
    binary = {
        "fullUrl": "urn:uuid:9b1c4a1e-1111-4a1e-9b1c-000000000001",
        "resource": {
            "resourceType": "Binary",
            "contentType": "text/plain",
            "data": base64.b64encode(b"results").decode(),
        },
        "request": {"method": "POST", "url": "Binary"},
    }
    doc = w.document("alice", "lab")
    doc["content"][0]["attachment"]["url"] = binary["fullUrl"]
    document = {
        "fullUrl": "urn:uuid:9b1c4a1e-1111-4a1e-9b1c-000000000002",
        "resource": doc,
        "request": {"method": "POST", "url": "DocumentReference"},
    }
    entries = {"Binary": binary, "DocumentReference": document}
    return {"resourceType": "Bundle", "type": "transaction", "entry": [entries[t] for t in order]}


def _locations(reply: dict) -> list[str]:
    """Type/id of each entry's response location."""
    return [
        e["response"]["location"].removeprefix(BASE + "/").split("/_history")[0]
        for e in reply["entry"]
    ]


@pytest.mark.parametrize(
    "order", [["Binary", "DocumentReference"], ["DocumentReference", "Binary"]]
)
def test_the_patient_reads_the_binary_whatever_the_entry_order(order, alice, client_for):
    hospital = w.hospital(client_for)
    reply = hospital.post("", _bundle(order)).get_json()
    binary = next(ref for ref in _locations(reply) if ref.startswith("Binary/"))
    assert alice.get(binary).status_code == 200


def test_masking_the_document_hides_its_binary_from_professionals(alice, client_for, fhir):
    hospital = w.hospital(client_for)
    reply = hospital.post("", _bundle(["Binary", "DocumentReference"])).get_json()
    binary, doc = sorted(_locations(reply))  # "Binary/..." sorts before "DocumentReference/..."
    fhir.put(
        "Consent/alice-colleague",
        {
            **w.privacy_consent("alice", "permit", ["Practitioner/colleague"]),
            "id": "alice-colleague",
        },
    )
    colleague = w.practitioner(client_for, "colleague", "alice")
    assert colleague.get(binary).status_code == 200
    assert alice.post(f"{doc}/$mask").status_code == 200
    assert colleague.get(binary).status_code == 404
    assert alice.get(binary).status_code == 200
    assert alice.post(f"{doc}/$unmask").status_code == 200
    assert colleague.get(binary).status_code == 200


def test_a_binary_in_another_record_is_not_taken(alice, client_for, fhir, snapshot):
    bob_binary = fhir.create(
        {
            "resourceType": "Binary",
            "contentType": "text/plain",
            "securityContext": {"reference": "Patient/bob"},
            "data": base64.b64encode(b"bob's").decode(),
        }
    )["id"]
    before = snapshot()
    doc = w.document("alice", "pointing at bob's", binary=bob_binary)
    assert_outcome(alice.post("DocumentReference", doc), 422, "business-rule")
    assert snapshot() == before
    assert alice.get(f"Binary/{bob_binary}").status_code == 404


def test_nobody_moves_another_depositors_upload_into_a_record(alice, client_for, snapshot):
    hospital = w.hospital(client_for)
    upload = hospital.create(
        {
            "resourceType": "Binary",
            "contentType": "text/plain",
            "data": base64.b64encode(b"the hospital's").decode(),
        }
    )["id"]
    before = snapshot()
    doc = w.document("alice", "pointing at the hospital's upload", binary=upload)
    assert_outcome(alice.post("DocumentReference", doc), 422, "business-rule")
    assert snapshot() == before
    assert alice.get(f"Binary/{upload}").status_code == 404
    assert hospital.get(f"Binary/{upload}").status_code == 200
