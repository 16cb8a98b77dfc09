"""Formats, _pretty, _summary and _elements: https://hl7.org/fhir/R4/http.html#mime-type"""

import json

import pytest

from fhir_server.shaping import SUBSETTED

PATIENT = {
    "resourceType": "Patient",
    "text": {
        "status": "generated",
        "div": '<div xmlns="http://www.w3.org/1999/xhtml">Lefèvre</div>',
    },
    "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "f1"}],
    "name": [{"family": "Lefèvre"}],
    "gender": "female",
    "birthDate": "1970-02-03",
    "maritalStatus": {"text": "married"},
}


@pytest.fixture
def pid(fhir):
    return fhir.create(PATIENT)["id"]


def test_application_json_accepted_and_answered(fhir):
    response = fhir.post("Patient", PATIENT, content_type="application/json; charset=utf-8")
    assert response.status_code == 201
    read = fhir.get(f"Patient/{response.get_json()['id']}", headers={"Accept": "application/json"})
    assert read.headers["Content-Type"].startswith("application/json")
    assert read.get_json()["name"] == PATIENT["name"]


@pytest.mark.parametrize(
    "query, accept, expected",
    [
        ("", "application/fhir+json", "application/fhir+json"),
        ("", "*/*", "application/fhir+json"),
        ("", "", "application/fhir+json"),
        ("?_format=json", "application/fhir+xml", "application/fhir+json"),
        ("?_format=application/fhir%2Bjson", "", "application/fhir+json"),
        ("?_format=application/json", "", "application/json"),
        ("", "application/fhir+xml;q=0.9, application/fhir+json;q=0.8", "application/fhir+json"),
    ],
)
def test_content_negotiation(fhir, pid, query, accept, expected):
    headers = {"Accept": accept} if accept else {}
    response = fhir.get(f"Patient/{pid}{query}", headers=headers)
    assert response.status_code == 200
    assert response.headers["Content-Type"].split(";")[0] == expected
    assert "charset=utf-8" in response.headers["Content-Type"]
    assert response.get_json()["id"] == pid


def test_pretty(fhir, pid):
    pretty = fhir.get(f"Patient/{pid}?_pretty=true").get_data(as_text=True)
    assert "\n  " in pretty
    assert json.loads(pretty)["id"] == pid
    compact = fhir.get(f"Patient/{pid}").get_data(as_text=True)
    assert "\n" not in compact
    assert "Lefèvre" in compact  # UTF-8, not \\u escapes


def test_summary_true_subsets_and_tags(fhir, pid):
    body = fhir.get(f"Patient/{pid}?_summary=true").get_json()
    assert body["id"] == pid
    assert "text" not in body
    assert "maritalStatus" not in body
    assert body["name"] == PATIENT["name"]
    assert SUBSETTED in body["meta"]["tag"]
    assert body["meta"]["versionId"] == "1"


def test_summary_text_and_data(fhir, pid):
    text = fhir.get(f"Patient/{pid}?_summary=text").get_json()
    assert set(text) == {"resourceType", "id", "meta", "text"}
    assert SUBSETTED in text["meta"]["tag"]
    data = fhir.get(f"Patient/{pid}?_summary=data").get_json()
    assert "text" not in data
    assert data["maritalStatus"] == PATIENT["maritalStatus"]
    assert SUBSETTED in data["meta"]["tag"]


def test_summary_false_is_whole_resource_untagged(fhir, pid):
    body = fhir.get(f"Patient/{pid}?_summary=false").get_json()
    assert body["text"] == PATIENT["text"]
    assert "tag" not in body["meta"]


def test_elements_subsets_and_tags(fhir, pid):
    body = fhir.get(f"Patient/{pid}?_elements=gender,birthDate").get_json()
    assert set(body) == {"resourceType", "id", "meta", "gender", "birthDate"}
    assert SUBSETTED in body["meta"]["tag"]
    assert fhir.get(f"Patient/{pid}").get_json().get("meta", {}).get("tag") is None


def test_subsetting_does_not_touch_the_store(fhir, pid):
    fhir.get(f"Patient/{pid}?_elements=gender")
    assert fhir.get(f"Patient/{pid}").get_json()["name"] == PATIENT["name"]
    history = fhir.get(f"Patient/{pid}/_history").get_json()
    assert "tag" not in history["entry"][0]["resource"]["meta"]


def test_prefer_representation_in_json(fhir):
    response = fhir.post("Patient", PATIENT, headers={"Prefer": "return=representation"})
    assert response.status_code == 201
    assert response.get_json()["gender"] == "female"
