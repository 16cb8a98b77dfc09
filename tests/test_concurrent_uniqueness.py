"""Uniqueness holds under concurrency: 20 identical requests at once make one resource.

A real `fhir-server serve` (gunicorn, several workers, each request its own unit of work) takes
20 conditional creates (If-None-Exist, and `ifNoneExist` in transaction Bundles) and 20 ITI-65
pushes of the same document (same masterIdentifier) fired together; the store's unique claims
(fhir_server/store/claims.py) leave exactly one resource each time, and every request is answered
as if it had come after the one that created it.
"""

import threading
import uuid

import pytest
import requests

from tests.ingestion.mhd import documents, example, for_ins, fresh, nir
from tests.live_server import LiveServer

WORKERS = 4
REQUESTS = 20


@pytest.fixture
def server(tmp_path):
    """A real server with the demo clients, on this test's data dir."""
    live = LiveServer(tmp_path / "server.log", workers=WORKERS, demo=True)
    try:
        yield live.start(timeout=90)
    finally:
        live.stop()


def at_once(send, count: int = REQUESTS) -> list[requests.Response]:
    """`send()` from `count` threads released together; their responses."""
    gate = threading.Barrier(count)
    responses: list = [None] * count

    def run(index: int) -> None:
        gate.wait()
        responses[index] = send()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


def _search(base: str, headers: dict, query: str) -> list[dict]:
    response = requests.get(f"{base}/fhir/{query}", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json().get("entry", []) if "resource" in e]


def _location_id(location: str) -> str:
    return location.split("/_history/")[0].rsplit("/", 1)[-1]


def test_twenty_conditional_creates_at_once_make_one_resource(server):
    # The operator's platform: the directory (Organization, Location) is the operator's to keep.
    headers = {
        "Authorization": f"Bearer {server.access_token('demo-platform')}",
        "Content-Type": "application/fhir+json",
    }
    system = f"urn:oid:2.999.9.{uuid.uuid4().int}"
    organization = {
        "resourceType": "Organization",
        "identifier": [{"system": system, "value": "one"}],
        "name": "Clinique des Lilas",
    }
    # The same query, its parameters in another order: one conditional-create key.
    queries = [f"identifier={system}|one&name=Clinique", f"name=Clinique&identifier={system}|one"]

    lock = threading.Lock()
    order = iter(queries * REQUESTS)

    def create():
        with lock:
            query = next(order)
        return requests.post(
            f"{server.url}/fhir/Organization",
            json=organization,
            headers={**headers, "If-None-Exist": query},
            timeout=60,
        )

    responses = at_once(create)
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * (REQUESTS - 1) + [201], [r.text for r in responses]
    found = _search(server.url, headers, f"Organization?identifier={system}|one")
    assert len(found) == 1
    assert {r.json()["id"] for r in responses} == {found[0]["id"]}

    # The same in transaction Bundles (request.ifNoneExist), the Organization referenced by a
    # sibling entry: every Bundle's reference points at the one Organization.
    system = f"urn:oid:2.999.9.{uuid.uuid4().int}"
    organization["identifier"] = [{"system": system, "value": "two"}]

    def transaction():
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": "urn:uuid:1d3b1c1e-0000-4000-8000-000000000001",
                    "resource": organization,
                    "request": {
                        "method": "POST",
                        "url": "Organization",
                        "ifNoneExist": f"identifier={system}|two",
                    },
                },
                {
                    "resource": {
                        "resourceType": "PractitionerRole",
                        "organization": {
                            "reference": "urn:uuid:1d3b1c1e-0000-4000-8000-000000000001"
                        },
                    },
                    "request": {"method": "POST", "url": "PractitionerRole"},
                },
            ],
        }
        return requests.post(f"{server.url}/fhir", json=bundle, headers=headers, timeout=60)

    responses = at_once(transaction)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    found = _search(server.url, headers, f"Organization?identifier={system}|two")
    assert len(found) == 1
    firsts = sorted(r.json()["entry"][0]["response"]["status"][:3] for r in responses)
    assert firsts == ["200"] * (REQUESTS - 1) + ["201"]
    roles = _search(
        server.url, headers, f"PractitionerRole?organization=Organization/{found[0]['id']}"
    )
    assert len(roles) == REQUESTS


def test_twenty_identical_pushes_at_once_store_one_document(server):
    # The demo hospital (acting for Organization/demo-hegp) pushes the same letter 20 times.
    headers = {
        "Authorization": f"Bearer {server.access_token('demo-hospital', key='demo-hospital')}",
        "Content-Type": "application/fhir+json",
    }
    bundle = for_ins(fresh(example()), nir("2910375112233"))
    master = documents(bundle)[0]["masterIdentifier"]

    def push():
        return requests.post(f"{server.url}/fhir", json=bundle, headers=headers, timeout=120)

    responses = at_once(push)
    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    found = _search(
        server.url, headers, f"DocumentReference?identifier={master['system']}|{master['value']}"
    )
    assert len(found) == 1, [d["id"] for d in found]
    ids = set()
    for response in responses:
        for entry in response.json()["entry"]:
            if "/DocumentReference/" in entry["response"]["location"]:
                ids.add(_location_id(entry["response"]["location"]))
    assert ids == {found[0]["id"]}
