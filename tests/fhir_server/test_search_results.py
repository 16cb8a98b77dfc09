"""Result control through HTTP: https://hl7.org/fhir/R4/search.html#return

_count, _sort, _total, _summary, _elements, _include, _revinclude, POST _search and unknown
parameters.
"""

from dataclasses import replace
from urllib.parse import parse_qsl, urlsplit

import pytest

from tests.conftest import assert_outcome


def _doc(subject=None, author=None, date=None, description=None, status="current"):
    doc = {
        "resourceType": "DocumentReference",
        "status": status,
        "content": [{"attachment": {"contentType": "text/plain", "url": "http://x/a"}}],
    }
    if subject:
        doc["subject"] = {"reference": subject}
    if author:
        doc["author"] = [{"reference": author}]
    if date:
        doc["date"] = date
    if description:
        doc["description"] = description
    return doc


def _matches(bundle, mode="match"):
    return [e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == mode]


def _link(bundle, relation):
    return next((lk["url"] for lk in bundle["link"] if lk["relation"] == relation), None)


@pytest.fixture
def many(fhir):
    return [
        fhir.create({"resourceType": "Practitioner", "active": i % 2 == 0})["id"] for i in range(25)
    ]


def test_default_count_and_total(fhir, many):
    bundle = fhir.search("Practitioner")
    assert bundle["type"] == "searchset"
    assert bundle["total"] == 25
    assert len(_matches(bundle)) == 20
    assert _link(bundle, "next")


def test_count_is_capped_by_max_count(fhir, many):
    bundle = fhir.search("Practitioner?_count=1000")
    assert len(_matches(bundle)) == 25
    assert _link(bundle, "next") is None
    assert_outcome(fhir.get("Practitioner?_count=-1"), 400)
    assert_outcome(fhir.get("Practitioner?_count=ten"), 400)


class TestConfiguredLimits:
    @pytest.fixture
    def settings(self, settings):
        return replace(settings, default_count=4, max_count=7)

    def test_default_and_max_count_come_from_settings(self, fhir, many):
        assert len(_matches(fhir.search("Practitioner"))) == 4
        capped = fhir.search("Practitioner?_count=100")
        assert len(_matches(capped)) == 7 and _link(capped, "next")
        assert len(_matches(fhir.search("Practitioner?_count=6"))) == 6


def test_count_zero_gives_total_only(fhir, many):
    bundle = fhir.search("Practitioner?_count=0&active=true")
    assert bundle["total"] == 13
    assert "entry" not in bundle


def test_total_modes(fhir, many):
    assert "total" not in fhir.search("Practitioner?_total=none")
    assert fhir.search("Practitioner?_total=estimate")["total"] >= 20
    assert fhir.search("Practitioner?_total=accurate&active=false")["total"] == 12
    assert_outcome(fhir.get("Practitioner?_total=some"), 400)


def test_summary_count_and_true(fhir):
    made = fhir.create(_doc(description="Compte rendu", date="2024-01-02T10:00:00Z"))
    fhir.create(_doc(status="superseded"))
    bundle = fhir.search("DocumentReference?_summary=count&status=current")
    assert bundle["total"] == 1 and "entry" not in bundle
    marital = {"coding": [{"code": "M"}]}
    patient = fhir.create({"resourceType": "Patient", "gender": "male", "maritalStatus": marital})
    summary = fhir.search("Patient?_summary=true")["entry"][0]["resource"]
    assert summary["id"] == patient["id"]
    assert "maritalStatus" not in summary and summary["gender"] == "male"
    assert fhir.search(f"DocumentReference?_id={made['id']}")["entry"][0]["resource"]["content"]
    assert any(t["code"] == "SUBSETTED" for t in summary["meta"]["tag"])
    assert_outcome(fhir.get("DocumentReference?_summary=maybe"), 400)


def test_elements(fhir):
    fhir.create(_doc(description="Compte rendu", date="2024-01-02T10:00:00Z"))
    resource = fhir.search("DocumentReference?_elements=description")["entry"][0]["resource"]
    assert resource["description"] == "Compte rendu"
    assert "status" not in resource and "content" not in resource and resource["id"]


def test_sort_keys_and_direction(fhir):
    # In one record: across records a search sorts only by _id (README, "Indexes").
    assert fhir.put("Patient/ps", {"resourceType": "Patient", "id": "ps"}).status_code == 201
    made = {
        name: fhir.create(_doc("Patient/ps", date=date, description=desc))["id"]
        for name, date, desc in [
            ("a", "2024-01-01T00:00:00Z", "beta"),
            ("b", "2023-01-01T00:00:00Z", "alpha"),
            ("c", "2024-01-01T00:00:00Z", "alpha"),
            ("d", None, "gamma"),
        ]
    }
    order = lambda q: [  # noqa: E731
        {v: k for k, v in made.items()}[i]
        for i in fhir.ids(f"DocumentReference?patient=Patient/ps&{q}")
    ]
    assert order("_sort=description,date") == ["b", "c", "a", "d"]
    assert order("_sort=-description,-date") == ["d", "a", "c", "b"]
    assert order("_sort=date,description")[-3:] == ["b", "c", "a"]
    assert order("_sort=-date,description")[:3] == ["c", "a", "b"]
    assert order("_sort=_lastUpdated") == ["a", "b", "c", "d"]
    assert order("_sort=-_lastUpdated") == ["d", "c", "b", "a"]
    assert_outcome(fhir.get("DocumentReference?patient=Patient/ps&_sort=shoesize"), 400)
    assert_outcome(fhir.get("DocumentReference?status=current&_sort=date"), 400, "too-costly")


def test_sort_without_filter_only_by_id_or_last_updated(fhir, many):
    assert fhir.ids("Practitioner?_sort=-_lastUpdated&_count=3") == many[::-1][:3]
    assert_outcome(fhir.get("Practitioner?_sort=active"), 400, "too-costly")


@pytest.fixture
def chart(fhir):
    org = fhir.create({"resourceType": "Organization", "name": "CHU"})["id"]
    doctor = fhir.create({"resourceType": "Practitioner", "active": True})["id"]
    role = fhir.create(
        {
            "resourceType": "PractitionerRole",
            "practitioner": {"reference": f"Practitioner/{doctor}"},
            "organization": {"reference": f"Organization/{org}"},
        }
    )["id"]
    ann = fhir.create({"resourceType": "Patient", "gender": "female"})["id"]
    bob = fhir.create({"resourceType": "Patient", "gender": "male"})["id"]
    doc1 = fhir.create(_doc(f"Patient/{ann}", f"PractitionerRole/{role}"))["id"]
    doc2 = fhir.create(_doc(f"Patient/{ann}", f"Practitioner/{doctor}"))["id"]
    return dict(org=org, doctor=doctor, role=role, ann=ann, bob=bob, doc1=doc1, doc2=doc2)


def test_include_subject_and_author(fhir, chart):
    bundle = fhir.search(
        f"DocumentReference?_id={chart['doc1']}&_include=DocumentReference:subject"
        "&_include=DocumentReference:author"
    )
    assert _matches(bundle) == [chart["doc1"]]
    assert sorted(_matches(bundle, "include")) == sorted([chart["ann"], chart["role"]])
    assert bundle["total"] == 1


def test_include_with_target_type(fhir, chart):
    bundle = fhir.search("DocumentReference?_include=DocumentReference:author:Practitioner")
    assert _matches(bundle, "include") == [chart["doctor"]]


def test_include_iterate(fhir, chart):
    bundle = fhir.search(
        f"DocumentReference?_id={chart['doc1']}&_include=DocumentReference:author"
        "&_include:iterate=PractitionerRole:organization"
    )
    assert sorted(_matches(bundle, "include")) == sorted([chart["role"], chart["org"]])
    plain = fhir.search(
        f"DocumentReference?_id={chart['doc1']}&_include=DocumentReference:author"
        "&_include=PractitionerRole:organization"
    )
    assert _matches(plain, "include") == [chart["role"]]


def test_revinclude(fhir, chart):
    bundle = fhir.search(
        f"Patient?_id={chart['ann']},{chart['bob']}&gender=male,female"
        "&_revinclude=DocumentReference:subject&_sort=gender"
    )
    assert _matches(bundle) == [chart["ann"], chart["bob"]]
    assert sorted(_matches(bundle, "include")) == sorted([chart["doc1"], chart["doc2"]])
    assert bundle["total"] == 2


def test_revinclude_iterate(fhir, chart):
    bundle = fhir.search(
        f"Patient?_id={chart['ann']}&_revinclude=DocumentReference:subject"
        "&_include:iterate=DocumentReference:author&_revinclude:iterate=PractitionerRole:practitioner"
    )
    expected = [chart["doc1"], chart["doc2"], chart["role"], chart["doctor"]]
    assert sorted(_matches(bundle, "include")) == sorted(expected)


def test_bad_include_is_400(fhir, chart):
    assert_outcome(fhir.get("DocumentReference?_include=DocumentReference:status"), 400)
    assert_outcome(fhir.get("DocumentReference?_include=subject"), 400)


def test_post_search_with_form_body(fhir, chart):
    response = fhir.post(
        "DocumentReference/_search",
        f"subject=Patient/{chart['ann']}&_include=DocumentReference:subject",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    bundle = response.get_json()
    assert sorted(_matches(bundle)) == sorted([chart["doc1"], chart["doc2"]])
    assert _matches(bundle, "include") == [chart["ann"]]
    wrong = fhir.post("DocumentReference/_search", {"subject": "x"})
    assert_outcome(wrong, 415)


def test_unknown_parameter_is_reported_and_ignored(fhir, chart):
    bundle = fhir.search("Patient?shoesize=42&gender=male")
    assert _matches(bundle) == [chart["bob"]]
    outcome = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(outcome) == 1
    issue = outcome[0]["resource"]["issue"][0]
    assert issue["severity"] == "warning" and "shoesize" in issue["diagnostics"]
    self_params = dict(parse_qsl(urlsplit(_link(bundle, "self")).query))
    assert self_params == {"gender": "male"}


def test_unknown_parameter_refused_when_strict(fhir, chart):
    response = fhir.get("Patient?shoesize=42", headers={"Prefer": "handling=strict"})
    body = assert_outcome(response, 400)
    assert "shoesize" in str(body)
    lenient = fhir.get("Patient?shoesize=42", headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
    both = {"Prefer": "return=minimal, handling=strict"}
    assert_outcome(fhir.get("Patient?shoesize=42", headers=both), 400)
    posted = fhir.post(
        "Patient/_search",
        "shoesize=42",
        content_type="application/x-www-form-urlencoded",
        headers={"Prefer": "handling=strict"},
    )
    assert_outcome(posted, 400)


def test_unknown_modifier_is_400(fhir, chart):
    assert_outcome(fhir.get("Patient?gender:exact=male"), 400)
    assert_outcome(fhir.get("Patient?family:below=x"), 400)
    assert_outcome(fhir.get("DocumentReference?subject:above=Patient/1"), 400)


class TestWhatATotalCosts:
    """Bundle.total is counted when asked (`_total=accurate`) or when the matches are few; a
    search over more than TOTAL_COUNT_LIMIT matches leaves it out and says so in an outcome."""

    @pytest.fixture(autouse=True)
    def small_limit(self, monkeypatch):
        from fhir_server.search import engine

        monkeypatch.setattr(engine, "TOTAL_COUNT_LIMIT", 10)

    def test_a_large_total_is_left_out_and_the_bundle_says_so(self, fhir, many):
        bundle = fhir.search("Practitioner")
        assert "total" not in bundle and len(_matches(bundle)) == 20
        outcome = _outcomes(bundle)
        assert outcome and "_total=accurate" in outcome[0]["diagnostics"]
        assert outcome[0]["severity"] == "information"
        second = fhir.search(_link(bundle, "next").split("/fhir/", 1)[1])
        assert "total" not in second

    def test_asked_or_few_it_is_counted(self, fhir, many):
        assert fhir.search("Practitioner?_total=accurate")["total"] == 25
        whole = fhir.search("Practitioner?_count=30")  # every match on the first page
        assert whole["total"] == 25 and not _outcomes(whole)
        assert "total" not in fhir.search("Practitioner?_total=none&_count=30")
        few = fhir.search("Practitioner?active=true&_count=5&_total=estimate")
        assert few.get("total") is None  # 13 matches: more than the limit of 10

    def test_one_records_total_is_counted_up_to_the_limit(self, fhir):
        patient = fhir.create({"resourceType": "Patient"})["id"]
        for n in range(12):
            fhir.create(_doc(subject=f"Patient/{patient}", description=f"note {n}"))
        search = f"DocumentReference?patient=Patient/{patient}&_count=5"
        assert "total" not in fhir.search(search)
        assert fhir.search(search + "&_total=accurate")["total"] == 12
        whole = f"DocumentReference?patient=Patient/{patient}&status=current&_count=20"
        assert fhir.search(whole)["total"] == 12


def _outcomes(bundle) -> list[dict]:
    return [
        issue
        for e in bundle.get("entry", [])
        if e["search"]["mode"] == "outcome"
        for issue in e["resource"]["issue"]
    ]
