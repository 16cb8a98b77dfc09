"""A Binary's access never widens because a new document points at it (issue 10, Binary adoption).

https://hl7.org/fhir/R4/binary.html#security - a Binary follows the DocumentReference that first
took it (fhir_server.store.binary_access); a document may name only a Binary its writer deposited
(outside any record) or one of its own record its writer already reads; anything else gets the
answer a missing Binary gets. Only the Binary's own depositor (and the platform) changes it.
"""

import base64

import pytest

from tests.conftest import FHIR_JSON, assert_outcome
from tests.consent import world as w

MISSING = "0000-no-such-binary"


@pytest.fixture
def world(fhir, client_for):
    return w.seed(fhir, client_for)


def seen(client, binary: str) -> dict[str, int]:
    """How each way of reading a Binary answers this caller."""
    fhir_json = {"Accept": FHIR_JSON}
    search = client.get(f"Binary?_id={binary}&_total=accurate")
    found = search.status_code == 200 and search.get_json()["total"] == 1
    return {
        "read": client.get(f"Binary/{binary}", headers=fhir_json).status_code,
        "attachment url": client.get(f"Binary/{binary}").status_code,
        "vread": client.get(f"Binary/{binary}/_history/1", headers=fhir_json).status_code,
        "history": client.get(f"Binary/{binary}/_history").status_code,
        "search": 200 if found else 404,
    }


def hidden(client, binary: str) -> bool:
    return set(seen(client, binary).values()) == {404}


def pointing(binary: str, title: str = "mine now") -> dict:
    return w.document("alice", title, binary=binary)


def refused_like_a_missing_binary(client, snapshot, binary: str) -> None:
    """Naming `binary` is refused exactly as naming a Binary that does not exist, nothing stored."""
    before = snapshot()
    response = client.post("DocumentReference", pointing(binary))
    body = assert_outcome(response, 422, "business-rule")
    missing = client.post("DocumentReference", pointing(MISSING))
    assert missing.status_code == 422 and missing.get_json() == body
    assert snapshot() == before


def test_a_professional_cannot_take_a_masked_documents_binary(world, client_for, snapshot):
    colleague = w.practitioner(client_for, "colleague", "alice")  # care team, no masked documents
    masked = world.binaries["alice"]["masked"]
    assert hidden(colleague, masked)
    refused_like_a_missing_binary(colleague, snapshot, masked)
    assert hidden(colleague, masked)


def test_a_professional_outside_the_record_cannot_take_any_of_its_binaries(
    world, client_for, snapshot
):
    other = w.practitioner(client_for, "other", "alice")  # may deposit, reads nothing there
    for state in ("normal", "masked"):
        binary = world.binaries["alice"][state]
        refused_like_a_missing_binary(other, snapshot, binary)
        assert hidden(other, binary)


def test_the_patient_cannot_take_the_binary_of_a_document_kept_from_her(
    world, client_for, snapshot
):
    alice = w.patient(client_for, "alice")
    kept = world.binaries["alice"]["invisible"]
    assert hidden(alice, kept)
    refused_like_a_missing_binary(alice, snapshot, kept)
    assert hidden(alice, kept)


def test_updating_a_document_to_point_at_a_hidden_binary_is_refused(world, client_for, snapshot):
    colleague = w.practitioner(client_for, "colleague", "alice")
    mine = colleague.create(w.document("alice", "my note"))
    before = snapshot()
    taken = pointing(world.binaries["alice"]["masked"])
    response = colleague.put(f"DocumentReference/{mine['id']}", {**taken, "id": mine["id"]})
    assert_outcome(response, 422, "business-rule")
    assert snapshot() == before


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_bundle_entry_cannot_take_a_hidden_binary(kind, world, client_for, snapshot):
    colleague = w.practitioner(client_for, "colleague", "alice")
    before = snapshot()
    bundle = {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "resource": pointing(world.binaries["alice"]["masked"]),
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        ],
    }
    response = colleague.post("", bundle)
    if kind == "transaction":
        assert_outcome(response, 422, "business-rule")
    else:
        assert response.get_json()["entry"][0]["response"]["status"].startswith("422")
    assert snapshot() == before


def test_pointing_at_a_binary_one_reads_changes_nothing_of_who_reads_it(world, client_for):
    colleague = w.practitioner(client_for, "colleague", "alice")
    alice = w.patient(client_for, "alice")
    original = world.doc("alice", "normal")
    binary = world.binaries["alice"]["normal"]
    copy = colleague.create(pointing(binary, "a copy of the letter"))
    # The Binary follows the document that took it first: masked with it, for the colleague too,
    # whatever becomes of the colleague's own document.
    assert alice.post(f"DocumentReference/{original}/$mask").status_code == 200
    assert hidden(colleague, binary)
    edited = {**copy, "description": "still a copy"}
    assert colleague.put(f"DocumentReference/{copy['id']}", edited).status_code == 200
    assert hidden(colleague, binary)
    other = w.practitioner(client_for, "other", "alice")
    assert hidden(other, binary)


def test_only_the_binarys_own_depositor_changes_it(world, client_for, fhir, snapshot):
    binary = world.binaries["alice"]["normal"]
    current = fhir.get(f"Binary/{binary}", headers={"Accept": FHIR_JSON}).get_json()
    changed = {**current, "data": base64.b64encode(b"rewritten").decode()}
    colleague = w.practitioner(client_for, "colleague", "alice")
    colleague.create(pointing(binary, "a copy of the letter"))  # reads it, takes nothing
    gp = w.practitioner(client_for, "gp", "alice")
    before = snapshot()
    for reader in (colleague, gp):  # both read it; neither deposited it
        assert_outcome(reader.put(f"Binary/{binary}", changed), 403)
        assert_outcome(reader.delete(f"Binary/{binary}"), 403)
    alice = w.patient(client_for, "alice")
    assert_outcome(alice.put(f"Binary/{binary}", changed), 403)
    assert snapshot() == before
    author = w.practitioner(client_for, "author", "alice")
    assert author.put(f"Binary/{binary}", changed).status_code == 200
    assert fhir.put(f"Binary/{binary}", current).status_code == 200  # the platform


def test_a_documents_author_who_did_not_deposit_the_binary_cannot_change_it(
    fhir, client_for, snapshot
):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    hospital = w.hospital(client_for)
    data = base64.b64encode(b"report").decode()
    binary = hospital.create({"resourceType": "Binary", "contentType": "text/plain", "data": data})
    doc = w.document("alice", "report", binary=binary["id"])
    doc["author"] = [{"reference": "Practitioner/colleague"}]
    hospital.create(doc)
    colleague = w.practitioner(client_for, "colleague", "alice")
    assert colleague.get(f"Binary/{binary['id']}").status_code == 200  # an author reads it
    before = snapshot()
    changed = {**binary, "data": base64.b64encode(b"forged").decode()}
    assert_outcome(colleague.put(f"Binary/{binary['id']}", changed), 403)
    assert_outcome(colleague.delete(f"Binary/{binary['id']}"), 403)
    assert snapshot() == before


def test_a_hidden_binary_cannot_be_overwritten_or_deleted(world, client_for, snapshot):
    masked = world.binaries["alice"]["masked"]
    colleague = w.practitioner(client_for, "colleague", "alice")
    probe = {"resourceType": "Binary", "id": masked, "contentType": "text/plain", "data": "eA=="}
    before = snapshot()
    missing = colleague.get(f"Binary/{MISSING}", headers={"Accept": FHIR_JSON})
    for response in (
        colleague.put(f"Binary/{masked}", probe),
        colleague.delete(f"Binary/{masked}"),
    ):
        assert_outcome(response, 404)
        expected = missing.get_json()["issue"][0]["diagnostics"].replace(MISSING, masked)
        assert response.get_json()["issue"][0]["diagnostics"] == expected
    assert snapshot() == before


def test_break_glass_reads_what_it_reads_and_takes_nothing_away(world, client_for, snapshot):
    er = w.practitioner(client_for, "er", "alice", "bris_de_glace")
    normal, masked = world.binaries["alice"]["normal"], world.binaries["alice"]["masked"]
    assert set(seen(er, normal).values()) == {200}
    assert hidden(er, masked)
    refused_like_a_missing_binary(er, snapshot, masked)
    copy = er.create(pointing(normal, "emergency note"))
    # Once the emergency is over, the note is the physician's own deposit; the Binary is not.
    later = w.practitioner(client_for, "er")
    assert later.get(f"DocumentReference/{copy['id']}").status_code == 200
    assert hidden(later, normal)
    for response in (
        er.put(f"Binary/{normal}", {"resourceType": "Binary", "id": normal, "contentType": "x/y"}),
        er.delete(f"Binary/{normal}"),
    ):
        assert_outcome(response, 403)


def test_the_depositor_still_attaches_its_own_upload(fhir, client_for):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    author = w.practitioner(client_for, "author", "alice")
    data = base64.b64encode(b"letter").decode()
    upload = author.create({"resourceType": "Binary", "contentType": "text/plain", "data": data})
    author.create(pointing(upload["id"], "letter"))
    alice = w.patient(client_for, "alice")
    assert set(seen(alice, upload["id"]).values()) == {200}
