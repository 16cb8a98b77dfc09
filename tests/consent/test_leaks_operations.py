"""The operations that read many resources at once show nothing the policy hides: $everything,
compartment search, system search, system history and $export's files.

The same scenarios as test_leaks.py: a masked document and a care-team professional, an invisible
document and the patient, a blocked professional and one never authorised.
"""

import pytest

from ingestion import records
from ingestion.ins import INS_NIR
from tests.conftest import assert_outcome
from tests.consent import world as w
from tests.consent.test_leaks import SCENARIOS
from tests.consent.test_record_status import ALICE_NIR
from tests.fhir_server.test_bulk_export import ASYNC, export


@pytest.fixture
def world(fhir, client_for):
    return w.seed(fhir, client_for)


def _pages(client, url: str) -> list[dict]:
    pages = []
    while url:
        pages.append(client.search(url.removeprefix("http://testserver")))
        url = next((x["url"] for x in pages[-1]["link"] if x["relation"] == "next"), None)
    return pages


def _ids(pages: list[dict], resource_type: str) -> list[str]:
    return [
        e["resource"]["id"]
        for p in pages
        for e in p.get("entry", [])
        if e.get("resource", {}).get("resourceType") == resource_type
    ]


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_hidden_documents_never_show_in_operations(scenario, world, client_for, fhir):
    make, hidden_states, seen_states = SCENARIOS[scenario]
    client = make(client_for)
    hidden = {world.doc("alice", s) for s in hidden_states}
    hidden_binaries = {world.binaries["alice"][s] for s in hidden_states}
    seen = {world.doc("alice", s) for s in seen_states}

    if not seen:
        # The whole record is shut: $everything answers as for a patient that does not exist.
        refused = assert_outcome(client.get("Patient/alice/$everything"), 404)
        absent = assert_outcome(client.get("Patient/nobody/$everything"), 404)
        assert refused["issue"][0]["diagnostics"].replace("alice", "X") == absent["issue"][0][
            "diagnostics"
        ].replace("nobody", "X")
    else:
        pages = _pages(client, "Patient/alice/$everything?_count=2")
        docs = _ids(pages, "DocumentReference")
        assert set(docs) == seen and len(docs) == len(seen)
        assert not set(_ids(pages, "Binary")) & hidden_binaries
        assert all(p["total"] == pages[0]["total"] for p in pages)
        assert pages[0]["total"] == sum(len(p.get("entry", [])) for p in pages)

    compartment = _pages(client, "Patient/alice/DocumentReference?_count=1")
    assert set(_ids(compartment, "DocumentReference")) == seen
    assert compartment[0]["total"] == len(seen)

    system = _pages(client, "?_type=DocumentReference,Binary&_count=3")
    assert not set(_ids(system, "DocumentReference")) & hidden
    assert not set(_ids(system, "Binary")) & hidden_binaries
    assert seen <= set(_ids(system, "DocumentReference"))
    assert system[0]["total"] == sum(len(p.get("entry", [])) for p in system)

    history = _pages(client, "_history?_count=50")
    text = repr(history)
    assert not any(doc in text for doc in hidden | hidden_binaries)
    for doc in seen:
        assert doc in text


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_hidden_documents_never_show_in_an_export(scenario, world, client_for):
    make, hidden_states, seen_states = SCENARIOS[scenario]
    client = make(client_for)
    hidden = {world.doc("alice", s) for s in hidden_states}
    hidden |= {world.binaries["alice"][s] for s in hidden_states}
    seen = {world.doc("alice", s) for s in seen_states}
    if seen:
        _, found = export(client, "Patient/alice/$export")
        assert {r["id"] for r in found["DocumentReference"]} == seen
        lines = [r["id"] for rows in found.values() for r in rows]
        assert not set(lines) & hidden
    else:
        assert_outcome(client.get("Patient/alice/$export", headers=ASYNC), 404)
    if client.token and "patient" not in scenario:
        _, found = export(client, "Patient/$export")
        lines = {r["id"] for rows in found.values() for r in rows}
        assert not lines & hidden and seen <= lines


def test_an_opposed_record_is_in_no_professional_s_operation(world, fhir, client_for):
    alice = fhir.get("Patient/alice").get_json()
    alice["identifier"] = [{"system": INS_NIR, "value": ALICE_NIR}]
    assert fhir.put("Patient/alice", alice).status_code == 200
    records.set_status(ALICE_NIR, "opposed")
    hers = set(world.docs["alice"].values()) | set(world.binaries["alice"].values())
    for client in (w.practitioner(client_for, "author", "alice"), w.practitioner(client_for, "gp")):
        assert_outcome(client.get("Patient/alice/$everything"), 404)
        assert_outcome(client.get("Patient/alice/$export", headers=ASYNC), 404)
        text = repr(_pages(client, "_history?_count=100"))
        text += repr(_pages(client, "?_type=DocumentReference,Binary&_count=100"))
        text += repr(_pages(client, "Patient/alice/DocumentReference"))
        _, found = export(client, "Patient/$export")
        text += repr(found)
        assert not any(id in text for id in hers)
