"""$validate on a type and on an instance over HTTP, with and without a profile.

https://hl7.org/fhir/R4/resource-operation-validate.html
"""

import copy

import pytest

import profiles
from tests.conftest import assert_outcome
from tests.profiles.conftest import load_example

PATIENT = {"resourceType": "Patient", "id": "v1", "gender": "female"}


def _document() -> dict:
    """The PDSm DocumentReference of the discharge letter example, as a resource of its own."""
    bundle = load_example("iti65-discharge-letter.json")
    return copy.deepcopy(bundle["entry"][1]["resource"])


def _issues(response) -> list[dict]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"]


def _errors(response) -> list[dict]:
    return [i for i in _issues(response) if i["severity"] in ("error", "fatal")]


def test_a_valid_resource_is_all_ok_and_nothing_is_stored(fhir, snapshot):
    before = snapshot()
    issues = _issues(fhir.post("Patient/$validate", PATIENT))
    assert [i["severity"] for i in issues] == ["information"]
    assert "All OK" in issues[0]["diagnostics"]
    assert snapshot() == before


def test_an_invalid_resource_answers_200_with_its_issues(fhir, snapshot):
    before = snapshot()
    errors = _errors(fhir.post("Patient/$validate", {**PATIENT, "gender": "sometimes"}))
    assert errors and errors[0]["expression"] == ["Patient.gender"]
    errors = _errors(fhir.post("Patient/$validate", {**PATIENT, "colour": "blue"}))
    assert errors and "colour" in errors[0]["diagnostics"]
    errors = _errors(fhir.post("Patient/$validate", {"resourceType": "Observation"}))
    assert errors and errors[0]["expression"] == ["resourceType"]
    assert snapshot() == before


def test_a_parameters_body_carries_the_resource_and_the_profile(fhir):
    document = _document()
    document.pop("meta", None)
    plain = {
        "resourceType": "Parameters",
        "parameter": [{"name": "resource", "resource": document}],
    }
    assert not _errors(fhir.post("DocumentReference/$validate", plain))
    del document["masterIdentifier"]
    with_profile = copy.deepcopy(plain)
    with_profile["parameter"].append({"name": "profile", "valueUri": profiles.DOCUMENT_REFERENCE})
    errors = _errors(fhir.post("DocumentReference/$validate", with_profile))
    assert any("masterIdentifier" in i["diagnostics"] for i in errors), errors
    # The same profile named in the query.
    query = f"DocumentReference/$validate?profile={profiles.DOCUMENT_REFERENCE}"
    assert _errors(fhir.post(query, document))


def test_a_profile_the_resource_claims_is_checked(fhir):
    document = _document()
    assert not _errors(fhir.post("DocumentReference/$validate", document))
    document["meta"] = {"profile": [profiles.DOCUMENT_REFERENCE]}
    del document["masterIdentifier"]
    assert _errors(fhir.post("DocumentReference/$validate", document))


def test_an_unknown_profile_or_mode_is_refused(fhir):
    assert_outcome(
        fhir.post("Patient/$validate?profile=http://example.org/StructureDefinition/x", PATIENT),
        400,
        "not-supported",
    )
    assert_outcome(fhir.post("Patient/$validate?mode=delete", PATIENT), 400, "not-supported")
    bare = {"resourceType": "Parameters", "parameter": []}
    assert_outcome(fhir.post("Patient/$validate", bare), 400)


def test_instance_validation_needs_a_visible_instance_and_its_id(fhir, snapshot):
    fhir.put("Patient/v1", PATIENT)
    before = snapshot()
    assert not _errors(fhir.post("Patient/v1/$validate", {**PATIENT, "gender": "male"}))
    errors = _errors(fhir.post("Patient/v1/$validate", {**PATIENT, "id": "v2"}))
    assert errors and errors[0]["expression"] == ["Patient.id"]
    assert_outcome(fhir.post("Patient/v9/$validate", {**PATIENT, "id": "v9"}), 404)
    assert snapshot() == before


@pytest.mark.parametrize(
    "scope, status",
    [("system/Patient.c", 200), ("system/Patient.r", 200), ("system/Observation.cruds", 403)],
)
def test_validation_needs_a_scope_on_the_type(client_for, scope, status):
    response = client_for(scope).post("Patient/$validate", PATIENT)
    assert response.status_code == status, response.get_data(as_text=True)
