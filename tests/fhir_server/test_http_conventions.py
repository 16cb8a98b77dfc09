"""HTTP conventions FHIR clients rely on: conditional read (304), gzip, Prefer: return=minimal
without a body or content type, a malformed id is 400, first and last paging links.
https://hl7.org/fhir/R4/http.html"""

import gzip
import json
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import assert_outcome


@pytest.fixture
def patient(fhir) -> dict:
    return fhir.create({"resourceType": "Patient", "gender": "female", "birthDate": "1980-02-03"})


# -- conditional read (http.html#cread) ---------------------------------------------------------
@pytest.mark.parametrize("tag", ['W/"1"', '"1"', '"7", W/"1"', "*"])
def test_a_read_with_the_current_etag_is_304_without_a_body(fhir, patient, tag):
    url = f"Patient/{patient['id']}"
    answer = fhir.get(url, headers={"If-None-Match": tag})
    assert answer.status_code == 304
    assert answer.get_data() == b""
    assert "Content-Type" not in answer.headers
    assert answer.headers["ETag"] == 'W/"1"'
    assert answer.headers["Content-Location"].endswith(f"{url}/_history/1")


def test_a_read_with_an_old_etag_gets_the_resource(fhir, patient):
    url = f"Patient/{patient['id']}"
    assert fhir.put(url, {**patient, "gender": "male"}).status_code == 200
    answer = fhir.get(url, headers={"If-None-Match": 'W/"1"'})
    assert answer.status_code == 200
    assert answer.get_json()["gender"] == "male"
    assert fhir.get(url, headers={"If-None-Match": 'W/"2"'}).status_code == 304


def test_a_vread_is_conditional_too(fhir, patient):
    url = f"Patient/{patient['id']}/_history/1"
    assert fhir.get(url, headers={"If-None-Match": 'W/"1"'}).status_code == 304
    assert fhir.get(url, headers={"If-None-Match": 'W/"2"'}).status_code == 200


def test_if_modified_since(fhir, patient):
    url = f"Patient/{patient['id']}"
    last_modified = parsedate_to_datetime(fhir.get(url).headers["Last-Modified"])
    at_it = format_datetime(last_modified, usegmt=True)
    later = format_datetime(last_modified + timedelta(hours=1), usegmt=True)
    earlier = format_datetime(last_modified - timedelta(hours=1), usegmt=True)
    assert fhir.get(url, headers={"If-Modified-Since": at_it}).status_code == 304
    assert fhir.get(url, headers={"If-Modified-Since": later}).status_code == 304
    assert fhir.get(url, headers={"If-Modified-Since": earlier}).status_code == 200
    assert fhir.get(url, headers={"If-Modified-Since": "yesterday"}).status_code == 200
    # If-None-Match wins (RFC 9110 section 13.1.3).
    both = {"If-Modified-Since": later, "If-None-Match": 'W/"9"'}
    assert fhir.get(url, headers=both).status_code == 200


def test_a_hidden_or_missing_resource_is_never_304(fhir):
    assert fhir.get("Patient/nobody", headers={"If-None-Match": "*"}).status_code == 404


# -- gzip ---------------------------------------------------------------------------------------
def test_metadata_is_gzipped_when_asked(fhir):
    plain = fhir.get("metadata")
    assert "Content-Encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["Vary"]
    coded = fhir.get("metadata", headers={"Accept-Encoding": "br;q=1, gzip;q=0.8"})
    assert coded.headers["Content-Encoding"] == "gzip"
    assert int(coded.headers["Content-Length"]) < len(plain.get_data()) / 4
    assert json.loads(gzip.decompress(coded.get_data())) == plain.get_json()


def test_gzip_refused_or_small_answers_are_sent_as_they_are(fhir, patient):
    refused = fhir.get("metadata", headers={"Accept-Encoding": "gzip;q=0, identity"})
    assert "Content-Encoding" not in refused.headers
    small = fhir.get(f"Patient/{patient['id']}", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers
    assert small.get_json()["id"] == patient["id"]


def test_a_search_page_is_gzipped(fhir):
    for n in range(25):
        fhir.create({"resourceType": "Patient", "name": [{"family": f"Martin-{n:02d}"}]})
    coded = fhir.get("Patient?_count=25", headers={"Accept-Encoding": "gzip"})
    assert coded.headers["Content-Encoding"] == "gzip"
    assert len(json.loads(gzip.decompress(coded.get_data()))["entry"]) == 25


def test_native_binary_content_is_not_gzipped(fhir):
    pdf = b"%PDF-1.4 " + bytes(range(256)) * 20
    import base64

    binary = fhir.create(
        {
            "resourceType": "Binary",
            "contentType": "application/pdf",
            "data": base64.b64encode(pdf).decode(),
        }
    )
    answer = fhir.get(
        f"Binary/{binary['id']}", headers={"Accept-Encoding": "gzip", "Accept": "*/*"}
    )
    assert answer.status_code == 200
    assert "Content-Encoding" not in answer.headers
    assert answer.get_data() == pdf


# -- Prefer: return=minimal ---------------------------------------------------------------------
def test_return_minimal_has_no_body_and_no_html_content_type(fhir, patient):
    created = fhir.post(
        "Patient", {"resourceType": "Patient"}, headers={"Prefer": "return=minimal"}
    )
    assert created.status_code == 201
    assert created.get_data() == b""
    assert "Content-Type" not in created.headers
    assert created.headers["Location"]
    updated = fhir.put(
        f"Patient/{patient['id']}",
        {**patient, "gender": "male"},
        headers={"Prefer": "return=minimal"},
    )
    assert updated.status_code == 200 and updated.get_data() == b""
    assert "text/html" not in updated.headers.get("Content-Type", "")
    deleted = fhir.delete(f"Patient/{patient['id']}")
    assert deleted.status_code == 204 and "Content-Type" not in deleted.headers


# -- ids --------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path",
    [
        ("GET", "Patient/a%20b"),
        ("GET", "Patient/a%20b/_history"),
        ("GET", "Patient/a%20b/_history/1"),
        ("DELETE", "Patient/a%20b"),
        ("GET", "Patient/" + "x" * 65),
        ("GET", "Patient/caf%C3%A9"),
    ],
)
def test_an_invalid_id_is_400(fhir, method, path, snapshot):
    before = snapshot()
    body = assert_outcome(fhir.send(method, path), 400, "invalid")
    assert body["issue"][0]["expression"] == ["id"]
    assert snapshot() == before


def test_an_invalid_id_in_a_patch_is_400(fhir):
    ops = [{"op": "replace", "path": "/gender", "value": "male"}]
    assert_outcome(fhir.patch("Patient/a%20b", ops), 400, "invalid")


# -- paging links (http.html#paging) -------------------------------------------------------------
def _links(bundle: dict) -> dict[str, str]:
    return {link["relation"]: link["url"] for link in bundle["link"]}


def _ids(bundle: dict) -> list[str]:
    return [e["resource"]["id"] for e in bundle.get("entry", [])]


def _page(fhir, url: str) -> dict:
    path = urlsplit(url)
    return fhir.search(f"{path.path.removeprefix('/fhir/')}?{path.query}")


def test_first_and_last_links(fhir):
    made = [
        fhir.create({"resourceType": "Patient", "name": [{"family": f"Durand-{n}"}]})["id"]
        for n in range(7)
    ]
    page = fhir.search("Patient?family=Durand&_count=3")
    links = _links(page)
    assert {"self", "first", "last", "next"} <= set(links)
    assert "_cursor" not in parse_qs(urlsplit(links["first"]).query)
    assert _ids(_page(fhir, links["first"])) == made[:3]
    last = _page(fhir, links["last"])
    # The last page holds what paging forward would end with: 7 = 3 + 3 + 1.
    assert _ids(last) == made[6:]
    assert "next" not in _links(last)
    previous = _page(fhir, _links(last)["previous"])
    assert _ids(previous) == made[3:6]


def test_without_a_total_there_is_no_last_link(fhir):
    fhir.create({"resourceType": "Patient", "name": [{"family": "Petit"}]})
    links = _links(fhir.search("Patient?family=Petit&_total=none"))
    assert "first" in links and "last" not in links


def test_history_has_a_first_link(fhir, patient):
    fhir.put(f"Patient/{patient['id']}", {**patient, "gender": "male"})
    bundle = fhir.search(f"Patient/{patient['id']}/_history?_count=1")
    links = _links(bundle)
    assert "first" in links and "_cursor" not in links["first"]
