"""Bulk Data export over HTTP: kick-off, status, manifest, files, cancellation, who may.

https://hl7.org/fhir/uv/bulkdata/export.html
"""

import json
import time

import pytest

from tests.conftest import assert_outcome

ASYNC = {"Prefer": "respond-async", "Accept": "application/fhir+json"}


def observation(patient: str, text: str) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": text},
        "subject": {"reference": f"Patient/{patient}"},
    }


@pytest.fixture
def records(fhir):
    for pid in ("x1", "x2"):
        fhir.put(f"Patient/{pid}", {"resourceType": "Patient", "id": pid})
    fhir.put("Practitioner/xdr", {"resourceType": "Practitioner", "id": "xdr"})
    ids = {"x1": [fhir.create(observation("x1", f"o{n}"))["id"] for n in range(3)]}
    ids["x2"] = [fhir.create(observation("x2", "o"))["id"]]
    return ids


def kick_off(client, url: str, headers=ASYNC) -> str:
    response = client.get(url, headers=headers)
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.headers["Content-Location"].removeprefix("http://testserver")


def manifest(client, status_url: str) -> dict:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        response = client.get(status_url)
        if response.status_code == 200:
            assert response.mimetype == "application/json"
            return response.get_json()
        assert response.status_code == 202, response.get_data(as_text=True)
        assert response.headers["X-Progress"] and response.headers["Retry-After"]
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


def files(client, body: dict) -> dict[str, list[dict]]:
    """Each output's lines, by type."""
    out: dict[str, list[dict]] = {}
    for output in body["output"]:
        response = client.get(output["url"].removeprefix("http://testserver"))
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/fhir+ndjson"
        lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
        assert len(lines) == output["count"]
        out.setdefault(output["type"], []).extend(lines)
    return out


def export(client, url: str) -> tuple[dict, dict[str, list[dict]]]:
    body = manifest(client, kick_off(client, url))
    return body, files(client, body)


def test_system_export_writes_one_ndjson_file_per_type(fhir, records):
    body, found = export(fhir, "$export")
    assert body["requiresAccessToken"] is True and body["error"] == []
    assert body["request"] == "http://testserver/fhir/$export" and body["transactionTime"]
    assert {r["id"] for r in found["Observation"]} == set(records["x1"] + records["x2"])
    assert {r["id"] for r in found["Patient"]} == {"x1", "x2"}
    assert {r["id"] for r in found["Practitioner"]} == {"xdr"}
    assert "AuditEvent" not in found  # the access log only when _type names it


def test_patient_level_exports_records_only(fhir, records):
    _, everyone = export(fhir, "Patient/$export")
    assert "Practitioner" not in everyone
    assert {r["id"] for r in everyone["Observation"]} == set(records["x1"] + records["x2"])
    _, one = export(fhir, "Patient/x1/$export?_type=Observation")
    assert set(one) == {"Observation"}
    assert {r["id"] for r in one["Observation"]} == set(records["x1"])


def test_since_and_output_format(fhir, records):
    time.sleep(0.01)
    moment = fhir.get(f"Observation/{records['x2'][0]}").get_json()["meta"]["lastUpdated"]
    time.sleep(0.01)
    later = fhir.create(observation("x1", "later"))["id"]
    _, found = export(fhir, f"$export?_since={moment}&_outputFormat=application/ndjson")
    assert {r["id"] for r in found["Observation"]} == {records["x2"][0], later}


@pytest.mark.parametrize(
    "url, headers, status",
    [
        ("$export", {"Accept": "application/fhir+json"}, 400),  # no Prefer: respond-async
        ("$export?_outputFormat=text/csv", ASYNC, 400),
        ("$export?_type=Nothing", ASYNC, 400),
        ("$export?_since=never", ASYNC, 400),
        ("$export?_typeFilter=Observation%3Fstatus%3Dfinal", ASYNC, 400),
        ("Patient/$export?_type=Practitioner", ASYNC, 400),
        ("Patient/nobody/$export", ASYNC, 404),
        ("$export", {**ASYNC, "Accept": "application/xml"}, 406),
    ],
)
def test_kick_off_refusals_store_no_job(fhir, records, snapshot, url, headers, status):
    before = snapshot()
    assert_outcome(fhir.get(url, headers=headers), status)
    assert snapshot() == before


def test_status_and_files_answer_the_requester_only(fhir, client_for, records, app):
    status_url = kick_off(fhir, "$export")
    body = manifest(fhir, status_url)
    file_url = body["output"][0]["url"].removeprefix("http://testserver")
    other = client_for("system/*.cruds", client_id="another-client")
    assert_outcome(other.get(status_url), 404)
    assert_outcome(other.get(file_url), 404)
    anonymous = app.test_client()
    assert anonymous.get(file_url).status_code == 401
    assert anonymous.get(status_url).status_code == 401
    assert_outcome(fhir.get(file_url.rsplit("/", 1)[0] + "/Nothing.ndjson"), 404)


def test_delete_cancels_and_removes_the_files(fhir, records, data_dir):
    status_url = kick_off(fhir, "$export")
    body = manifest(fhir, status_url)
    job = status_url.rsplit("/", 1)[-1]
    assert (data_dir / "exports" / job).is_dir()
    assert fhir.delete(status_url).status_code == 202
    assert_outcome(fhir.get(status_url), 404)
    assert_outcome(fhir.get(body["output"][0]["url"].removeprefix("http://testserver")), 404)
    assert not (data_dir / "exports" / job).exists()


def test_a_patient_exports_their_own_record_only(client_for, records):
    patient = client_for("patient/*.rs", "patient", fhir_user="Patient/x1", patient="Patient/x1")
    _, found = export(patient, "Patient/x1/$export")
    assert {r["id"] for r in found["Observation"]} == set(records["x1"])
    assert {r["id"] for r in found["Patient"]} == {"x1"}
    assert_outcome(patient.get("Patient/x2/$export", headers=ASYNC), 404)
    assert_outcome(patient.get("$export", headers=ASYNC), 403)


def test_a_system_client_needs_read_scopes(client_for, records):
    v1 = client_for("system/*.read", client_id="reader-v1")
    _, found = export(v1, "$export?_type=Patient")
    assert {r["id"] for r in found["Patient"]} == {"x1", "x2"}
    v2 = client_for("system/Observation.rs", client_id="reader-v2")
    _, found = export(v2, "$export")
    assert set(found) == {"Observation"}
    assert_outcome(v2.get("$export?_type=Patient", headers=ASYNC), 403)
    writer = client_for("system/*.cu", client_id="writer")
    assert_outcome(writer.get("$export?_type=Patient", headers=ASYNC), 403)


def test_the_export_is_audited(fhir, client_for, records):
    exporter = client_for("system/*.rs", client_id="audited-exporter", subject="audited-exporter")
    export(exporter, "Patient/x1/$export")
    events = fhir.search("AuditEvent?agent=Device/audited-exporter&patient=Patient/x1&_count=100")
    assert events.get("entry"), "the export's reads are in the patient's access history"
