"""Bad input: status, OperationOutcome and an unchanged store. https://hl7.org/fhir/R4/http.html"""

import pytest

from carnet.app import build, create_app
from fhir_server.config import Settings
from tests.conftest import BASE, FhirClient, assert_outcome, issue_token, store_snapshot

PATIENT = {"resourceType": "Patient", "name": [{"family": "Roux"}]}


@pytest.fixture
def seeded(fhir, snapshot):
    fhir.put("Patient/e-1", {**PATIENT, "id": "e-1"})
    return snapshot()


def test_malformed_json_is_400(fhir, snapshot, seeded):
    body = assert_outcome(fhir.post("Patient", b'{"resourceType": "Patient",'), 400, "invalid")
    assert "Malformed JSON" in body["issue"][0]["diagnostics"]
    assert_outcome(fhir.put("Patient/e-1", b"not json"), 400)
    assert_outcome(fhir.post("/fhir", b"\xff\xfe"), 400)
    assert_outcome(fhir.post("Patient", b"   "), 400)
    assert_outcome(fhir.post("Patient", b"[1, 2]"), 400)
    assert_outcome(fhir.post("Patient", b"[" * 100000 + b"]" * 100000), 400)
    nan = b'{"resourceType": "Patient", "multipleBirthInteger": NaN}'
    assert "NaN" in assert_outcome(fhir.post("Patient", nan), 400)["issue"][0]["diagnostics"]
    assert snapshot() == seeded


@pytest.mark.parametrize(
    "resource, code, expression",
    [
        ({**PATIENT, "colour": "blue"}, "structure", "Patient.colour"),
        ({**PATIENT, "birthDate": 1980}, "value", "Patient.birthDate"),
        ({**PATIENT, "active": "yes please"}, "value", "Patient.active"),
        ({**PATIENT, "name": [{"family": ["Roux"]}]}, "value", "Patient.name[0].family"),
        (
            {"resourceType": "Observation", "code": {"text": "weight"}},
            "required",
            "Observation.status",
        ),
        (
            {
                "resourceType": "DocumentReference",
                "status": "bogus",
                "content": [{"attachment": {"url": "Binary/1"}}],
            },
            "code-invalid",
            "DocumentReference.status",
        ),
    ],
)
def test_invalid_resource_is_422(fhir, snapshot, seeded, resource, code, expression):
    response = fhir.post(resource["resourceType"], resource)
    body = assert_outcome(response, 422)
    codes = {i["code"] for i in body["issue"]}
    assert code in codes, body
    assert any(i.get("expression") == [expression] for i in body["issue"]), body
    assert all(i["diagnostics"] for i in body["issue"])
    assert snapshot() == seeded


def test_resource_type_mismatch_is_400(fhir, snapshot, seeded):
    body = assert_outcome(fhir.post("Observation", PATIENT), 400)
    assert body["issue"][0]["expression"] == ["resourceType"]
    assert_outcome(fhir.post("Patient", {"name": []}), 400)
    assert snapshot() == seeded


def test_unknown_type_and_id_are_404(fhir, snapshot, seeded):
    assert_outcome(fhir.get("Spaceship/1"), 404, "not-supported")
    assert_outcome(fhir.post("Spaceship", {"resourceType": "Spaceship"}), 404)
    assert_outcome(fhir.put("Spaceship/1", {"resourceType": "Spaceship", "id": "1"}), 404)
    assert_outcome(fhir.get("Spaceship"), 404)
    assert_outcome(fhir.get("Patient/unknown"), 404, "not-found")
    assert_outcome(fhir.get("Patient/e-1/_history/x"), 404)
    assert_outcome(fhir.get("/nowhere"), 404)
    assert snapshot() == seeded


@pytest.mark.parametrize(
    "method, url",
    [
        ("DELETE", "/fhir/metadata"),
        ("PUT", "/fhir/metadata"),
        ("POST", "/fhir/Patient/e-1"),
        ("POST", "/fhir/Patient/e-1/_history"),
        ("DELETE", "/fhir/Patient/_history"),
        ("PUT", "/fhir/Patient/e-1/_history/1"),
        ("DELETE", "/fhir"),
        ("GET", "/fhir/Patient/_search"),
    ],
)
def test_wrong_method_is_405(fhir, snapshot, seeded, method, url):
    response = fhir.send(method, url, PATIENT if method in ("POST", "PUT") else None)
    assert_outcome(response, 405, "not-supported")
    if "metadata" in url or "_history" in url:
        assert "GET" in response.headers.get("Allow", "GET")  # werkzeug's 405s: see app.py
    assert snapshot() == seeded


def test_version_conflict_is_412(fhir, snapshot, seeded):
    stale = fhir.put("Patient/e-1", {**PATIENT, "id": "e-1"}, headers={"If-Match": 'W/"0"'})
    assert_outcome(stale, 412, "conflict")
    assert snapshot() == seeded


def test_too_large_is_413(snapshot):
    settings = Settings.from_env(base_url=BASE, max_body_bytes=200)
    carnet = build(settings)
    small = FhirClient(
        create_app(settings, carnet).test_client(), issue_token(carnet, "system/*.cruds")
    )
    assert small.post("Patient", PATIENT).status_code == 201
    large = {**PATIENT, "name": [{"family": "x" * 400}]}
    names = sorted(carnet.store.db.list_collection_names())
    count = carnet.store.db.unchecked["Patient"].count_documents({}) if "Patient" in names else None
    assert_outcome(small.post("Patient", large), 413, "too-costly")
    assert_outcome(small.put("Patient/big", {**large, "id": "big"}), 413)
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": [{"resource": large}]}
    assert_outcome(small.post("/fhir", bundle), 413)
    assert sorted(carnet.store.db.list_collection_names()) == names
    if count is not None:
        assert carnet.store.db.unchecked["Patient"].count_documents({}) == count
    assert small.get("Patient/big").status_code == 404


def test_a_chunked_body_over_the_limit_is_413(snapshot):
    import io
    import json

    settings = Settings.from_env(base_url=BASE, max_body_bytes=200)
    carnet = build(settings)
    client = create_app(settings, carnet).test_client()
    headers = {
        "Authorization": f"Bearer {issue_token(carnet, 'system/*.cruds')}",
        "Content-Type": "application/fhir+json",
        "Transfer-Encoding": "chunked",
    }

    def chunked(resource: dict):
        # No Content-Length: the server (gunicorn) ends the stream where the chunks end.
        return client.post(
            "/fhir/Patient",
            input_stream=io.BytesIO(json.dumps(resource).encode()),
            headers=headers,
            environ_overrides={"wsgi.input_terminated": True},
        )

    before = store_snapshot(carnet)
    assert_outcome(chunked({**PATIENT, "name": [{"family": "x" * 400}]}), 413, "too-costly")
    assert store_snapshot(carnet) == before
    assert chunked(PATIENT).status_code == 201


def test_wrong_media_type_is_415(fhir, snapshot, seeded):
    import json

    text = json.dumps(PATIENT)
    assert_outcome(fhir.post("Patient", text, content_type="text/plain"), 415, "not-supported")
    assert_outcome(fhir.put("Patient/e-1", text, content_type="application/xml"), 415)
    assert_outcome(fhir.post("Patient", text, content_type=""), 415)
    assert snapshot() == seeded


@pytest.mark.parametrize(
    "url, headers",
    [
        ("Patient/e-1?_format=xml", {}),
        ("Patient/e-1?_format=application/fhir%2Bxml", {}),
        ("Patient/e-1", {"Accept": "application/fhir+xml"}),
        ("Patient/e-1", {"Accept": "text/turtle"}),
        ("Patient?_format=xml", {}),
        ("metadata", {"Accept": "application/fhir+xml"}),
    ],
)
def test_unsupported_format_is_406(fhir, url, headers):
    response = fhir.get(url, headers=headers)
    assert_outcome(response, 406, "not-supported")
    assert response.headers["Content-Type"].startswith("application/fhir+json")


def test_xml_write_is_refused_and_changes_nothing(fhir, snapshot, seeded):
    response = fhir.post("Patient?_format=xml", PATIENT)
    assert response.status_code in (406, 415)
    assert snapshot() == seeded


def test_audit_event_is_read_only(fhir, snapshot, seeded):
    event = {
        "resourceType": "AuditEvent",
        "id": "a-1",
        "type": {"system": "http://dicom.nema.org/resources/ontology/DCM", "code": "110110"},
        "recorded": "2026-01-01T00:00:00Z",
        "agent": [{"requestor": True}],
        "source": {"observer": {"display": "client"}},
    }
    refused = fhir.post("AuditEvent", event)
    assert_outcome(refused, 405, "not-supported")
    assert refused.headers["Allow"] == "GET, HEAD"
    assert_outcome(fhir.put("AuditEvent/a-1", event), 405)
    assert_outcome(fhir.delete("AuditEvent/a-1"), 405)
    assert_outcome(fhir.patch("AuditEvent/a-1", [{"op": "remove", "path": "/type"}]), 405)
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [{"resource": event, "request": {"method": "PUT", "url": "AuditEvent/a-1"}}],
    }
    assert_outcome(fhir.post("/fhir", bundle), 405)
    assert fhir.get("AuditEvent").status_code == 200
    assert snapshot() == seeded


def test_invalid_prefer_and_summary_are_handled(fhir, snapshot, seeded):
    assert_outcome(fhir.get("Patient/e-1?_summary=everything"), 400)
    response = fhir.put("Patient/e-1", {**PATIENT, "id": "e-1"}, headers={"Prefer": "return=bogus"})
    assert response.status_code == 200
    assert response.get_json()["resourceType"] == "Patient"


def test_method_not_allowed_names_the_allowed_methods(fhir):
    response = fhir.delete("/fhir/Patient/abc/_history/1")
    assert_outcome(response, 405)
    assert "GET" in response.headers["Allow"]


def test_the_base_accepts_a_trailing_slash(fhir):
    bundle = {"resourceType": "Bundle", "type": "batch", "entry": []}
    assert fhir.post("/fhir/", bundle).status_code == 200
