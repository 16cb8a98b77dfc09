"""Binary: FHIR JSON or native content. https://hl7.org/fhir/R4/binary.html#rest"""

import base64

import pytest

from carnet.app import build, create_app
from fhir_server.config import Settings
from fhir_server.store.indexes import current_name
from tests.conftest import BASE, FhirClient, assert_outcome, issue_token, store_snapshot

SMALL = b"%PDF-1.4 small"
LARGE = bytes(range(256)) * 40  # 10 kB, well over the 1 kB threshold below


@pytest.fixture
def small_threshold():
    settings = Settings.from_env(base_url=BASE, gridfs_threshold=1024)
    carnet = build(settings)
    return FhirClient(
        create_app(settings, carnet).test_client(), issue_token(carnet, "system/*.cruds")
    ), carnet


def binary(content: bytes, content_type="application/pdf") -> dict:
    return {
        "resourceType": "Binary",
        "contentType": content_type,
        "data": base64.b64encode(content).decode(),
    }


@pytest.mark.parametrize("content", [SMALL, LARGE], ids=["small", "large"])
def test_binary_round_trip(small_threshold, content):
    fhir, carnet = small_threshold
    created = fhir.post("Binary", binary(content))
    assert created.status_code == 201
    body = created.get_json()
    assert base64.b64decode(body["data"]) == content
    bid = body["id"]
    as_fhir = fhir.get(f"Binary/{bid}", headers={"Accept": "application/fhir+json"})
    assert as_fhir.status_code == 200
    assert as_fhir.headers["Content-Type"].startswith("application/fhir+json")
    resource = as_fhir.get_json()
    assert resource["contentType"] == "application/pdf"
    assert base64.b64decode(resource["data"]) == content
    assert fhir.get(f"Binary/{bid}?_format=json").get_json()["data"] == resource["data"]
    for accept in ("*/*", "application/pdf"):
        raw = fhir.get(f"Binary/{bid}", headers={"Accept": accept})
        assert raw.status_code == 200
        assert raw.headers["Content-Type"].startswith("application/pdf")
        assert raw.get_data() == content
        assert raw.headers["ETag"] == 'W/"1"'
    assert fhir.get(f"Binary/{bid}/_history/1").get_json()["data"] == resource["data"]
    history = fhir.get(f"Binary/{bid}/_history").get_json()
    assert history["entry"][0]["resource"]["data"] == resource["data"]


def test_large_binary_goes_to_gridfs(small_threshold):
    fhir, carnet = small_threshold
    bid = fhir.post("Binary", binary(LARGE)).get_json()["id"]
    stored = carnet.store.db[current_name("Binary")].find_one({"_id": bid})
    assert "data" not in stored["res"]
    assert stored.get("blob") is not None


def test_update_and_patch_large_binary(small_threshold):
    fhir, _ = small_threshold
    bid = fhir.post("Binary", binary(LARGE)).get_json()["id"]
    updated = fhir.put(f"Binary/{bid}", {**binary(LARGE[::-1], "image/png"), "id": bid})
    assert updated.status_code == 200
    raw = fhir.get(f"Binary/{bid}", headers={"Accept": "image/png"})
    assert raw.get_data() == LARGE[::-1]
    assert raw.headers["Content-Type"].startswith("image/png")
    patched = fhir.patch(
        f"Binary/{bid}", [{"op": "replace", "path": "/contentType", "value": "image/gif"}]
    )
    assert patched.status_code == 200
    assert base64.b64decode(patched.get_json()["data"]) == LARGE[::-1]
    raw = fhir.get(f"Binary/{bid}", headers={"Accept": "*/*"})
    assert raw.get_data() == LARGE[::-1]
    assert raw.headers["Content-Type"].startswith("image/gif")
    old = fhir.get(f"Binary/{bid}/_history/1", headers={"Accept": "application/fhir+json"})
    assert base64.b64decode(old.get_json()["data"]) == LARGE


def test_binary_errors(small_threshold):
    fhir, carnet = small_threshold
    before = store_snapshot(carnet)
    bad = {"resourceType": "Binary", "contentType": "text/plain", "data": "!!" * 1000}
    assert_outcome(fhir.post("Binary", bad), 422)
    assert_outcome(fhir.post("Binary", {"resourceType": "Binary", "data": "AAAA"}), 422)
    assert store_snapshot(carnet) == before
    assert_outcome(fhir.get("Binary/nope", headers={"Accept": "*/*"}), 404)
    assert_outcome(fhir.get("Binary/nope", headers={"Accept": "application/fhir+json"}), 404)


def test_deleted_binary_is_gone_in_both_forms(fhir):
    bid = fhir.post("Binary", binary(SMALL)).get_json()["id"]
    assert fhir.delete(f"Binary/{bid}").status_code in (200, 204)
    assert_outcome(fhir.get(f"Binary/{bid}", headers={"Accept": "*/*"}), 410)
    assert_outcome(fhir.get(f"Binary/{bid}", headers={"Accept": "application/fhir+json"}), 410)
