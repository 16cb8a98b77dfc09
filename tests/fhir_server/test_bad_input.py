"""Input that once broke the server: each is answered 4xx with an OperationOutcome, never a 5xx.

https://hl7.org/fhir/R4/http.html#general, https://hl7.org/fhir/R4/json.html
"""

import json
from pathlib import Path

import pytest

from tests.conftest import assert_outcome

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"
PATIENT = {"resourceType": "Patient", "name": [{"family": "Roux"}]}
ROLE = {
    "resourceType": "PractitionerRole",
    "active": True,
    "code": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.5", "code": "10"}]}],
}


def _bundle(kind: str, *resources) -> dict:
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {"resource": r, "request": {"method": "POST", "url": r["resourceType"]}}
            for r in resources
        ],
    }


@pytest.mark.parametrize("kind", ["transaction", "batch"])
def test_a_resource_whose_code_is_a_list_goes_through_bundles(fhir, kind):
    response = fhir.post("/fhir", _bundle(kind, ROLE, PATIENT))
    assert response.status_code == 200, response.get_data(as_text=True)
    statuses = [e["response"]["status"] for e in response.get_json()["entry"]]
    assert statuses == ["201 Created", "201 Created"]


def test_the_demo_directory_posts_as_a_transaction(fhir):
    response = fhir.post("/fhir", (DEMO / "01-directory.json").read_bytes())
    assert response.status_code == 200, response.get_data(as_text=True)
    assert fhir.search("PractitionerRole")["total"] > 0


@pytest.mark.parametrize(
    "resource, expression",
    [
        ({**PATIENT, "meta": None}, "Patient.meta"),
        (
            {**PATIENT, "contained": [{"resourceType": "Spaceship", "id": "s"}]},
            "Patient.contained[0]",
        ),
        (
            {
                "resourceType": "Observation",
                "status": "final",
                "code": {"text": "weight"},
                "effectivePeriod": {"start": 1700000000},
            },
            "Observation.effectivePeriod.start",
        ),
        ({**PATIENT, "name": [{"period": {"end": 2024}}]}, "Patient.name[0].period.end"),
    ],
)
def test_malformed_elements_are_422_naming_them(fhir, snapshot, resource, expression):
    before = snapshot()
    body = assert_outcome(fhir.post(resource["resourceType"], resource), 422)
    assert [expression] in [i.get("expression") for i in body["issue"]], body
    assert snapshot() == before


@pytest.mark.parametrize(
    "number",
    [b"9" * 5000, b"-" + b"1" * 4301, b"1" * 5000 + b".5", b"1e999999", b"1" * 40 + b".0"],
)
def test_numbers_too_large_to_keep_are_refused(fhir, snapshot, number):
    before = snapshot()
    for element in (b"multipleBirthInteger", b"extension"):
        if element == b"extension":
            body = b'{"resourceType":"Patient","extension":[{"url":"http://x","valueDecimal":%s}]}'
        else:
            body = b'{"resourceType":"Patient","multipleBirthInteger":%s}'
        response = fhir.post("Patient", body % number)
        assert response.status_code in (400, 422), response.get_data(as_text=True)
        assert_outcome(response, response.status_code)
    assert snapshot() == before


def _nested_extensions(depth: int) -> str:
    """A Patient whose extension nests `depth` levels (as text: json.dumps would recurse)."""
    leaf = '{"url": "http://example.org/leaf", "valueString": "x"}'
    level = '{"url": "http://example.org/level", "extension": ['
    extension = level * depth + leaf + "]}" * depth
    return f'{{"resourceType": "Patient", "extension": [{extension}]}}'


@pytest.mark.parametrize("depth", [60, 400, 2000])
def test_deeply_nested_json_is_refused_at_parse_time(fhir, snapshot, depth):
    before = snapshot()
    body = assert_outcome(fhir.post("Patient", _nested_extensions(depth)), 400)
    assert "nested" in body["issue"][0]["diagnostics"]
    entry = f'{{"resource": {_nested_extensions(depth)}, "request": {{"method": "POST", "url": "Patient"}}}}'
    bundle = f'{{"resourceType": "Bundle", "type": "transaction", "entry": [{entry}]}}'
    assert_outcome(fhir.post("/fhir", bundle), 400)
    assert snapshot() == before


def test_reasonably_nested_extensions_are_kept(fhir):
    created = fhir.create(json.loads(_nested_extensions(10)))
    assert fhir.get(f"Patient/{created['id']}").get_json()["extension"] == created["extension"]


@pytest.mark.parametrize(
    "text",
    [
        b'{"resourceType": "Patient", "gender": "\\udc80"}',
        b'{"resourceType": "Patient", "\\ud800": 1}',
        b'{"resourceType": "Patient", "contained": [{"resourceType": "\\udfff"}]}',
        b'{"resourceType": "Bundle", "type": "batch", "entry": '
        b'[{"request": {"method": "GET", "url": "Patient?\\ud83d=1"}}]}',
    ],
)
def test_lone_surrogates_are_not_unicode(fhir, snapshot, text):
    before = snapshot()
    url = "/fhir" if b"Bundle" in text else "Patient"
    body = assert_outcome(fhir.post(url, text), 400)
    assert "surrogate" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_surrogate_pairs_are_unicode(fhir):
    created = fhir.create({**PATIENT, "name": [{"family": "Roux \U0001f600"}]})
    assert created["name"][0]["family"].endswith("\U0001f600")


@pytest.mark.parametrize("element", ["code", "type", "subject"])
def test_an_mhd_push_with_a_malformed_element_is_422(fhir, snapshot, element):
    """The PDSm checks read elements as FHIR types them: the JSON is checked before them."""
    bundle = json.loads((DEMO.parent / "mhd" / "iti65-lab-report.json").read_text())
    for entry in bundle["entry"]:
        if element in entry["resource"]:
            entry["resource"][element] = [entry["resource"][element]]
    before = snapshot()
    body = assert_outcome(fhir.post("/fhir", bundle), 422)
    assert body["issue"][0]["expression"][0].endswith(f".resource.{element}"), body
    assert snapshot() == before
