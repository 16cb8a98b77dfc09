"""System history (GET [base]/_history) and system search (GET [base]?_type=...) over HTTP.

https://hl7.org/fhir/R4/http.html#history, https://hl7.org/fhir/R4/search.html#all
"""

import pytest

from tests.conftest import assert_outcome

HISTORY_TYPES = ("Patient", "Observation", "Practitioner")


@pytest.fixture
def written(fhir):
    """Versions of several types: two Patients (one updated, one deleted), Observations, a
    Practitioner."""
    fhir.put("Patient/h1", {"resourceType": "Patient", "id": "h1", "gender": "female"})
    fhir.put("Patient/h1", {"resourceType": "Patient", "id": "h1", "gender": "male"})
    fhir.put("Patient/h2", {"resourceType": "Patient", "id": "h2"})
    fhir.delete("Patient/h2")
    fhir.put("Practitioner/h3", {"resourceType": "Practitioner", "id": "h3"})
    for n in range(3):
        fhir.create(
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": f"h{n}"},
                "subject": {"reference": "Patient/h1"},
            }
        )


def _history_rows(bundle: dict) -> list[tuple[str, str]]:
    return [(e["fullUrl"].rsplit("/", 2)[-2], e["response"]["status"]) for e in bundle["entry"]]


def _walk(client, url: str) -> list[dict]:
    pages = []
    while url:
        pages.append(client.search(url.removeprefix("http://testserver")))
        url = next((x["url"] for x in pages[-1]["link"] if x["relation"] == "next"), None)
    return pages


def _versions(pages: list[dict]) -> list[tuple[str, str, str]]:
    """(type, id, version or 'deleted') of every entry, in order."""
    out = []
    for page in pages:
        for e in page.get("entry", []):
            kind, id = e["fullUrl"].rsplit("/", 2)[-2:]
            out.append((kind, id, e["response"].get("etag", "deleted")))
    return out


def test_system_history_holds_every_version_of_every_type_newest_first(fhir, written):
    pages = _walk(fhir, "_history?_count=200")
    rows = [v for v in _versions(pages) if v[0] in HISTORY_TYPES]
    assert ("Patient", "h1", 'W/"1"') in rows and ("Patient", "h1", 'W/"2"') in rows
    assert ("Patient", "h2", "deleted") in rows and ("Practitioner", "h3", 'W/"1"') in rows
    assert sum(1 for v in rows if v[0] == "Observation") == 3
    assert rows.index(("Patient", "h1", 'W/"2"')) < rows.index(("Patient", "h1", 'W/"1"'))
    stamps = [e["response"]["lastModified"] for p in pages for e in p.get("entry", [])]
    assert stamps == sorted(stamps, reverse=True)


def test_system_history_pages_by_next_links_without_gaps_or_repeats(fhir, written):
    everything = _versions(_walk(fhir, "_history?_count=200"))
    paged = _walk(fhir, "_history?_count=2")
    assert all(len(p.get("entry", [])) <= 2 for p in paged) and len(paged) > 3
    # The audit adds AuditEvents while we page; the versions written before stay in order.
    seen = [v for v in _versions(paged) if v[0] != "AuditEvent"]
    assert seen == [v for v in everything if v[0] != "AuditEvent"]


def test_system_history_since(fhir, written):
    last = fhir.get("Observation?_sort=-_lastUpdated&_count=1").get_json()["entry"][0]
    moment = last["resource"]["meta"]["lastUpdated"]
    rows = _versions(_walk(fhir, f"_history?_since={moment}&_count=200"))
    assert [v for v in rows if v[0] in HISTORY_TYPES] == [
        ("Observation", last["resource"]["id"], 'W/"1"')
    ]
    assert_outcome(fhir.get("_history?_since=never"), 400)
    assert_outcome(fhir.get("_history?_cursor=bogus"), 400)


def test_system_history_needs_some_history_scope(client_for, written):
    reader = client_for("system/Patient.r")
    assert_outcome(reader.get("_history"), 403, "forbidden")
    one_type = client_for("system/Patient.rs")
    rows = _versions(_walk(one_type, "_history?_count=200"))
    assert rows and {v[0] for v in rows} == {"Patient"}


def test_system_search_with_type_pages_across_types(fhir, written):
    bundle = fhir.search("?_type=Patient,Practitioner&_count=1")
    assert bundle["total"] == 2
    pages = _walk(fhir, "?_type=Patient,Practitioner&_count=1")
    found = [
        (e["resource"]["resourceType"], e["resource"]["id"]) for p in pages for e in p["entry"]
    ]
    assert found == [("Patient", "h1"), ("Practitioner", "h3")]
    by_id = fhir.search("?_type=Patient,Observation&_id=h1")
    assert [e["resource"]["id"] for e in by_id["entry"]] == ["h1"]
    assert fhir.search("?_type=Patient,Observation&_summary=count")["total"] == 4


def test_system_search_keeps_only_the_parameters_every_type_defines(fhir, written):
    lenient = fhir.search("?_type=Patient,Practitioner&gender=male")
    # gender is defined on both: it applies; `code` is not on Patient: ignored, with a warning.
    assert {e["resource"]["id"] for e in lenient["entry"]} == {"h1"}
    warned = fhir.search("?_type=Patient,Observation&code:text=h1")
    outcomes = [e for e in warned["entry"] if e["search"]["mode"] == "outcome"]
    assert outcomes and "code:text" in outcomes[0]["resource"]["issue"][0]["diagnostics"]
    strict = fhir.get(
        "?_type=Patient,Observation&code:text=h1", headers={"Prefer": "handling=strict"}
    )
    assert_outcome(strict, 400)


@pytest.mark.parametrize(
    "query",
    ["", "?_type=Nothing", "?_type=Patient&_sort=_id", "?_type=Patient&_include=Patient:link"],
)
def test_system_search_refusals(fhir, written, query):
    assert_outcome(fhir.get(f"/fhir{query}"), 400)


def test_system_search_needs_a_scope_for_each_type(client_for, written):
    reader = client_for("system/Patient.rs")
    assert reader.search("?_type=Patient")["total"] == 1
    assert_outcome(reader.get("?_type=Patient,Observation"), 403, "forbidden")
