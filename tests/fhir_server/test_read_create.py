"""create, read, vread through HTTP: https://hl7.org/fhir/R4/http.html#create"""

from tests.conftest import assert_outcome

PATIENT = {
    "resourceType": "Patient",
    "identifier": [{"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "180126955598241"}],
    "name": [{"family": "Martin", "given": ["Élodie"]}],
    "gender": "female",
    "birthDate": "1980-01-26",
}


def test_create_assigns_id_version_and_location(fhir):
    response = fhir.post("Patient", {**PATIENT, "id": "client-chosen"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["id"] != "client-chosen"
    assert body["meta"]["versionId"] == "1"
    assert response.headers["ETag"] == 'W/"1"'
    assert response.headers["Location"].endswith(f"/fhir/Patient/{body['id']}/_history/1")
    assert "Last-Modified" in response.headers


def test_read_returns_what_was_stored(fhir):
    created = fhir.create(PATIENT)
    response = fhir.get(f"Patient/{created['id']}")
    assert response.status_code == 200
    body = response.get_json()
    assert {k: v for k, v in body.items() if k not in ("id", "meta")} == PATIENT
    assert response.headers["Content-Type"].startswith("application/fhir+json")


def test_read_unknown_is_404_outcome(fhir):
    assert_outcome(fhir.get("Patient/nope"), 404, "not-found")


def test_unknown_type_is_404(fhir):
    assert_outcome(fhir.get("Spaceship/1"), 404)


def test_vread(fhir):
    created = fhir.create(PATIENT)
    assert fhir.get(f"Patient/{created['id']}/_history/1").get_json()["id"] == created["id"]
    assert_outcome(fhir.get(f"Patient/{created['id']}/_history/7"), 404)


def test_decimals_keep_their_precision(fhir):
    raw = (
        '{"resourceType":"Observation","status":"final","code":{"text":"Poids"},'
        '"subject":{"reference":"Patient/p"},"valueQuantity":{"value":72.50,"unit":"kg",'
        '"system":"http://unitsofmeasure.org","code":"kg"}}'
    )
    created = fhir.post("Observation", raw)
    assert created.status_code == 201
    assert '"value":72.50' in created.get_data(as_text=True)
    oid = created.get_json()["id"]
    assert '"value":72.50' in fhir.get(f"Observation/{oid}").get_data(as_text=True)
    assert '"value":72.50' in fhir.get(f"Observation/{oid}/_history/1").get_data(as_text=True)
    assert fhir.ids("Observation?value-quantity=72.5") == [oid]
