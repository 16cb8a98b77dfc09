"""Every example resource (examples/resources) survives create then read unchanged.

The examples follow the FHIR R4 specification's own examples, moved to the French setting. Only
`id`, `meta.versionId` and `meta.lastUpdated` may differ; meta.profile/tag/security are kept.
https://hl7.org/fhir/R4/http.html#create, https://hl7.org/fhir/R4/http.html#read
"""

import json
from pathlib import Path

import pytest

from carnet_core.context import operator_context
from fhir_server.resources import READ_ONLY_TYPES, SUPPORTED_TYPES
from tests.conftest import assert_outcome

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "resources"
FILES = sorted(EXAMPLES.glob("*.json"))
SERVER_META = ("versionId", "lastUpdated")
# Binary answers a plain read with its native content; ask for the FHIR resource.
AS_FHIR = {"Accept": "application/fhir+json"}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def comparable(resource: dict) -> dict:
    """The resource without what the server assigns (id, meta.versionId, meta.lastUpdated)."""
    out = {k: v for k, v in resource.items() if k != "id"}
    meta = {k: v for k, v in out.pop("meta", {}).items() if k not in SERVER_META}
    if meta:
        out["meta"] = meta
    return out


def test_one_example_per_supported_type():
    assert sorted(p.stem for p in FILES) == sorted(SUPPORTED_TYPES)
    for path in FILES:
        assert load(path)["resourceType"] == path.stem


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_create_then_read_round_trips(fhir, carnet, path):
    original = load(path)
    resource_type = original["resourceType"]
    if resource_type in READ_ONLY_TYPES:
        assert_outcome(fhir.post(resource_type, original), 405)
        stored, created = carnet.store.write(
            operator_context(), {**original, "id": "roundtrip"}, method="POST"
        )
        assert created
        id = stored.id
    else:
        response = fhir.post(resource_type, original)
        assert response.status_code == 201, response.get_data(as_text=True)
        created_body = response.get_json()
        assert comparable(created_body) == comparable(original)
        id = created_body["id"]

    response = fhir.get(f"{resource_type}/{id}", headers=AS_FHIR)
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["id"] == id
    assert body["meta"]["versionId"] == "1"
    assert "lastUpdated" in body["meta"]
    assert comparable(body) == comparable(original)
    for key in ("profile", "tag", "security"):
        assert body["meta"].get(key) == original.get("meta", {}).get(key)

    vread = fhir.get(f"{resource_type}/{id}/_history/1", headers=AS_FHIR).get_json()
    assert comparable(vread) == comparable(original)


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_update_keeps_content(fhir, carnet, path):
    original = load(path)
    resource_type = original["resourceType"]
    if resource_type in READ_ONLY_TYPES:
        assert_outcome(fhir.put(f"{resource_type}/x", {**original, "id": "x"}), 405)
        return
    # A first version that differs: an update identical to the current version makes none.
    response = fhir.put(
        f"{resource_type}/rt-{resource_type.lower()}",
        {**original, "id": f"rt-{resource_type.lower()}", "language": "de"},
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    again = fhir.put(
        f"{resource_type}/rt-{resource_type.lower()}",
        {**original, "id": f"rt-{resource_type.lower()}"},
        headers={"If-Match": 'W/"1"'},
    )
    assert again.status_code == 200, again.get_data(as_text=True)
    body = fhir.get(f"{resource_type}/rt-{resource_type.lower()}", headers=AS_FHIR).get_json()
    assert body["meta"]["versionId"] == "2"
    assert comparable(body) == comparable(original)


def test_decimal_precision_is_kept(fhir):
    """R4 decimals keep their precision (json.html#primitive): 72.50 must not read back as 72.5."""
    raw = (EXAMPLES / "Observation.json").read_text(encoding="utf-8")
    assert '"value": 72.50' in raw and '"value": 55.0' in raw
    response = fhir.post("Observation", raw)
    assert response.status_code == 201, response.get_data(as_text=True)
    text = fhir.get(f"Observation/{response.get_json()['id']}").get_data(as_text=True)
    assert "72.50" in text and "55.0" in text and "80.25" in text
    raw_immunization = (EXAMPLES / "Immunization.json").read_text(encoding="utf-8")
    created = fhir.post("Immunization", raw_immunization).get_data(as_text=True)
    assert '"value": 0.50' in raw_immunization and "0.50" in created


def test_binary_native_read_returns_the_bytes(fhir):
    original = load(EXAMPLES / "Binary.json")
    id = fhir.create(original)["id"]
    response = fhir.get(f"Binary/{id}")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert response.get_data().startswith(b"Compte rendu de consultation")
