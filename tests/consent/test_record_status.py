"""Opposed and closed records through plain REST (issue 10, item 4; CSP R1111-28 and R1111-36).

The status is the operator's (`fhir-server record-status`, ingestion.records), keyed by INS. Nobody
writes into an opposed or closed record (409 business-rule, as ITI-65 answers, nothing stored);
professionals read nothing of it, in any mode; the patient still reads it (and may reopen it);
the operator's platform clients still read it.
"""

import base64

import pytest

from ingestion import records
from ingestion.ins import INS_NIR
from tests.conftest import FHIR_JSON, assert_outcome
from tests.consent import world as w

ALICE_NIR = "291037511223356"


@pytest.fixture
def world(fhir, client_for):
    seeded = w.seed(fhir, client_for)
    alice = fhir.get("Patient/alice").get_json()
    alice["identifier"] = [{"system": INS_NIR, "value": ALICE_NIR}]
    assert fhir.put("Patient/alice", alice).status_code == 200
    return seeded


@pytest.fixture(params=["closed", "opposed"])
def status(request, world):
    records.set_status(ALICE_NIR, request.param)
    return request.param


def observation(patient: str = "alice") -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": f"Patient/{patient}"},
    }


def refused(response) -> None:
    body = assert_outcome(response, 409, "business-rule")
    assert "rule: record-" in body["issue"][0]["diagnostics"]


def test_nobody_writes_into_it(status, world, fhir, client_for, snapshot):
    author = w.practitioner(client_for, "author", "alice")
    hospital = w.hospital(client_for)
    alice = w.patient(client_for, "alice")
    before = snapshot()
    for client in (author, hospital, alice, fhir):
        refused(client.post("DocumentReference", w.document("alice", "one more")))
        refused(client.post("Observation", observation()))
    # The author's own document: no new version either.
    doc = world.doc("alice", "normal")
    current = fhir.get(f"DocumentReference/{doc}").get_json()
    refused(fhir.put(f"DocumentReference/{doc}", {**current, "description": "changed"}))
    refused(fhir.patch(f"DocumentReference/{doc}", [{"op": "remove", "path": "/description"}]))
    refused(alice.post(f"DocumentReference/{world.doc('alice', 'normal')}/$mask"))
    refused(alice.post("Consent", w.privacy_consent("alice", "deny", ["Practitioner/gp"])))
    entry = {"resource": observation(), "request": {"method": "POST", "url": "Observation"}}
    refused(author.post("", {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}))
    batch = author.post("", {"resourceType": "Bundle", "type": "batch", "entry": [entry]})
    assert batch.get_json()["entry"][0]["response"]["status"].startswith("409")
    assert snapshot() == before


def test_a_patient_for_a_person_who_opposed_opens_no_record(fhir, snapshot):
    records.set_status(ALICE_NIR, "opposed")
    before = snapshot()
    person = {"resourceType": "Patient", "identifier": [{"system": INS_NIR, "value": ALICE_NIR}]}
    refused(fhir.post("Patient", person))
    assert snapshot() == before


PROFESSIONALS = {
    "the document's author": lambda cf: w.practitioner(cf, "author", "alice"),
    "the attending doctor": lambda cf: w.practitioner(cf, "gp", "alice"),
    "break-glass": lambda cf: w.practitioner(cf, "er", "alice", "bris_de_glace"),
    "SAMU centre 15": lambda cf: w.practitioner(cf, "er", "alice", "centre_15"),
    "the author across records": lambda cf: w.practitioner(cf, "author"),
    "the author's hospital system": w.hospital,
}


@pytest.mark.parametrize("who", list(PROFESSIONALS))
def test_professionals_read_nothing_of_it(who, status, world, client_for):
    client = PROFESSIONALS[who](client_for)
    fhir_json = {"Accept": FHIR_JSON}
    for state in w.STATES:
        doc, binary = world.doc("alice", state), world.binaries["alice"][state]
        for url in (
            f"DocumentReference/{doc}",
            f"DocumentReference/{doc}/_history/1",
            f"DocumentReference/{doc}/_history",
            f"Binary/{binary}",
        ):
            assert_outcome(client.get(url, headers=fhir_json), 404)
    for url in (
        "DocumentReference?patient=Patient/alice",
        "DocumentReference",
        "Consent",
        "Patient?_id=alice",
        "Patient?_id=alice&_revinclude=DocumentReference:subject",
        "DocumentReference/_history",
    ):
        bundle = client.search(url + ("&" if "?" in url else "?") + "_total=accurate")
        found = repr(bundle.get("entry", []))
        assert "Patient/alice" not in found and "'alice'" not in found, (url, bundle)
        if bundle["type"] == "searchset":
            matches = [e for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]
            assert bundle["total"] == len(matches), (url, bundle)


def test_other_records_are_read_as_before(status, world, client_for):
    author = w.practitioner(client_for, "author")
    seen = author.ids("DocumentReference?_count=50")
    assert world.doc("bernard", "normal") in seen
    assert not set(world.docs["alice"].values()) & set(seen)


def test_the_patient_and_the_platform_still_read_it_and_reopening_shows_it_again(
    status, world, fhir, client_for
):
    alice = w.patient(client_for, "alice")
    normal = world.doc("alice", "normal")
    assert alice.get(f"DocumentReference/{normal}").status_code == 200
    assert alice.get(f"Binary/{world.binaries['alice']['normal']}").status_code == 200
    assert fhir.get(f"DocumentReference/{normal}").status_code == 200
    author = w.practitioner(client_for, "author", "alice")
    assert author.get(f"DocumentReference/{normal}").status_code == 404
    records.set_status(ALICE_NIR, "open")
    assert author.get(f"DocumentReference/{normal}").status_code == 200
    data = base64.b64encode(b"after").decode()
    binary = {"resourceType": "Binary", "contentType": "text/plain", "data": data}
    assert author.post("Binary", binary).status_code == 201
    assert author.post("Observation", observation()).status_code == 201
