"""batch Bundles: https://hl7.org/fhir/R4/http.html#transaction (entries independent)"""

import base64
import json

SYS = "urn:oid:1.2.250.1.213.1.4.8"


def batch(*entries) -> dict:
    return {"resourceType": "Bundle", "type": "batch", "entry": list(entries)}


def patient(value: str, **extra) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": SYS, "value": value}], **extra}


def test_batch_entries_are_independent(fhir):
    fhir.put("Patient/b1", {**patient("b1"), "id": "b1"})
    response = fhir.post(
        "/fhir",
        batch(
            {"resource": patient("b2"), "request": {"method": "POST", "url": "Patient"}},
            {
                "resource": {**patient("b3"), "colour": "blue"},
                "request": {"method": "POST", "url": "Patient"},
            },
            {"request": {"method": "GET", "url": "Patient/b1"}},
            {"request": {"method": "GET", "url": "Patient/nobody"}},
            {"request": {"method": "DELETE", "url": "Patient/b1"}},
        ),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    bundle = response.get_json()
    assert bundle["type"] == "batch-response"
    statuses = [e["response"]["status"][:3] for e in bundle["entry"]]
    assert statuses[0] == "201"
    assert statuses[1] == "422"
    assert statuses[2] == "200"
    assert statuses[3] == "404"
    assert statuses[4] in ("200", "204")
    created = bundle["entry"][0]
    assert created["response"]["location"].startswith("http://testserver/fhir/Patient/")
    assert created["response"]["etag"] == 'W/"1"'
    assert fhir.get(f"Patient/{created['resource']['id']}").status_code == 200
    failed = bundle["entry"][1]["response"]["outcome"]
    assert failed["resourceType"] == "OperationOutcome"
    assert failed["issue"][0]["code"] == "structure"
    assert failed["issue"][0]["expression"] == ["Patient.colour"]
    assert bundle["entry"][3]["response"]["outcome"]["issue"][0]["code"] == "not-found"
    assert fhir.get("Patient/b1").status_code == 410
    assert fhir.ids(f"Patient?identifier={SYS}|b3") == []


def test_batch_malformed_entry_gets_outcome_others_run(fhir):
    response = fhir.post(
        "/fhir",
        batch(
            {"resource": patient("b4")},
            {"resource": patient("b5"), "request": {"method": "POST", "url": "Patient"}},
        ),
    )
    assert response.status_code == 200
    entries = response.get_json()["entry"]
    assert entries[0]["response"]["status"].startswith("400")
    assert entries[0]["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert entries[1]["response"]["status"].startswith("201")


def test_batch_patch_entry_and_stale_version(fhir):
    fhir.put("Patient/b6", {**patient("b6"), "id": "b6"})
    ops = [{"op": "add", "path": "/gender", "value": "female"}]
    binary = {
        "resourceType": "Binary",
        "contentType": "application/json-patch+json",
        "data": base64.b64encode(json.dumps(ops).encode()).decode(),
    }
    response = fhir.post(
        "/fhir",
        batch(
            {"resource": binary, "request": {"method": "PATCH", "url": "Patient/b6"}},
            {
                "resource": {**patient("b6"), "id": "b6"},
                "request": {"method": "PUT", "url": "Patient/b6", "ifMatch": 'W/"1"'},
            },
        ),
    )
    entries = response.get_json()["entry"]
    assert entries[0]["response"]["status"].startswith("200")
    assert entries[0]["resource"]["gender"] == "female"
    assert entries[1]["response"]["status"].startswith("412")
    assert fhir.get("Patient/b6").get_json()["gender"] == "female"


def test_batch_search_entry(fhir):
    fhir.create(patient("b7"))
    response = fhir.post(
        "/fhir", batch({"request": {"method": "GET", "url": f"Patient?identifier={SYS}|b7"}})
    )
    entry = response.get_json()["entry"][0]
    assert entry["response"]["status"].startswith("200")
    assert entry["resource"]["type"] == "searchset"
    assert len(entry["resource"]["entry"]) == 1


def test_batch_does_not_resolve_urn_references(fhir, snapshot):
    before = snapshot()
    obs = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "x"},
        "subject": {"reference": "urn:uuid:3f1c2d4e-0000-4000-8000-00000000000f"},
    }
    response = fhir.post(
        "/fhir", batch({"resource": obs, "request": {"method": "POST", "url": "Observation"}})
    )
    assert response.status_code == 200
    status = response.get_json()["entry"][0]["response"]["status"]
    assert status.startswith("400")
    assert snapshot() == before
