"""The route table's consumers agree: HTTP, Bundle entries, AuditEvents, OpenAPI, CapabilityStatement.

For every row of fhir_server.route_table, the same method and url sent as a request and as a
batch entry reach the same interaction, the request's AuditEvent names the row's interaction,
and the row is in /openapi.json and in the CapabilityStatement.
"""

import base64
import dataclasses
import json
import os
import time
from pathlib import Path
from urllib.parse import urlencode

import pytest

from carnet.app import ROUTES
from consent import labels
from fhir_server import resources
from fhir_server.route_table import WRITES
from ingestion.ins import INS_NIR
from tests.conftest import assert_outcome

SYS = "urn:carnet:test:route"
PATIENT = "rt-p"
CALLER = "route-table-client"  # the audited caller whose AuditEvents the test reads
PATCH = [{"op": "replace", "path": "/status", "value": "amended"}]
# Rows that read no record, and so are in nobody's access history.
READS_NO_RECORD = {
    ("POST", "{type}/$validate"),
    ("GET", "$export-status/{id}"),
    ("DELETE", "$export-status/{id}"),
    ("GET", "$export-file/{id}/{file}"),
    ("POST", "$import"),  # its lines are not audited one by one (docs/architecture.md)
    ("GET", "$import-status/{id}"),
    ("DELETE", "$import-status/{id}"),
    ("GET", "$import-status/{id}/error/{file}"),
}
ASYNC = {"Prefer": "respond-async"}
# The record's life ($close, $reopen, $erase): one record each, named by an INS.
LIFE = {"close": "184057512300192", "reopen": "292017512300270", "erase": "170017512300333"}


def observation(value: str, **extra) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "route table"},
        "subject": {"reference": f"Patient/{PATIENT}"},
        "identifier": [{"system": SYS, "value": value}],
        **extra,
    }


def _requests(obs: dict, doc: str, value: str, jobs=("job", "cancelled", "f.ndjson", "i")) -> dict:
    """(method, pattern) -> (url, body, body kind): one request per row of the table."""
    id, found = obs["id"], f"Observation?identifier={SYS}|{value}"
    new = observation(f"{value}-new")
    job, cancelled, file, imported = jobs
    ndjson = "file://" + str(Path(os.environ["FHIR_SERVER_IMPORT_DIR"]) / "patients.ndjson")
    import_body = {"input": [{"type": "Patient", "url": ndjson}]}
    read = {"request": {"method": "GET", "url": f"Observation/{id}"}}
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [read]}
    return {
        ("GET", "metadata"): ("metadata", None, None),
        ("GET", ""): (f"?_type=Observation,List&identifier={SYS}|{value}", None, None),
        ("GET", "_history"): ("_history?_count=1", None, None),
        ("GET", "Patient/{id}/{type}"): (
            f"Patient/{PATIENT}/Observation?identifier={SYS}|{value}",
            None,
            None,
        ),
        ("GET", "Patient/{id}/$everything"): (
            f"Patient/{PATIENT}/$everything?_count=2",
            None,
            None,
        ),
        ("POST", "{type}/$validate"): ("Observation/$validate", new, "json"),
        ("POST", "{type}/{id}/$validate"): (
            f"Observation/{id}/$validate",
            observation(value, id=id),
            "json",
        ),
        ("POST", ""): ("", bundle, "json"),
        ("GET", "{type}"): (found, None, None),
        ("POST", "{type}"): ("Observation", new, "json"),
        ("PUT", "{type}"): (found, observation(value), "json"),
        ("PATCH", "{type}"): (found, PATCH, "patch"),
        ("DELETE", "{type}"): (found, None, None),
        ("POST", "{type}/_search"): (
            "Observation/_search",
            {"identifier": f"{SYS}|{value}"},
            "form",
        ),
        ("GET", "{type}/_history"): ("Observation/_history?_count=1", None, None),
        ("GET", "{type}/{id}"): (f"Observation/{id}", None, None),
        ("PUT", "{type}/{id}"): (f"Observation/{id}", observation(value, id=id), "json"),
        ("PATCH", "{type}/{id}"): (f"Observation/{id}", PATCH, "patch"),
        ("DELETE", "{type}/{id}"): (f"Observation/{id}", None, None),
        ("GET", "{type}/{id}/_history"): (f"Observation/{id}/_history", None, None),
        ("GET", "{type}/{id}/_history/{vid}"): (f"Observation/{id}/_history/1", None, None),
        ("GET", "$export"): ("$export?_type=Observation", None, None),
        ("GET", "Patient/$export"): ("Patient/$export?_type=Observation", None, None),
        ("GET", "Patient/{id}/$export"): (f"Patient/{PATIENT}/$export", None, None),
        ("GET", "$export-status/{id}"): (f"$export-status/{job}", None, None),
        ("DELETE", "$export-status/{id}"): (f"$export-status/{cancelled}", None, None),
        ("GET", "$export-file/{id}/{file}"): (f"$export-file/{job}/{file}", None, None),
        ("POST", "$import"): ("$import", import_body, "json"),
        ("GET", "$import-status/{id}"): (f"$import-status/{imported}", None, None),
        ("DELETE", "$import-status/{id}"): (f"$import-status/{imported}", None, None),
        ("GET", "$import-status/{id}/error/{file}"): (
            f"$import-status/{imported}/error/0.ndjson",
            None,
            None,
        ),
        ("POST", "DocumentReference/{id}/$mask"): (f"DocumentReference/{doc}/$mask", None, None),
        ("POST", "DocumentReference/{id}/$unmask"): (
            f"DocumentReference/{doc}/$unmask",
            None,
            None,
        ),
        # The patient's profile.
        ("GET", "Patient/{id}/$summary"): (f"Patient/{PATIENT}/$summary", None, None),
        ("POST", "Patient/{id}/$mask"): (f"Patient/{PATIENT}/$mask", None, None),
        ("POST", "Patient/{id}/$unmask"): (f"Patient/{PATIENT}/$unmask", None, None),
        ("POST", "Patient/{id}/$close"): ("Patient/rt-close/$close", None, None),
        ("POST", "Patient/{id}/$reopen"): ("Patient/rt-reopen/$reopen", None, None),
        ("POST", "Patient/{id}/$erase"): ("Patient/rt-erase/$erase", None, None),
        # The notices the patient receives (the platform chooses for them, on their request).
        ("GET", "Patient/{id}/$notifications"): (f"Patient/{PATIENT}/$notifications", None, None),
        ("POST", "Patient/{id}/$notifications"): (
            f"Patient/{PATIENT}/$notifications",
            {
                "resourceType": "Parameters",
                "parameter": [{"name": "first-access", "valueBoolean": True}],
            },
            "json",
        ),
    }


def _direct(client, method: str, url: str, body, kind):
    if kind == "form":
        return client.http.open(
            f"/fhir/{url}",
            method=method,
            data=urlencode(body),
            headers={
                "Authorization": f"Bearer {client.token}",
                "Content-Type": "application/x-www-form-urlencoded",
            },
        )
    content_type = "application/json-patch+json" if kind == "patch" else "application/fhir+json"
    return client.send(
        method, f"/fhir/{url}".rstrip("/"), body, content_type=content_type, headers=ASYNC
    )


def _finished(client, status_url: str) -> dict:
    """The manifest of an export job, once it is done (its reads are then all audited)."""
    for _ in range(600):
        response = client.get(status_url.removeprefix("http://testserver"))
        if response.status_code == 200:
            return response.get_json()
        time.sleep(0.05)
    raise AssertionError("the export did not finish")


@pytest.fixture
def settings(settings, tmp_path, monkeypatch):
    """An import directory holding one NDJSON file, for the $import rows."""
    directory = tmp_path / "imports"
    directory.mkdir()
    (directory / "patients.ndjson").write_text(json.dumps({"resourceType": "Patient"}) + "\n")
    monkeypatch.setenv("FHIR_SERVER_IMPORT_DIR", str(directory))
    return dataclasses.replace(settings, import_dir=str(directory))


@pytest.fixture
def jobs(caller, doc):
    """Two finished export jobs of the caller, the first one's file; the second to cancel."""
    done = []
    for _ in range(2):
        kicked = caller.get("$export?_type=Patient", headers=ASYNC)
        manifest = _finished(caller, kicked.headers["Content-Location"])
        done.append((kicked.headers["Content-Location"].rsplit("/", 1)[-1], manifest))
    file = done[0][1]["output"][0]["url"].rsplit("/", 1)[-1]
    ndjson = "file://" + os.environ["FHIR_SERVER_IMPORT_DIR"] + "/patients.ndjson"
    imported = caller.post("$import", {"input": [{"type": "Patient", "url": ndjson}]})
    assert imported.status_code == 202, imported.get_data(as_text=True)
    _finished(caller, imported.headers["Content-Location"])
    return done[0][0], done[1][0], file, imported.headers["Content-Location"].rsplit("/", 1)[-1]


def _entry(method: str, url: str, body, kind) -> dict:
    if kind == "form":
        url, body = f"{url}?{urlencode(body)}", None
    if kind == "patch":
        data = base64.b64encode(json.dumps(body).encode()).decode()
        body = {
            "resourceType": "Binary",
            "contentType": "application/json-patch+json",
            "data": data,
        }
    entry = {"request": {"method": method, "url": url or "/"}}
    if body is not None:
        entry["resource"] = body
    return entry


def _kind(body) -> tuple | None:
    """What an answer is: its resource type, and a Bundle's type."""
    if not isinstance(body, dict):
        return None
    return body.get("resourceType"), body.get("type")


@pytest.fixture
def caller(client_for):
    return client_for("system/*.cruds", subject=CALLER, client_id=CALLER)


@pytest.fixture
def doc(fhir):
    fhir.put(f"Patient/{PATIENT}", {"resourceType": "Patient", "id": PATIENT})
    document = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{PATIENT}"},
        "content": [{"attachment": {"contentType": "text/plain", "title": "route table"}}],
    }
    return fhir.create(document)["id"]


@pytest.fixture
def lives(fhir):
    """A Patient with an INS per $close, $reopen, $erase; the one to reopen closed first."""
    for name, nir in LIFE.items():
        patient = {"resourceType": "Patient", "id": f"rt-{name}"}
        patient["identifier"] = [{"system": INS_NIR, "value": nir}]
        assert fhir.put(f"Patient/rt-{name}", patient).status_code == 201
    assert fhir.post("Patient/rt-reopen/$close").status_code == 200


def _events(fhir, seen: set[str]) -> list[dict]:
    bundle = fhir.search(f"AuditEvent?agent=Device/{CALLER}&_count=200")
    new = [e["resource"] for e in bundle.get("entry", []) if e["resource"]["id"] not in seen]
    seen.update(e["id"] for e in new)
    return new


def test_every_route_answers_alike_over_http_and_in_a_batch_and_is_audited(
    fhir, caller, doc, jobs, lives
):
    assert set(_requests({"id": "x"}, doc, "x")) == {(r.method, r.pattern) for r in ROUTES}
    seen: set[str] = set()
    for n, route in enumerate(ROUTES):
        value = f"v{n}"
        obs = fhir.create(observation(value))  # each row works on a resource of its own
        url, body, kind = _requests(obs, doc, value, jobs)[route.method, route.pattern]
        _events(fhir, seen)
        direct = _direct(caller, route.method, url, body, kind)
        assert direct.status_code < 300, (route, direct.get_data(as_text=True))
        if route.operation == "export":
            _finished(caller, direct.headers["Content-Location"])
        events = _events(fhir, seen)
        if route.public or (route.method, route.pattern) in READS_NO_RECORD:
            assert events == [], route
        else:
            assert events, route
            assert {e["subtype"][0]["code"] for e in events} == {route.interaction}, route

        batch = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [_entry(route.method, url, body, kind)],
        }
        answer = caller.post("/fhir", batch)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        entry = answer.get_json()["entry"][0]
        status = int(entry["response"]["status"][:3])
        if not route.in_bundle:
            assert status == 400, (route, entry)
            assert "inside a Bundle" in entry["response"]["outcome"]["issue"][0]["diagnostics"]
            continue
        assert status == direct.status_code, (route, entry)
        # An OperationOutcome answer is the entry's response.outcome (bundle.html#transaction-response).
        answered = entry.get("resource") or entry["response"].get("outcome")
        assert _kind(answered) == _kind(direct.get_json(silent=True)), route


def test_a_transaction_runs_the_table_s_operations_in_its_unit_of_work(fhir, doc, snapshot):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {"request": {"method": "POST", "url": f"DocumentReference/{doc}/$mask"}},
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "PUT", "url": "Patient/x/y"},
            },
        ],
    }
    before = snapshot()
    refused = assert_outcome(fhir.post("/fhir", bundle), 400)
    assert "Bundle.entry[1]: cannot PUT Patient/x/y" in refused["issue"][0]["diagnostics"]
    assert snapshot() == before  # the mask was rolled back with the rest
    bundle["entry"].pop()
    answer = fhir.post("/fhir", bundle)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert labels.is_masked(fhir.get(f"DocumentReference/{doc}").get_json())


def test_every_route_is_in_the_openapi_document(fhir):
    paths = fhir.get("/openapi.json").get_json()["paths"]
    for route in ROUTES:
        path = "/fhir" + "".join(
            "/" + {"{type}": "{resource_type}"}.get(s, s) for s in route.pattern.split("/") if s
        )
        operation = paths[path][route.method.lower()]
        assert operation["summary"] == route.summary, route


def test_every_route_is_in_the_capability_statement(fhir):
    rest = fhir.get("metadata").get_json()["rest"][0]
    by_type = {r["type"]: r for r in rest["resource"]}
    system = {i["code"] for i in rest["interaction"]}
    for route in ROUTES:
        first = route.pattern.split("/")[0]
        types = resources.SUPPORTED_TYPES if first == "{type}" else [first]
        if route.interaction == "capabilities":
            continue  # the statement itself
        if route.interaction == "transaction":
            assert {"transaction", "batch"} <= system
            continue
        if first != "{type}" and not resources.is_supported(first):  # a system-level route
            if route.operation:
                assert route.operation in {o["name"] for o in rest["operation"]}, route
            elif route.interaction != "operation":  # else an operation's status or files
                assert route.interaction in system, route
            continue
        for resource_type in types:
            entry = by_type[resource_type]
            if route.operation:
                assert route.operation in {o["name"] for o in entry["operation"]}, route
            elif resource_type in resources.READ_ONLY_TYPES and route.interaction in WRITES:
                assert route.interaction not in {i["code"] for i in entry["interaction"]}
            else:
                assert route.interaction in {i["code"] for i in entry["interaction"]}, route
