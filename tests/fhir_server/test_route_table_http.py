"""The route table's consumers agree: HTTP, Bundle entries, AuditEvents, OpenAPI, CapabilityStatement.

For every row of fhir_server.route_table, the same method and url sent as a request and as a
batch entry reach the same interaction, the request's AuditEvent names the row's interaction,
and the row is in /openapi.json and in the CapabilityStatement.
"""

import base64
import json
from urllib.parse import urlencode

import pytest

from consent import labels
from fhir_server import resources
from fhir_server.route_table import ROUTES, WRITES
from ingestion.ins import INS_NIR
from tests.conftest import assert_outcome

SYS = "urn:carnet:test:route"
PATIENT = "rt-p"
CALLER = "route-table-client"  # the audited caller whose AuditEvents the test reads
PATCH = [{"op": "replace", "path": "/status", "value": "amended"}]
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


def _requests(obs: dict, doc: str, value: str) -> dict:
    """(method, pattern) -> (url, body, body kind): one request per row of the table."""
    id, found = obs["id"], f"Observation?identifier={SYS}|{value}"
    new = observation(f"{value}-new")
    read = {"request": {"method": "GET", "url": f"Observation/{id}"}}
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [read]}
    return {
        ("GET", "metadata"): ("metadata", None, None),
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
        ("POST", "DocumentReference/{id}/$mask"): (f"DocumentReference/{doc}/$mask", None, None),
        ("POST", "DocumentReference/{id}/$unmask"): (
            f"DocumentReference/{doc}/$unmask",
            None,
            None,
        ),
        ("POST", "Patient/{id}/$close"): ("Patient/rt-close/$close", None, None),
        ("POST", "Patient/{id}/$reopen"): ("Patient/rt-reopen/$reopen", None, None),
        ("POST", "Patient/{id}/$erase"): ("Patient/rt-erase/$erase", None, None),
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
    return client.send(method, f"/fhir/{url}".rstrip("/"), body, content_type=content_type)


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
    fhir, caller, doc, lives
):
    assert set(_requests({"id": "x"}, doc, "x")) == {(r.method, r.pattern) for r in ROUTES}
    seen: set[str] = set()
    for n, route in enumerate(ROUTES):
        value = f"v{n}"
        obs = fhir.create(observation(value))  # each row works on a resource of its own
        url, body, kind = _requests(obs, doc, value)[route.method, route.pattern]
        _events(fhir, seen)
        direct = _direct(caller, route.method, url, body, kind)
        assert direct.status_code < 300, (route, direct.get_data(as_text=True))
        events = _events(fhir, seen)
        if route.public:
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
        assert _kind(entry.get("resource")) == _kind(direct.get_json(silent=True)), route


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
        for resource_type in types:
            entry = by_type[resource_type]
            if route.operation:
                assert route.operation in {o["name"] for o in entry["operation"]}, route
            elif resource_type in resources.READ_ONLY_TYPES and route.interaction in WRITES:
                assert route.interaction not in {i["code"] for i in entry["interaction"]}
            else:
                assert route.interaction in {i["code"] for i in entry["interaction"]}, route
