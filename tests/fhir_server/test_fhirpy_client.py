"""A standard FHIR client, unmodified (fhirpy's synchronous client), on a real server: it creates,
pages through a search by its next links, and reads a patient's `$everything` (issue 14).

https://github.com/beda-software/fhir-py - what an integrator's Python code does against Carnet.
"""

import uuid

import pytest
from fhirpy import SyncFHIRClient

from tests.live_server import LiveServer

OBSERVATIONS = 7


@pytest.fixture
def server(tmp_path):
    """A real server with the demo clients, on this test's data dir."""
    live = LiveServer(tmp_path / "server.log", workers=1, demo=True)
    try:
        yield live.start(timeout=90)
    finally:
        live.stop()


@pytest.fixture
def client(server) -> SyncFHIRClient:
    token = server.access_token("demo-platform")  # the operator's platform: every record
    return SyncFHIRClient(f"{server.url}/fhir", authorization=f"Bearer {token}")


@pytest.fixture
def patient(client):
    """A Patient and OBSERVATIONS Observations of theirs, created through fhirpy."""
    tag = uuid.uuid4().hex[:12]
    patient = client.resource(
        "Patient", name=[{"family": f"Fhirpy{tag}", "given": ["Alice"]}], gender="female"
    )
    patient.save()
    for n in range(OBSERVATIONS):
        client.resource(
            "Observation",
            status="final",
            code={"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
            subject={"reference": f"Patient/{patient.id}"},
            valueQuantity={
                "value": 60 + n,
                "unit": "/min",
                "system": "http://unitsofmeasure.org",
                "code": "/min",
            },
        ).save()
    return patient


def test_fhirpy_pages_through_a_search_by_its_next_links(client, patient):
    search = client.resources("Observation").search(subject=f"Patient/{patient.id}")
    assert search.count() == OBSERVATIONS
    found = search.limit(2).fetch_all()  # four pages of two, by the Bundle's next links
    assert len(found) == OBSERVATIONS
    assert len({o.id for o in found}) == OBSERVATIONS
    assert sorted(o["valueQuantity"]["value"] for o in found) == list(range(60, 60 + OBSERVATIONS))
    first = search.limit(2).fetch()
    assert len(first) == 2


def test_fhirpy_reads_a_patients_everything_page_by_page(client, patient):
    bundle = patient.execute("$everything", method="get", params={"_count": 3})
    seen = []
    while True:
        assert bundle["resourceType"] == "Bundle" and bundle["type"] == "searchset"
        seen += [e["resource"] for e in bundle.get("entry", [])]
        following = next((x["url"] for x in bundle["link"] if x["relation"] == "next"), None)
        if following is None:
            break
        bundle = client.execute(following, method="get")
    kinds = sorted(r["resourceType"] for r in seen)
    assert kinds == ["Observation"] * OBSERVATIONS + ["Patient"]
    assert seen[0]["id"] == patient.id  # the Patient first
    assert len({(r["resourceType"], r["id"]) for r in seen}) == len(seen)
