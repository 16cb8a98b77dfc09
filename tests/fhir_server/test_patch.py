"""patch with JSON Patch through HTTP: https://hl7.org/fhir/R4/http.html#patch"""

import pytest

from tests.conftest import assert_outcome

PATIENT = {
    "resourceType": "Patient",
    "name": [{"family": "Petit", "given": ["Léa"]}],
    "gender": "female",
    "birthDate": "1990-05-04",
}


@pytest.fixture
def pid(fhir):
    return fhir.create(PATIENT)["id"]


def test_patch_applies_and_makes_a_version(fhir, pid):
    ops = [
        {"op": "test", "path": "/gender", "value": "female"},
        {"op": "replace", "path": "/birthDate", "value": "1991-05-04"},
        {"op": "add", "path": "/name/0/given/-", "value": "Anne"},
    ]
    response = fhir.patch(f"Patient/{pid}", ops)
    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"2"'
    body = response.get_json()
    assert body["birthDate"] == "1991-05-04"
    assert body["name"][0]["given"] == ["Léa", "Anne"]
    assert body["meta"]["versionId"] == "2"
    assert fhir.get(f"Patient/{pid}").get_json()["birthDate"] == "1991-05-04"
    history = fhir.get(f"Patient/{pid}/_history").get_json()
    assert len(history["entry"]) == 2


def test_patch_prefer_minimal(fhir, pid):
    ops = [{"op": "remove", "path": "/birthDate"}]
    response = fhir.patch(f"Patient/{pid}", ops, headers={"Prefer": "return=minimal"})
    assert response.status_code == 200
    assert response.get_data() == b""
    assert "birthDate" not in fhir.get(f"Patient/{pid}").get_json()


def test_failing_test_op_is_422_and_changes_nothing(fhir, pid, snapshot):
    before = snapshot()
    ops = [
        {"op": "replace", "path": "/gender", "value": "male"},
        {"op": "test", "path": "/birthDate", "value": "2000-01-01"},
    ]
    body = assert_outcome(fhir.patch(f"Patient/{pid}", ops), 422, "processing")
    assert "test" in body["issue"][0]["diagnostics"].lower()
    assert snapshot() == before
    assert fhir.get(f"Patient/{pid}").get_json()["gender"] == "female"


def test_conflicting_path_is_422(fhir, pid, snapshot):
    before = snapshot()
    ops = [{"op": "replace", "path": "/telecom/0/value", "value": "x"}]
    body = assert_outcome(fhir.patch(f"Patient/{pid}", ops), 422)
    assert "Petit" not in body["issue"][0]["diagnostics"]  # no echo of the stored resource
    assert snapshot() == before


@pytest.mark.parametrize(
    "ops",
    [
        {"op": "replace", "path": "/gender", "value": "male"},
        [{"op": "frobnicate", "path": "/gender"}],
        [{"path": "/gender", "value": "male"}],
        [{"op": "replace", "path": "gender", "value": "male"}],
        [{"op": "replace", "value": "male"}],
        ["not an operation"],
    ],
)
def test_invalid_patch_document_is_400(fhir, pid, snapshot, ops):
    before = snapshot()
    assert_outcome(fhir.patch(f"Patient/{pid}", ops), 400, "invalid")
    assert snapshot() == before


def test_malformed_patch_json_is_400(fhir, pid, snapshot):
    before = snapshot()
    assert_outcome(fhir.patch(f"Patient/{pid}", b"[{"), 400)
    assert snapshot() == before


def test_patch_making_resource_invalid_is_422(fhir, pid, snapshot):
    before = snapshot()
    ops = [{"op": "add", "path": "/colour", "value": "blue"}]
    body = assert_outcome(fhir.patch(f"Patient/{pid}", ops), 422, "structure")
    assert body["issue"][0]["expression"] == ["Patient.colour"]
    ops = [{"op": "replace", "path": "/gender", "value": "bogus"}]
    body = assert_outcome(fhir.patch(f"Patient/{pid}", ops), 422)
    assert body["issue"][0]["expression"] == ["Patient.gender"]
    ops = [{"op": "replace", "path": "/id", "value": "another"}]
    assert_outcome(fhir.patch(f"Patient/{pid}", ops), 422)
    ops = [{"op": "replace", "path": "", "value": [1]}]
    assert_outcome(fhir.patch(f"Patient/{pid}", ops), 422)
    assert snapshot() == before


def test_patch_needs_a_patch_media_type(fhir, pid, snapshot):
    before = snapshot()
    ops = [{"op": "remove", "path": "/birthDate"}]
    response = fhir.patch(f"Patient/{pid}", ops, content_type="text/plain")
    assert_outcome(response, 415, "not-supported")
    # application/fhir+json carries a FHIRPath Patch (a Parameters), not a JSON Patch array.
    response = fhir.patch(f"Patient/{pid}", ops, content_type="application/fhir+json")
    assert_outcome(response, 400, "invalid")
    assert snapshot() == before


def test_patch_if_match(fhir, pid, snapshot):
    before = snapshot()
    ops = [{"op": "remove", "path": "/birthDate"}]
    stale = fhir.patch(f"Patient/{pid}", ops, headers={"If-Match": 'W/"4"'})
    assert_outcome(stale, 412, "conflict")
    assert snapshot() == before
    assert fhir.patch(f"Patient/{pid}", ops, headers={"If-Match": 'W/"1"'}).status_code == 200


def test_patch_unknown_and_deleted(fhir, pid):
    ops = [{"op": "remove", "path": "/birthDate"}]
    assert_outcome(fhir.patch("Patient/nobody", ops), 404, "not-found")
    fhir.delete(f"Patient/{pid}")
    assert_outcome(fhir.patch(f"Patient/{pid}", ops), 410)


@pytest.mark.parametrize(
    "ops",
    [
        [],
        [{"op": "replace", "path": "/gender", "value": "female"}],
        [{"op": "test", "path": "/birthDate", "value": "1990-05-04"}],
        [
            {"op": "add", "path": "/active", "value": True},
            {"op": "remove", "path": "/active"},
        ],
    ],
)
def test_a_patch_that_changes_nothing_makes_no_version(fhir, pid, snapshot, ops):
    before = snapshot()
    response = fhir.patch(f"Patient/{pid}", ops)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["ETag"] == 'W/"1"'
    assert response.get_json()["meta"]["versionId"] == "1"
    assert len(fhir.get(f"Patient/{pid}/_history").get_json()["entry"]) == 1
    assert snapshot() == before
