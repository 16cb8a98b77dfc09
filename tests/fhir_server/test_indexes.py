"""Every query the server issues is served by an index it declares (fhir_server/store/indexes.py).

tests/plan_check.py checks every query of every test; these tests send every kind of search and
show what the server refuses instead of scanning."""

import os

import pytest

from fhir_server.indexing.registry import REGISTRY
from fhir_server.resources import SUPPORTED_TYPES
from tests.conftest import assert_outcome
from tests.plan_check import collscans

SAMPLE = {
    "token": ["abc", "http://loinc.org|11488-4", "|x", "http://s|"],
    "string": ["dup"],
    "date": ["2024", "ge2024-01-01", "lt2025-03", "sa2020", "eb2030", "ap2024-06-01"],
    "reference": ["Patient/p1"],
    "quantity": ["5", "gt5.5|http://unitsofmeasure.org|kg"],
    "number": ["5"],
    "uri": ["http://example.org/profile"],
}
MODIFIED = {"token": ["not", "text"], "string": ["exact"]}
# Across records nothing bounds these: refused unless another parameter narrows them.
NEGATIONS = {"token": ["not"]}


def _search_urls(resource_type: str) -> list[tuple[str, int]]:
    """(url, the status it answers): 200, or 400 too-costly for what no index would serve."""
    urls = [(resource_type, 200), (f"{resource_type}?_sort=-_lastUpdated", 200)]
    narrow = "&patient=Patient/p1" if REGISTRY.get(resource_type, "patient") else "&_id=x"
    for code, param in REGISTRY.for_type(resource_type).items():
        for value in SAMPLE[param.type]:
            urls.append((f"{resource_type}?{code}={value}", 200))
            urls.append((f"{resource_type}?{code}={value}&patient=Patient/p1", 200))
        for modifier in MODIFIED.get(param.type, []):
            refused = modifier in NEGATIONS.get(param.type, [])
            urls.append((f"{resource_type}?{code}:{modifier}=abc", 400 if refused else 200))
            urls.append((f"{resource_type}?{code}:{modifier}=abc{narrow}", 200))
        for missing in ("true", "false"):
            refused = code != "_id"
            urls.append((f"{resource_type}?{code}:missing={missing}", 400 if refused else 200))
            urls.append((f"{resource_type}?{code}:missing={missing}{narrow}", 200))
        urls.append((f"{resource_type}?_sort={code}&_count=1&_lastUpdated=gt2000", 200))
        urls.append((f"{resource_type}?_sort={code}&_count=1&_id=x", 200))
        if param.type == "string":
            urls.append((f"{resource_type}?{code}:contains=abc{narrow}", 400))
    return urls


@pytest.fixture
def populated(fhir):
    patient = {"resourceType": "Patient", "id": "p1", "name": [{"family": "Dupont"}]}
    assert fhir.put("Patient/p1", patient).status_code in (200, 201)
    for i in range(3):
        fhir.create(
            {
                "resourceType": "DocumentReference",
                "status": "current",
                "subject": {"reference": "Patient/p1"},
                "date": f"2024-0{i + 1}-01T10:00:00Z",
                "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
                "content": [{"attachment": {"contentType": "application/pdf", "url": "Binary/b"}}],
            }
        )
    return fhir


@pytest.mark.parametrize("resource_type", SUPPORTED_TYPES)
def test_every_search_parameter_is_index_served_or_refused(
    populated, queries, carnet, resource_type
):
    for url, status in _search_urls(resource_type):
        response = populated.get(url)
        if status == 200:
            assert response.status_code == 200, (url, response.get_data(as_text=True))
        else:
            assert_outcome(response, 400, "too-costly")
    assert queries
    if os.environ.get("MONGODB_URI"):
        assert collscans(carnet.store.db, queries) == []


def test_chains_includes_history_and_paging_are_index_served(populated, queries, carnet):
    urls = [
        "DocumentReference?patient.identifier=urn:oid:1.2.250.1.213.1.4.8|1",
        "DocumentReference?subject:Patient.name=dup",
        "Patient?_has:DocumentReference:subject:type=11488-4",
        "DocumentReference?_include=DocumentReference:subject&_include:iterate=Patient:general-practitioner",
        "Patient?_revinclude=DocumentReference:subject",
        "DocumentReference/_history",
        "DocumentReference?_count=1&_sort=date&status=current&patient=Patient/p1",
    ]
    for url in urls:
        assert populated.get(url).status_code == 200, url
    first = populated.search("DocumentReference?_count=1&_sort=-date&patient=Patient/p1")
    following = next(link["url"] for link in first["link"] if link["relation"] == "next")
    assert populated.get(following.replace("http://testserver", "")).status_code == 200
    doc_id = first["entry"][0]["resource"]["id"]
    assert populated.get(f"DocumentReference/{doc_id}/_history").status_code == 200
    if os.environ.get("MONGODB_URI"):
        assert collscans(carnet.store.db, queries) == []


def test_sorting_a_whole_collection_by_an_unindexed_key_is_refused(populated):
    response = populated.get("DocumentReference?_sort=date")
    assert response.status_code == 400
    assert response.get_json()["issue"][0]["code"] == "too-costly"
    assert populated.get("DocumentReference?_sort=-_lastUpdated").status_code == 200
    assert populated.get("DocumentReference?_sort=date&patient=Patient/p1").status_code == 200


def test_a_sort_behind_equalities_across_records_is_refused(populated, snapshot):
    # Across records, status=current matches millions: its page must come in index order.
    before = snapshot()
    for url in (
        "DocumentReference?_sort=date&status=current",
        "DocumentReference?_sort=date,_id&type=11488-4",
    ):
        issue = assert_outcome(populated.get(url), 400, "too-costly")["issue"][0]
        assert issue["diagnostics"].startswith("Sorting DocumentReference by 'date")
        assert "add patient or subject to sort within one record" in issue["diagnostics"]
        assert issue["expression"] == ["_sort"] and "so.date" not in issue["diagnostics"]
    assert snapshot() == before
    assert populated.ids("DocumentReference?status=current&_count=2")  # in _id order: served
    assert (
        populated.get("DocumentReference?_sort=date&status=current&patient=Patient/p1").status_code
        == 200
    )


def test_dates_after_or_ending_before_are_served_by_the_end_of_the_range(populated):
    assert len(populated.ids("DocumentReference?date=gt2024-01-15")) == 2
    assert len(populated.ids("DocumentReference?date=eb2024-02-15")) == 2
    assert len(populated.ids("DocumentReference?date=ne2024-02-01")) == 2


def test_a_patient_search_is_confined_to_the_patient_compartment(populated, queries):
    populated.get("DocumentReference?patient=Patient/p1&type=11488-4")
    searched = [q for c, q, _ in queries if c == "DocumentReference"]
    assert searched and all("'pk': 'Patient/p1'" in repr(q) for q in searched)


def test_a_store_made_earlier_loses_the_auditevent_indexes_no_longer_declared(carnet):
    """An AuditEvent keeps only the indexes of its searches: one a store made by an earlier
    version holds (every one of CURRENT_INDEXES) is dropped when the server starts on it."""
    from fhir_server.store import indexes

    audit = carnet.store.documents.current("AuditEvent")
    audit.create_index(indexes.CURRENT_INDEXES["st"], name="st")
    assert "st" in audit.index_information()
    carnet.store.ensure_indexes()
    kept = set(audit.index_information()) - {"_id_"}
    assert kept == set(indexes.current_indexes("AuditEvent"))
    assert "st" not in kept and "tk" not in kept
