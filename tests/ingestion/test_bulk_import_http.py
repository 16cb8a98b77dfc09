"""$import over HTTP (Bulk Data Import proposal): kick-off, status, manifest, error files, refusals."""

import dataclasses
import json
import time
from pathlib import Path

import pytest

from ingestion import bulk_import_op
from tests.conftest import assert_outcome


@pytest.fixture
def import_dir(tmp_path) -> Path:
    directory = tmp_path / "imports"
    directory.mkdir()
    return directory


@pytest.fixture
def settings(settings, import_dir):
    """The import directory, once Settings has it (FHIR_SERVER_IMPORT_DIR)."""
    if "import_dir" in {f.name for f in dataclasses.fields(settings)}:
        return dataclasses.replace(settings, import_dir=str(import_dir))
    return settings


@pytest.fixture
def bulk(app, carnet, import_dir):
    """The app, its $import routes rows of the route table (ingestion.bulk_routes)."""
    return app


def write_ndjson(path: Path, lines: list) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def patient(n: int) -> dict:
    return {"resourceType": "Patient", "id": f"imp-{n}", "gender": "female"}


def kick_off(client, body) -> str:
    response = client.post("$import", body, headers={"Prefer": "respond-async"})
    assert response.status_code == 202, response.get_data(as_text=True)
    return response.headers["Content-Location"]


def poll(client, url: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(url.removeprefix("http://testserver"))
        if response.status_code != 202 or time.monotonic() > deadline:
            return response
        time.sleep(0.05)


def test_import_runs_in_the_background_and_reports_per_line_errors(
    bulk, client_for, fhir, import_dir
):
    patients = write_ndjson(import_dir / "patients.ndjson", [patient(1), "{oops", patient(3)])
    client = client_for("system/*.cruds", client_id="importer")
    url = kick_off(
        client,
        {
            "inputFormat": "application/fhir+ndjson",
            "inputSource": "https://former.example.org",
            "input": [{"type": "Patient", "url": patients.as_uri()}],
        },
    )
    assert url.startswith("http://testserver/fhir/$import-status/")
    done = poll(client, url)
    assert done.status_code == 200, done.get_data(as_text=True)
    assert done.headers["Content-Type"].startswith("application/json")
    manifest = done.get_json()
    assert manifest["request"] == "http://testserver/fhir/$import"
    assert manifest["output"] == [
        {"type": "OperationOutcome", "inputUrl": patients.as_uri(), "count": 2}
    ]
    [error] = manifest["error"]
    assert error["count"] == 1 and error["inputUrl"] == patients.as_uri()

    errors = client.get(error["url"].removeprefix("http://testserver"))
    assert errors.status_code == 200
    assert errors.headers["Content-Type"].startswith("application/fhir+ndjson")
    [outcome] = [json.loads(line) for line in errors.get_data(as_text=True).splitlines()]
    assert outcome["resourceType"] == "OperationOutcome"
    assert "line 2: Malformed JSON" in outcome["issue"][0]["diagnostics"]

    imported = fhir.get("Patient/imp-3").get_json()
    assert imported["meta"]["source"] == "https://former.example.org"
    # Another client does not learn of the job.
    other = client_for("system/*.cruds", client_id="someone-else")
    assert_outcome(other.get(url.removeprefix("http://testserver")), 404)


def test_a_parameters_kick_off_and_x_progress_while_running(
    bulk, client_for, fhir, import_dir, monkeypatch
):
    source = write_ndjson(import_dir / "p.ndjson", [patient(n) for n in range(3)])
    started = []
    monkeypatch.setattr(bulk_import_op, "start_thread", started.append)
    client = client_for("system/Patient.cu", client_id="importer")
    url = kick_off(
        client,
        {
            "resourceType": "Parameters",
            "parameter": [
                {"name": "inputFormat", "valueCode": "application/fhir+ndjson"},
                {
                    "name": "input",
                    "part": [
                        {"name": "type", "valueCode": "Patient"},
                        {"name": "url", "valueUrl": source.as_uri()},
                    ],
                },
            ],
        },
    )
    running = client.get(url.removeprefix("http://testserver"))
    assert running.status_code == 202
    assert running.headers["X-Progress"].startswith("0% (0 lines")
    assert running.headers["Retry-After"]
    started[0]()  # the background job, run here
    assert poll(client, url).get_json()["output"][0]["count"] == 3
    assert fhir.get("Patient/imp-2").status_code == 200


def test_a_cancelled_job_is_gone(bulk, client_for, import_dir):
    source = write_ndjson(import_dir / "p.ndjson", [patient(1)])
    client = client_for("system/*.cruds", client_id="importer")
    url = kick_off(client, {"input": [{"type": "Patient", "url": source.as_uri()}]})
    poll(client, url)
    assert client.delete(url.removeprefix("http://testserver")).status_code == 202
    assert_outcome(client.get(url.removeprefix("http://testserver")), 404)


@pytest.mark.parametrize(
    "url",
    [
        "https://client.example.org/patients.ndjson",
        "file:///etc/passwd",
        "file://other-host/imports/p.ndjson",
        "{dir}/../outside.ndjson",
        "{dir}/link.ndjson",
        "{dir}/missing.ndjson",
        "imports/p.ndjson",
        42,
    ],
)
def test_only_files_under_the_import_directory_are_read(
    bulk, client_for, import_dir, url, snapshot
):
    write_ndjson(import_dir / "p.ndjson", [patient(1)])
    outside = write_ndjson(import_dir.parent / "outside.ndjson", [patient(2)])
    (import_dir / "link.ndjson").symlink_to(outside)
    if isinstance(url, str) and url.startswith("{dir}"):
        url = "file://" + url.format(dir=import_dir)
    before = snapshot()
    body = {"input": [{"type": "Patient", "url": url}]}
    response = client_for("system/*.cruds").post("$import", body)
    assert_outcome(response, 400)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("scope", "actor", "claims"),
    [
        ("system/Patient.rs", "system", {}),
        ("system/Observation.cu", "system", {}),
        ("patient/Patient.cu", "patient", {"patient": "Patient/p1", "fhir_user": "Patient/p1"}),
        ("user/Patient.cu", "practitioner", {"fhir_user": "Practitioner/d1"}),
    ],
)
def test_only_backend_services_allowed_to_write_the_types_may_import(
    bulk, client_for, import_dir, scope, actor, claims
):
    source = write_ndjson(import_dir / "p.ndjson", [patient(1)])
    body = {"input": [{"type": "Patient", "url": source.as_uri()}]}
    assert_outcome(client_for(scope, actor, **claims).post("$import", body), 403)


def test_malformed_kick_off_requests(bulk, client_for, fhir, import_dir):
    source = write_ndjson(import_dir / "p.ndjson", [patient(1)])
    client = client_for("system/*.cruds")
    good = {"type": "Patient", "url": source.as_uri()}
    for body in (
        {"input": []},
        {"inputFormat": "text/csv", "input": [good]},
        {"input": [{**good, "type": "NoSuchType"}]},
        {"input": [{**good, "type": "AuditEvent"}]},
        {"resourceType": "Patient"},
    ):
        assert_outcome(client.post("$import", body), 400)
    assert_outcome(fhir.http.post("/fhir/$import", json={"input": [good]}), 401)


def test_without_an_import_directory_import_is_not_enabled(carnet):
    from carnet_core.context import operator_context
    from carnet_core.errors import NotSupported

    with pytest.raises(NotSupported, match="not enabled"):
        bulk_import_op.kick_off(carnet.interactions, operator_context(), {"input": []}, None)


def test_unknown_error_files_are_404(bulk, client_for, import_dir):
    source = write_ndjson(import_dir / "p.ndjson", ["nope"])
    client = client_for("system/*.cruds", client_id="importer")
    url = kick_off(client, {"input": [{"type": "Patient", "url": source.as_uri()}]})
    path = poll(client, url).get_json()["error"][0]["url"].removeprefix("http://testserver")
    assert client.get(path).status_code == 200
    for wrong in ("/error/1.ndjson", "/error/x.ndjson", "/error/0.json"):
        assert_outcome(client.get(url.removeprefix("http://testserver") + wrong), 404)


def test_no_line_is_imported_into_a_closed_record(bulk, client_for, fhir, import_dir, snapshot):
    from ingestion import records
    from ingestion.ins import INS_NIR

    nir = "291037511223356"
    person = {
        "resourceType": "Patient",
        "id": "shut",
        "identifier": [{"system": INS_NIR, "value": nir}],
    }
    assert fhir.put("Patient/shut", person).status_code == 201
    records.set_status(nir, "closed")
    weight = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": "Patient/shut"},
    }
    source = write_ndjson(import_dir / "obs.ndjson", [weight, {**weight, "id": "imported"}])
    before = {k: v for k, v in snapshot().items() if k.startswith("Observation")}
    client = client_for("system/*.cruds", client_id="importer")
    url = kick_off(client, {"input": [{"type": "Observation", "url": source.as_uri()}]})
    manifest = poll(client, url).get_json()
    [error] = manifest["error"]
    assert error["count"] == 2
    errors = client.get(error["url"].removeprefix("http://testserver")).get_data(as_text=True)
    assert errors.count("rule: record-closed") == 2
    assert {k: v for k, v in snapshot().items() if k.startswith("Observation")} == before
