"""history (instance and type), _since, _count and paging: https://hl7.org/fhir/R4/http.html#history"""

import time
from urllib.parse import quote, urlsplit

from tests.conftest import assert_outcome

PATIENT = {"resourceType": "Patient", "name": [{"family": "Moreau"}]}


def _follow(fhir, url: str):
    parts = urlsplit(url)
    assert parts.path.startswith("/fhir/")
    return fhir.get(f"{parts.path}?{parts.query}" if parts.query else parts.path)


def _next(bundle: dict) -> str | None:
    return next((link["url"] for link in bundle["link"] if link["relation"] == "next"), None)


def test_instance_history_newest_first(fhir):
    fhir.put("Patient/h-1", {**PATIENT, "id": "h-1"})
    fhir.put("Patient/h-1", {**PATIENT, "id": "h-1", "gender": "male"})
    fhir.patch("Patient/h-1", [{"op": "replace", "path": "/gender", "value": "female"}])
    fhir.delete("Patient/h-1")
    response = fhir.get("Patient/h-1/_history")
    assert response.status_code == 200
    bundle = response.get_json()
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "history"
    entries = bundle["entry"]
    assert [e["request"]["method"] for e in entries] == ["DELETE", "PATCH", "PUT", "PUT"]
    assert [e.get("resource", {}).get("meta", {}).get("versionId") for e in entries] == [
        None,
        "3",
        "2",
        "1",
    ]
    assert [e["response"]["status"][:3] for e in entries] == ["410", "200", "200", "201"]
    assert all(e["fullUrl"].endswith("/fhir/Patient/h-1") for e in entries)
    assert entries[1]["resource"]["gender"] == "female"
    assert entries[1]["response"]["etag"] == 'W/"3"'
    assert "lastModified" in entries[0]["response"]


def test_instance_history_unknown_is_404(fhir):
    assert_outcome(fhir.get("Patient/nobody/_history"), 404, "not-found")
    assert_outcome(fhir.get("Spaceship/x/_history"), 404)


def test_type_history_lists_every_version(fhir):
    a = fhir.create(PATIENT)["id"]
    b = fhir.create(PATIENT)["id"]
    fhir.put(f"Patient/{a}", {**PATIENT, "id": a, "gender": "other"})
    fhir.create({"resourceType": "Organization", "name": "Clinique"})
    bundle = fhir.get("Patient/_history").get_json()
    seen = [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in bundle["entry"]]
    assert seen == [(a, "2"), (b, "1"), (a, "1")]
    assert bundle["entry"][2]["request"] == {"method": "POST", "url": "Patient"}


def test_since_keeps_later_versions(fhir):
    old = fhir.create(PATIENT)["id"]
    time.sleep(0.01)
    cut = fhir.create(PATIENT)["meta"]["lastUpdated"]
    new = fhir.get("Patient/_history").get_json()["entry"][0]["resource"]["id"]
    fhir.put(f"Patient/{old}", {**PATIENT, "id": old, "gender": "male"})
    bundle = fhir.get(f"Patient/_history?_since={quote(cut)}").get_json()
    seen = [(e["resource"]["id"], e["resource"]["meta"]["versionId"]) for e in bundle["entry"]]
    assert seen == [(old, "2"), (new, "1")]
    instance = fhir.get(f"Patient/{old}/_history?_since={quote(cut)}").get_json()
    assert [e["resource"]["meta"]["versionId"] for e in instance["entry"]] == ["2"]
    assert_outcome(fhir.get("Patient/_history?_since=yesterday"), 400)


def test_count_and_next_link_page_through_type_history(fhir):
    ids = [fhir.create(PATIENT)["id"] for _ in range(5)]
    seen = []
    response = fhir.get("Patient/_history?_count=2")
    pages = 0
    while True:
        assert response.status_code == 200, response.get_data(as_text=True)
        bundle = response.get_json()
        pages += 1
        assert len(bundle.get("entry", [])) <= 2
        seen += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = _next(bundle)
        if url is None:
            break
        assert "_count=2" in url
        response = _follow(fhir, url)
    assert pages == 3
    assert seen == list(reversed(ids))


def test_count_and_next_link_page_through_instance_history(fhir):
    fhir.put("Patient/h-2", {**PATIENT, "id": "h-2"})
    for gender in ("male", "female", "other", "unknown"):
        fhir.put("Patient/h-2", {**PATIENT, "id": "h-2", "gender": gender})
    versions = []
    response = fhir.get("Patient/h-2/_history?_count=2")
    while True:
        bundle = response.get_json()
        versions += [e["resource"]["meta"]["versionId"] for e in bundle["entry"]]
        url = _next(bundle)
        if url is None:
            break
        response = _follow(fhir, url)
    assert versions == ["5", "4", "3", "2", "1"]


def test_bad_count_and_cursor_are_400(fhir):
    fhir.create(PATIENT)
    assert_outcome(fhir.get("Patient/_history?_count=many"), 400)
    assert_outcome(fhir.get("Patient/_history?_cursor=garbage!"), 400)
