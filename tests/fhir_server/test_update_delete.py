"""update (PUT) and delete through HTTP: https://hl7.org/fhir/R4/http.html#update, #delete"""

from tests.conftest import assert_outcome

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "280126955598241"}],
    "name": [{"family": "Durand", "given": ["Paul"]}],
    "gender": "male",
}


def _body(resource):
    return {k: v for k, v in resource.items() if k not in ("id", "meta")}


def test_create_through_update_201_then_200(fhir):
    first = fhir.put("Patient/p-1", {**PATIENT, "id": "p-1"})
    assert first.status_code == 201
    assert first.headers["ETag"] == 'W/"1"'
    assert first.headers["Location"].endswith("/fhir/Patient/p-1/_history/1")
    assert first.get_json()["meta"]["versionId"] == "1"
    second = fhir.put("Patient/p-1", {**PATIENT, "id": "p-1", "gender": "other"})
    assert second.status_code == 200
    assert second.headers["ETag"] == 'W/"2"'
    assert second.headers["Content-Location"].endswith("/fhir/Patient/p-1/_history/2")
    assert "Last-Modified" in second.headers
    assert second.get_json()["gender"] == "other"
    read = fhir.get("Patient/p-1")
    assert read.get_json()["gender"] == "other"
    assert read.headers["ETag"] == 'W/"2"'
    assert fhir.get("Patient/p-1/_history/1").get_json()["gender"] == "male"


def test_update_id_mismatch_and_missing_are_400_and_change_nothing(fhir, snapshot):
    fhir.put("Patient/p-2", {**PATIENT, "id": "p-2"})
    before = snapshot()
    body = assert_outcome(fhir.put("Patient/p-2", {**PATIENT, "id": "other"}), 400, "invalid")
    assert body["issue"][0]["expression"] == ["Patient.id"]
    assert_outcome(fhir.put("Patient/p-2", PATIENT), 400, "invalid")
    assert_outcome(fhir.put("Patient/not_valid!", {**PATIENT, "id": "not_valid!"}), 400)
    assert snapshot() == before


def test_update_if_match(fhir, snapshot):
    fhir.put("Patient/p-3", {**PATIENT, "id": "p-3"})
    fhir.put("Patient/p-3", {**PATIENT, "id": "p-3", "gender": "female"})
    before = snapshot()
    stale = fhir.put("Patient/p-3", {**PATIENT, "id": "p-3"}, headers={"If-Match": 'W/"1"'})
    body = assert_outcome(stale, 412, "conflict")
    assert "version" in body["issue"][0]["diagnostics"]
    assert snapshot() == before
    fresh = fhir.put("Patient/p-3", {**PATIENT, "id": "p-3"}, headers={"If-Match": 'W/"2"'})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == 'W/"3"'
    bad = fhir.put("Patient/p-3", {**PATIENT, "id": "p-3"}, headers={"If-Match": "yesterday"})
    assert_outcome(bad, 400)


def test_update_if_match_on_absent_resource_is_412(fhir, snapshot):
    before = snapshot()
    response = fhir.put(
        "Patient/nobody", {**PATIENT, "id": "nobody"}, headers={"If-Match": 'W/"1"'}
    )
    assert_outcome(response, 412)
    assert snapshot() == before


def test_prefer_return(fhir):
    fhir.put("Patient/p-4", {**PATIENT, "id": "p-4"})
    minimal = fhir.put(
        "Patient/p-4",
        {**PATIENT, "id": "p-4", "active": True},
        headers={"Prefer": "return=minimal"},
    )
    assert minimal.status_code == 200
    assert minimal.get_data() == b""
    assert minimal.headers["ETag"] == 'W/"2"'
    rep = fhir.put(
        "Patient/p-4", {**PATIENT, "id": "p-4"}, headers={"Prefer": "return=representation"}
    )
    assert _body(rep.get_json()) == PATIENT
    outcome = fhir.put(
        "Patient/p-4", {**PATIENT, "id": "p-4"}, headers={"Prefer": "return=OperationOutcome"}
    )
    assert outcome.status_code == 200
    body = outcome.get_json()
    assert body["resourceType"] == "OperationOutcome"
    assert body["issue"][0]["severity"] == "information"
    created = fhir.post("Patient", PATIENT, headers={"Prefer": "return=minimal"})
    assert created.status_code == 201
    assert created.get_data() == b""
    assert "/fhir/Patient/" in created.headers["Location"]


def test_update_invalid_resource_is_422_and_changes_nothing(fhir, snapshot):
    fhir.put("Patient/p-5", {**PATIENT, "id": "p-5"})
    before = snapshot()
    body = assert_outcome(fhir.put("Patient/p-5", {**PATIENT, "id": "p-5", "gender": 3}), 422)
    assert body["issue"][0]["expression"] == ["Patient.gender"]
    assert snapshot() == before


def test_delete_then_read_is_410_and_versions_kept(fhir):
    created = fhir.create(PATIENT)
    pid = created["id"]
    deleted = fhir.delete(f"Patient/{pid}")
    assert deleted.status_code in (200, 204)
    assert deleted.headers["ETag"] == 'W/"2"'
    assert_outcome(fhir.get(f"Patient/{pid}"), 410, "deleted")
    old = fhir.get(f"Patient/{pid}/_history/1")
    assert old.status_code == 200
    assert _body(old.get_json()) == PATIENT
    assert_outcome(fhir.get(f"Patient/{pid}/_history/2"), 410)
    history = fhir.get(f"Patient/{pid}/_history").get_json()
    entries = history["entry"]
    assert [e["request"]["method"] for e in entries] == ["DELETE", "POST"]
    assert entries[0]["response"]["status"].startswith("410")
    assert pid not in fhir.ids("Patient")


def test_delete_twice_and_unknown_are_ok(fhir):
    pid = fhir.create(PATIENT)["id"]
    assert fhir.delete(f"Patient/{pid}").status_code in (200, 204)
    assert fhir.delete(f"Patient/{pid}").status_code in (200, 204)
    assert fhir.delete("Patient/never-was").status_code in (200, 204)
    assert len(fhir.get(f"Patient/{pid}/_history").get_json()["entry"]) == 2


def test_update_after_delete_recreates_with_next_version(fhir):
    fhir.put("Patient/p-6", {**PATIENT, "id": "p-6"})
    fhir.delete("Patient/p-6")
    again = fhir.put("Patient/p-6", {**PATIENT, "id": "p-6"})
    assert again.status_code == 201
    assert again.get_json()["meta"]["versionId"] == "3"
    assert fhir.get("Patient/p-6").status_code == 200


def test_delete_if_match(fhir, snapshot):
    fhir.put("Patient/p-7", {**PATIENT, "id": "p-7"})
    before = snapshot()
    assert_outcome(fhir.delete("Patient/p-7", headers={"If-Match": 'W/"9"'}), 412, "conflict")
    assert snapshot() == before
    assert fhir.delete("Patient/p-7", headers={"If-Match": 'W/"1"'}).status_code in (200, 204)
    assert_outcome(fhir.get("Patient/p-7"), 410)


def test_delete_unknown_type_is_404(fhir):
    assert_outcome(fhir.delete("Spaceship/1"), 404)


def test_an_update_identical_to_the_current_version_makes_no_version(fhir, snapshot):
    """As HAPI FHIR does: the current version answers, unchanged (meta.versionId/lastUpdated aside)."""
    patient = {"resourceType": "Patient", "id": "same", "name": [{"family": "Roux"}]}
    assert fhir.put("Patient/same", patient).status_code == 201
    current = fhir.get("Patient/same").get_json()
    before = snapshot()
    for body in (patient, current, {**current, "meta": {"versionId": "7"}}):
        response = fhir.put("Patient/same", body)
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.headers["ETag"] == 'W/"1"'
        assert response.get_json() == current
    assert snapshot() == before
    assert len(fhir.get("Patient/same/_history").get_json()["entry"]) == 1
    tagged = {**patient, "meta": {"tag": [{"system": "http://example.org", "code": "t"}]}}
    assert fhir.put("Patient/same", tagged).headers["ETag"] == 'W/"2"'


def test_a_decimal_written_with_other_digits_is_a_change(fhir):
    def weight(value: str) -> bytes:
        return (
            b'{"resourceType": "Observation", "id": "w", "status": "final", "code": {"text": "w"},'
            b' "valueQuantity": {"value": %s}}' % value.encode()
        )

    assert fhir.put("Observation/w", weight("72.5")).status_code == 201
    assert fhir.put("Observation/w", weight("72.5")).headers["ETag"] == 'W/"1"'
    assert fhir.put("Observation/w", weight("72.50")).headers["ETag"] == 'W/"2"'
    assert b'"value":72.50' in fhir.get("Observation/w").data
