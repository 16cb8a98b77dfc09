"""Patient/[id]/$everything and compartment search (Patient/[id]/[type]) over HTTP.

https://hl7.org/fhir/R4/patient-operation-everything.html, compartmentdefinition.html
"""

import time
from datetime import UTC, datetime

import pytest

from tests.conftest import assert_outcome


def observation(patient: str, text: str) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": text},
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture
def record(fhir):
    """Patient/p1 with three Observations and a DocumentReference; Patient/p2 with one."""
    for pid in ("p1", "p2"):
        assert fhir.put(f"Patient/{pid}", {"resourceType": "Patient", "id": pid}).status_code == 201
    fhir.put("Practitioner/dr", {"resourceType": "Practitioner", "id": "dr"})
    ids = {"Patient": ["p1"], "Observation": [], "DocumentReference": []}
    for n in range(3):
        ids["Observation"].append(fhir.create(observation("p1", f"obs {n}"))["id"])
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": "Patient/p1"},
        "content": [{"attachment": {"contentType": "text/plain", "title": "letter"}}],
    }
    ids["DocumentReference"].append(fhir.create(doc)["id"])
    fhir.create(observation("p2", "elsewhere"))
    return ids


def _walk(client, url: str) -> tuple[list[tuple[str, str]], list[dict]]:
    """Every (type, id) met following the next links from `url`, and the pages."""
    found, pages = [], []
    while url:
        bundle = client.search(url.removeprefix("http://testserver"))
        pages.append(bundle)
        found += [
            (e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.get("entry", [])
        ]
        url = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
    return found, pages


def test_everything_is_the_patient_then_its_compartment(fhir, record):
    bundle = fhir.search("Patient/p1/$everything")
    assert bundle["type"] == "searchset" and bundle["total"] == 5
    found = [(e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle["entry"]]
    assert found[0] == ("Patient", "p1")
    expected = {(t, i) for t, ids in record.items() for i in ids}
    assert set(found) == expected and len(found) == 5


def test_everything_pages_by_next_links_that_work(fhir, record):
    found, pages = _walk(fhir, "Patient/p1/$everything?_count=2")
    assert [len(p.get("entry", [])) for p in pages] == [2, 2, 1]
    assert set(found) == {(t, i) for t, ids in record.items() for i in ids}
    assert len(found) == len(set(found))
    assert all(p["total"] == 5 for p in pages)
    assert pages[0]["link"][0]["url"].startswith("http://testserver/fhir/Patient/p1/$everything")


def test_everything_type_and_since(fhir, record):
    only = fhir.search("Patient/p1/$everything?_type=Observation")
    assert {e["resource"]["id"] for e in only["entry"]} == set(record["Observation"])
    time.sleep(0.01)
    moment = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    time.sleep(0.01)
    later = fhir.create(observation("p1", "later"))["id"]
    recent = fhir.search(f"Patient/p1/$everything?_since={moment}")
    ids = {e["resource"]["id"] for e in recent["entry"]}
    assert later in ids and not ids & set(record["Observation"])


@pytest.mark.parametrize(
    "url, status",
    [
        ("Patient/nobody/$everything", 404),
        ("Patient/p1/$everything?_type=Practitioner", 400),
        ("Patient/p1/$everything?_type=Nothing", 400),
        ("Patient/p1/$everything?_count=x", 400),
        ("Patient/p1/$everything?_since=yesterday", 400),
        ("Patient/p1/$everything?start=2020", 400),
        ("Patient/p1/$everything?_cursor=bogus", 400),
    ],
)
def test_everything_refusals_are_operation_outcomes(fhir, record, url, status):
    assert_outcome(fhir.get(url), status)


def test_a_cursor_of_another_search_is_refused(fhir, record):
    bundle = fhir.search("Patient/p1/$everything?_count=1")
    next_url = next(x["url"] for x in bundle["link"] if x["relation"] == "next")
    token = next_url.split("_cursor=")[1]
    assert_outcome(fhir.get(f"Patient/p1/$everything?_type=Observation&_cursor={token}"), 400)


def test_compartment_search_is_a_search_with_the_compartment_as_a_condition(fhir, record):
    bundle = fhir.search("Patient/p1/Observation?_count=2")
    assert bundle["total"] == 3
    found, _ = _walk(fhir, "Patient/p1/Observation?_count=2")
    assert {i for _, i in found} == set(record["Observation"])
    assert bundle["link"][0]["url"].startswith("http://testserver/fhir/Patient/p1/Observation")
    narrowed = fhir.search("Patient/p1/Observation?code:text=obs 1")
    assert narrowed["total"] == 1
    assert fhir.search("Patient/p2/DocumentReference")["total"] == 0
    assert fhir.search("Patient/p1/Patient")["total"] == 1
    assert_outcome(fhir.get("Patient/p1/Nothing"), 404, "not-supported")
    assert_outcome(fhir.get("Patient/a%20b/Observation"), 400)
