"""Paging through HTTP: https://hl7.org/fhir/R4/http.html#paging

Page links carry a keyset cursor: writes and deletes between page fetches neither repeat nor skip
the resources that existed when the walk started.
"""

from urllib.parse import urlsplit

import pytest

from tests.conftest import BASE, assert_outcome

# One record: a search across records sorts only by _id (README, "Indexes").
RECORD = "patient=Patient/pg"


def _doc(description=None, date=None):
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": "Patient/pg"},
        "content": [{"attachment": {"contentType": "text/plain", "url": "http://x/a"}}],
    }
    if description:
        doc["description"] = description
    if date:
        doc["date"] = date
    return doc


def _link(bundle, relation):
    url = next((lk["url"] for lk in bundle["link"] if lk["relation"] == relation), None)
    if url is None:
        return None
    assert url.startswith(f"{BASE}/")
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _ids(bundle):
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"]


@pytest.fixture
def docs(fhir):
    """23 documents: descriptions with ties and gaps, dates with ties and gaps."""
    assert fhir.put("Patient/pg", {"resourceType": "Patient", "id": "pg"}).status_code == 201
    out = []
    for i in range(23):
        description = None if i % 5 == 0 else f"doc {i % 4}"
        date = None if i % 7 == 0 else f"2024-01-{1 + i % 3:02d}T00:00:00Z"
        out.append(fhir.create(_doc(description, date))["id"])
    return out


def _walk(fhir, first_url, between=None):
    seen, pages, url = [], 0, first_url
    while url:
        bundle = fhir.search(url)
        seen += _ids(bundle)
        pages += 1
        if between:
            between(pages)
        url = _link(bundle, "next")
        assert pages < 50
    return seen, pages


@pytest.mark.parametrize(
    "sort",
    [
        "",
        "&_sort=-_id",
        "&_sort=description",
        "&_sort=-description,date",
        "&_sort=-date",
        "&_sort=_lastUpdated",
    ],
)
def test_walk_while_writing_and_deleting(fhir, docs, sort):
    created = []

    def write_meanwhile(page):
        created.append(fhir.create(_doc(f"doc {page % 4}", "2024-01-02T00:00:00Z"))["id"])
        created.append(fhir.create(_doc())["id"])

    seen, pages = _walk(fhir, f"DocumentReference?{RECORD}&_count=5{sort}", write_meanwhile)
    assert len(seen) == len(set(seen)), "a resource was returned twice"
    assert set(docs) <= set(seen), "a pre-existing resource was skipped"
    assert set(seen) <= set(docs) | set(created)
    assert pages >= 5


def test_deleting_seen_rows_does_not_shift_pages(fhir, docs):
    first = fhir.search(f"DocumentReference?{RECORD}&_count=5&_sort=description")
    for id in _ids(first):
        assert fhir.delete(f"DocumentReference/{id}").status_code in (200, 204)
    rest, _ = _walk(fhir, _link(first, "next"))
    assert sorted(rest + _ids(first)) == sorted(docs)


def test_pages_follow_the_sort_order(fhir, docs):
    all_at_once = _ids(
        fhir.search(f"DocumentReference?{RECORD}&_count=100&_sort=-description,date")
    )
    paged, _ = _walk(fhir, f"DocumentReference?{RECORD}&_count=4&_sort=-description,date")
    assert paged == all_at_once


def test_previous_goes_back(fhir, docs):
    url = f"DocumentReference?{RECORD}&_count=5&_sort=date"
    first = fhir.search(url)
    assert _link(first, "previous") is None
    second = fhir.search(_link(first, "next"))
    third = fhir.search(_link(second, "next"))
    assert _ids(fhir.search(_link(second, "self"))) == _ids(second)
    back = fhir.search(_link(third, "previous"))
    assert _ids(back) == _ids(second)
    again = fhir.search(_link(back, "previous"))
    assert _ids(again) == _ids(first)
    assert _link(again, "next")


def test_last_page_has_no_next(fhir, docs):
    bundle = fhir.search(f"DocumentReference?{RECORD}&_count=23")
    assert len(_ids(bundle)) == 23 and _link(bundle, "next") is None
    assert bundle["total"] == 23


def test_links_keep_the_search(fhir, docs):
    first = fhir.search(f"DocumentReference?{RECORD}&description=doc%201&_count=2")
    walked, _ = _walk(fhir, f"DocumentReference?{RECORD}&description=doc%201&_count=2")
    assert "description=doc+1" in _link(first, "next") or "description=doc%201" in _link(
        first, "next"
    )
    assert len(set(walked)) == len(walked) == first["total"] == 5


def test_tampered_cursor_is_400(fhir, docs):
    assert_outcome(fhir.get(f"DocumentReference?{RECORD}&_cursor=garbage"), 400)
    first = fhir.search(f"DocumentReference?{RECORD}&_count=5&_sort=-description,date")
    cursor = _link(first, "next").split("_cursor=")[1]
    changed = f"DocumentReference?{RECORD}&_count=5&_cursor={cursor}"
    assert_outcome(fhir.get(changed), 400)
