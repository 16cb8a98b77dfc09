"""A hidden document never shows: not in totals, counts, paging, includes, history, `_has`, chains,
conditional operations, batches, its Binary, the access history, nor in any error message.

Each scenario is a caller and a document hidden from them by a different rule: masked from a
professional of the care team, invisible to the patient, and a whole record to a professional the
patient blocked or never authorised.
"""

import pytest

from tests.conftest import assert_outcome
from tests.consent import world as w

SCENARIOS = {
    # caller -> (client factory, hidden states, states the caller does see)
    "care team, masked document": (
        lambda cf: w.practitioner(cf, "colleague", "alice"),
        ("masked",),
        ("normal", "invisible", "blocked_author"),
    ),
    "patient, invisible document": (
        lambda cf: w.patient(cf, "alice"),
        ("invisible",),
        ("normal", "masked", "blocked_author"),
    ),
    "blocked professional": (lambda cf: w.practitioner(cf, "blocked", "alice"), w.STATES, ()),
    "professional never authorised": (lambda cf: w.practitioner(cf, "other"), w.STATES, ()),
}


@pytest.fixture
def world(fhir, client_for):
    seeded = w.seed(fhir, client_for)
    # A list of all of alice's documents, for _include and chains through List.item.
    fhir.put(
        "List/alice-all",
        {
            "resourceType": "List",
            "id": "alice-all",
            "status": "current",
            "mode": "working",
            "subject": {"reference": "Patient/alice"},
            "entry": [
                {"item": {"reference": f"DocumentReference/{seeded.doc('alice', s)}"}}
                for s in w.STATES
            ],
        },
    )
    return seeded


def _ids(bundle: dict, resource_type: str = "DocumentReference") -> set[str]:
    return {
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e.get("resource", {}).get("resourceType") == resource_type
    }


def _pages(client, url: str) -> tuple[list[str], list[int]]:
    """Every id met walking the `next` links, and each page's size."""
    ids, sizes = [], []
    while url:
        bundle = client.search(url.removeprefix("http://testserver"))
        page = [e["resource"]["id"] for e in bundle.get("entry", [])]
        ids += page
        sizes.append(len(page))
        url = next(
            (link["url"] for link in bundle.get("link", []) if link["relation"] == "next"), None
        )
    return ids, sizes


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_hidden_documents_never_show(scenario, world, client_for, fhir):
    make, hidden_states, seen_states = SCENARIOS[scenario]
    client = make(client_for)
    hidden = {world.doc("alice", s) for s in hidden_states}
    seen = {world.doc("alice", s) for s in seen_states}
    everything = "DocumentReference?patient=Patient/alice&_total=accurate"

    # Searches, totals and counts.
    bundle = client.search(everything)
    assert _ids(bundle) == seen and bundle["total"] == len(seen)
    assert client.search(everything + "&_summary=count")["total"] == len(seen)
    # Across records: a token with alice in context reads her record only (and a token without
    # one, only records that named the caller).
    across = client.search("DocumentReference?_total=accurate&status=current")
    assert across["total"] == len(seen) == len(_ids(across))

    # Paging: one per page, every page full, none hidden.
    ids, sizes = _pages(client, "DocumentReference?patient=Patient/alice&_count=1")
    assert set(ids) == seen and len(ids) == len(seen)
    assert sizes == ([1] * len(seen) if seen else [0])

    # _include, _revinclude, and the same through a chain and _has.
    included = client.search("List?_id=alice-all&_include=List:item")
    assert _ids(included) == seen
    rev = client.search("Patient?_id=alice&_revinclude=DocumentReference:subject")
    assert _ids(rev) == seen
    for state in w.STATES:
        doc = world.doc("alice", state)
        title = f"alice {state}" if state != "blocked_author" else "alice by blocked"
        has = client.search(f"Patient?_has:DocumentReference:subject:description={title}")
        assert bool(_ids(has, "Patient")) == (doc in seen), (state, has)
        chained = client.search(f"List?item:DocumentReference.description={title}")
        assert bool(_ids(chained, "List")) == (doc in seen)

    # History, type and instance level.
    history = client.search("DocumentReference/_history?_count=200")
    assert not {e["resource"]["id"] for e in history.get("entry", []) if "resource" in e} & hidden

    for doc in hidden:
        _assert_reads_as_nonexistent(client, doc)
        # Conditional operations see the same world: If-None-Exist finds nothing to return.
        title = fhir.get(f"DocumentReference/{doc}").get_json()["description"]
        created = client.post(
            "DocumentReference",
            w.document("alice", "probe"),
            headers={"If-None-Exist": f"description={title}"},
        )
        assert created.status_code in (201, 403) and doc not in created.get_data(as_text=True)
        # A conditional delete matching only the hidden document deletes nothing.
        client.delete(f"DocumentReference?description={title}")
        assert fhir.get(f"DocumentReference/{doc}").status_code == 200
        # In a batch, the hidden document is a 404 entry.
        batch = client.post(
            "",
            {
                "resourceType": "Bundle",
                "type": "batch",
                "entry": [{"request": {"method": "GET", "url": f"DocumentReference/{doc}"}}],
            },
        )
        assert batch.get_json()["entry"][0]["response"]["status"].startswith("404")
        assert doc not in repr(batch.get_json()["entry"][0].get("resource", {}))


def _assert_reads_as_nonexistent(client, doc: str) -> None:
    """Every way of asking answers as for an id that never existed, and names no label."""
    for path in (
        "DocumentReference/{}",
        "DocumentReference/{}/_history/1",
        "DocumentReference/{}/_history",
    ):
        hidden = client.get(path.format(doc))
        absent = client.get(path.format("no-such-document"))
        assert hidden.status_code == absent.status_code == 404
        assert hidden.get_json()["issue"][0]["diagnostics"].replace(doc, "X") == absent.get_json()[
            "issue"
        ][0]["diagnostics"].replace("no-such-document", "X")
        for word in ("MASQUE", "INVISIBLE", "blocked", "mask", "consent"):
            assert word not in hidden.get_data(as_text=True)


def test_a_refused_write_says_nothing_about_the_hidden_document(world, client_for):
    colleague = w.practitioner(client_for, "colleague", "alice")
    masked = world.doc("alice", "masked")
    probe = {**w.document("alice", "x"), "id": masked}
    body = assert_outcome(colleague.put(f"DocumentReference/{masked}", probe), 404)
    text = repr(body)
    assert "MASQUE" not in text and "_history" not in text and "version" not in text.lower()
    # If-Match on the hidden document: the same answer, not a 412 revealing its version.
    response = colleague.put(f"DocumentReference/{masked}", probe, headers={"If-Match": 'W/"1"'})
    assert response.status_code == 404


def test_the_access_history_never_reveals_a_document_kept_from_the_patient(world, client_for):
    gp = w.practitioner(client_for, "gp", "alice")
    invisible = world.doc("alice", "invisible")
    assert gp.get(f"DocumentReference/{invisible}").status_code == 200
    assert gp.get(f"DocumentReference/{world.doc('alice', 'normal')}").status_code == 200
    alice = w.patient(client_for, "alice")
    events = client_search_all(alice, "AuditEvent?patient=Patient/alice")
    assert events, "the patient sees who looked at her record"
    assert invisible not in repr(events)
    assert any(world.doc("alice", "normal") in repr(e) for e in events)


def client_search_all(client, url: str) -> list[dict]:
    bundle = client.search(url + "&_count=200")
    return [e["resource"] for e in bundle.get("entry", [])]


def test_a_refused_search_names_the_request_not_the_policy(world, client_for):
    """A search no index serves is refused in the words of the request: never the store's fields,
    nor the conditions the policy added for the caller. Within the records a caller may read the
    policy bounds the search, so it runs; across records it is refused."""
    urls = {
        "DocumentReference?status:not=current": {"status:not"},
        "DocumentReference?_sort=date&status=current": {"_sort"},
        "DocumentReference?author:missing=true": {"author:missing"},
    }
    refused = 0
    for scenario, (make, _, _) in SCENARIOS.items():
        for url, named in urls.items():
            response = make(client_for).get(url)
            if response.status_code == 200:
                continue
            issue = assert_outcome(response, 400, "too-costly")["issue"][0]
            refused += 1
            text = issue["diagnostics"]
            for internal in ("acl", "MASQUE", "INVISIBLE", "pk", "tk", "$ne", "so.", "has "):
                assert internal not in text, (scenario, internal, text)
            assert set(issue["expression"]) == named, (scenario, issue)
    assert refused
