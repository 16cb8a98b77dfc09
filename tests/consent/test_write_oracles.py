"""Writing never tells a hidden resource from a missing one (issue 10, existence oracles).

https://hl7.org/fhir/R4/http.html#update - inside a patient's record ids are the server's: no
create through update there (consent.policy.Policy.hides_nothing). A PUT, PATCH or DELETE naming
an id the caller cannot read answers what a read of a missing id answers, status, body and
headers, whether something hidden is there or nothing is; If-Match, conditional updates and
Bundle entries included. The platform and the directory keep update-as-create.
"""

import pytest

from tests.conftest import assert_outcome
from tests.consent import world as w


@pytest.fixture
def world(fhir, client_for):
    return w.seed(fhir, client_for)


def missing_like(id: str) -> str:
    """An id of the same length that names nothing (so the answers may be compared byte for byte)."""
    return id[:-6] + "ffffff" if not id.endswith("ffffff") else id[:-6] + "eeeeee"


def answer(response) -> tuple:
    """What a caller learns from an answer, with the id it named taken out."""
    headers = sorted((k, v) for k, v in response.headers.items() if k != "Date")
    return response.status_code, headers, response.get_data(as_text=True)


def same_answer(hidden_response, missing_response, hidden: str, missing: str) -> None:
    status, headers, body = answer(hidden_response)
    assert status == 404, body
    assert (status, headers, body.replace(hidden, missing)) == answer(missing_response)


def probe(id: str) -> dict:
    return {**w.document("alice", "probe"), "id": id}


@pytest.mark.parametrize("state", ["masked", "invisible", "normal"])
def test_a_hidden_document_answers_every_write_as_a_missing_one(state, world, client_for, snapshot):
    # The colleague does not read masked documents, the patient not hers kept from her, the
    # other professional nothing of the record.
    client = {
        "masked": w.practitioner(client_for, "colleague", "alice"),
        "invisible": w.patient(client_for, "alice"),
        "normal": w.practitioner(client_for, "other", "alice"),
    }[state]
    hidden = world.doc("alice", state)
    missing = missing_like(hidden)
    read = client.get(f"DocumentReference/{missing}")
    assert_outcome(read, 404)
    before = snapshot()
    patch = [{"op": "replace", "path": "/description", "value": "x"}]
    stale = {"If-Match": 'W/"1"'}
    for send in (
        lambda id: client.put(f"DocumentReference/{id}", probe(id)),
        lambda id: client.put(f"DocumentReference/{id}", probe(id), headers=stale),
        lambda id: client.patch(f"DocumentReference/{id}", patch),
        lambda id: client.patch(f"DocumentReference/{id}", patch, headers=stale),
        lambda id: client.delete(f"DocumentReference/{id}"),
        lambda id: client.delete(f"DocumentReference/{id}", headers=stale),
        lambda id: client.put(f"DocumentReference?_id={id}", probe(id)),
    ):
        same_answer(send(hidden), send(missing), hidden, missing)
    # ... and as a read of that missing id answers.
    put = client.put(f"DocumentReference/{missing}", probe(missing))
    assert answer(put) == answer(read)
    assert snapshot() == before


def test_bundle_entries_answer_alike_for_hidden_and_missing(world, client_for, snapshot):
    colleague = w.practitioner(client_for, "colleague", "alice")
    hidden = world.doc("alice", "masked")
    missing = missing_like(hidden)

    def bundle(kind: str, id: str, method: str) -> dict:
        entry = {"request": {"method": method, "url": f"DocumentReference/{id}"}}
        if method == "PUT":
            entry["resource"] = probe(id)
        return {"resourceType": "Bundle", "type": kind, "entry": [entry]}

    before = snapshot()
    for method in ("PUT", "DELETE"):
        same_answer(
            colleague.post("", bundle("transaction", hidden, method)),
            colleague.post("", bundle("transaction", missing, method)),
            hidden,
            missing,
        )
        replies = [
            colleague.post("", bundle("batch", id, method)).get_json()["entry"][0]
            for id in (hidden, missing)
        ]
        assert replies[0]["response"]["status"].startswith("404")
        assert repr(replies[0]).replace(hidden, missing) == repr(replies[1])
    assert snapshot() == before


def test_no_create_through_update_inside_a_record(fhir, client_for, snapshot):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    author = w.practitioner(client_for, "author", "alice")
    alice = w.patient(client_for, "alice")
    before = snapshot()
    assert_outcome(author.put("DocumentReference/chosen-id", probe("chosen-id")), 404)
    own = {"resourceType": "Observation", "id": "mine", "status": "final"}
    own |= {"code": {"text": "weight"}, "subject": {"reference": "Patient/alice"}}
    assert_outcome(alice.put("Observation/mine", own), 404)
    assert snapshot() == before
    # The platform (loaders, demo data, imports) still chooses ids.
    assert fhir.put("DocumentReference/chosen-id", probe("chosen-id")).status_code == 201


def test_the_caller_still_sees_its_own_deletions(fhir, client_for):
    fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"})
    author = w.practitioner(client_for, "author", "alice")
    mine = author.create(w.document("alice", "draft"))
    assert author.delete(f"DocumentReference/{mine['id']}").status_code == 204
    assert author.delete(f"DocumentReference/{mine['id']}").status_code == 204  # idempotent
    again = author.put(f"DocumentReference/{mine['id']}", mine)
    assert_outcome(again, 410)  # what a read answers: it sees it was deleted
