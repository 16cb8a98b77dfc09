"""What is stored is what was validated: FHIR JSON as written, required bindings inside data types.

https://hl7.org/fhir/R4/json.html, https://hl7.org/fhir/R4/terminologies.html#required
"""

import pytest

from tests.conftest import assert_outcome

PATIENT = {"resourceType": "Patient", "name": [{"family": "Roux"}]}
OBSERVATION = {"resourceType": "Observation", "status": "final", "code": {"text": "weight"}}
ALLERGY = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p"}}
CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"


@pytest.mark.parametrize(
    "resource, expression",
    [
        ({**PATIENT, "active": "yes"}, "Patient.active"),
        ({**PATIENT, "active": 1}, "Patient.active"),
        ({**PATIENT, "active": "true"}, "Patient.active"),
        ({**OBSERVATION, "valueInteger": "5"}, "Observation.valueInteger"),
        ({**OBSERVATION, "valueInteger": 5.5}, "Observation.valueInteger"),
        ({**OBSERVATION, "valueInteger": True}, "Observation.valueInteger"),
        ({**OBSERVATION, "effectiveDateTime": 1700000000}, "Observation.effectiveDateTime"),
        ({**OBSERVATION, "valueQuantity": {"value": "72.5"}}, "Observation.valueQuantity.value"),
        ({**OBSERVATION, "valueQuantity": {"value": True}}, "Observation.valueQuantity.value"),
        ({**PATIENT, "gender": None}, "Patient.gender"),
        ({**PATIENT, "name": [{}]}, "Patient.name[0]"),
        ({**PATIENT, "name": []}, "Patient.name"),
        ({**PATIENT, "name": {"family": "Roux"}}, "Patient.name"),
        ({**PATIENT, "name": [None]}, "Patient.name[0]"),
        ({**PATIENT, "name": [{"given": ["Léa", None]}]}, "Patient.name[0].given[1]"),
        ({**PATIENT, "name": [{"family": ""}]}, "Patient.name[0].family"),
        ({**PATIENT, "birthDate": ["1980-01-01"]}, "Patient.birthDate"),
        ({**PATIENT, "maritalStatus": "M"}, "Patient.maritalStatus"),
        ({**PATIENT, "_active": {}}, "Patient.active"),
        ({**PATIENT, "fhir_comments": ["hello"]}, "Patient.fhir_comments"),
        (
            {**PATIENT, "name": [{"family": "Roux", "resourceType": "X"}]},
            "Patient.name[0].resourceType",
        ),
        ({**PATIENT, "contained": [{"id": "x"}]}, "Patient.contained[0]"),
        ({**PATIENT, "contained": [{"resourceType": "HumanName"}]}, "Patient.contained[0]"),
        (
            {**PATIENT, "contained": [{"resourceType": "Patient", "active": 0}]},
            "Patient.contained[0].active",
        ),
    ],
)
def test_json_the_models_would_coerce_is_422_naming_the_element(
    fhir, snapshot, resource, expression
):
    before = snapshot()
    body = assert_outcome(fhir.post(resource["resourceType"], resource), 422)
    assert [expression] in [i.get("expression") for i in body["issue"]], body
    assert snapshot() == before


def test_an_update_and_a_patch_are_held_to_the_same_json(fhir, snapshot):
    pid = fhir.create(PATIENT)["id"]
    before = snapshot()
    assert_outcome(fhir.put(f"Patient/{pid}", {**PATIENT, "id": pid, "active": "yes"}), 422)
    patched = fhir.patch(f"Patient/{pid}", [{"op": "add", "path": "/active", "value": 1}])
    body = assert_outcome(patched, 422)
    assert body["issue"][0]["expression"] == ["Patient.active"]
    assert snapshot() == before


def test_decimals_keep_their_digits_or_are_refused(fhir, snapshot):
    kept = {**OBSERVATION, "valueQuantity": {"value": 72.50, "unit": "kg"}}
    raw = fhir.post(
        "Observation",
        b'{"resourceType": "Observation", "status": "final", '
        b'"code": {"text": "w"}, "valueQuantity": {"value": 72.50}}',
    )
    assert raw.status_code == 201
    assert b'"value":72.50' in fhir.get(f"Observation/{raw.get_json()['id']}").data
    assert fhir.post("Observation", kept).status_code == 201
    before = snapshot()
    too_precise = (
        b'{"resourceType": "Observation", "status": "final", "code": {"text": "w"}, '
        b'"valueQuantity": {"value": 1.0000000000000000000000000000000000001}}'
    )
    body = assert_outcome(fhir.post("Observation", too_precise), 422)
    assert body["issue"][0]["expression"] == ["Observation.valueQuantity.value"]
    assert snapshot() == before


def test_primitive_arrays_align_with_their_extensions(fhir):
    extension = {"extension": [{"url": "http://example.org/x", "valueCode": "a"}]}
    name = {"given": ["Léa", None], "_given": [None, extension]}
    created = fhir.create({**PATIENT, "name": [name]})
    assert fhir.get(f"Patient/{created['id']}").get_json()["name"] == [name]
    for wrong in (
        {"given": ["Léa", None], "_given": [None, None]},
        {"given": ["Léa"], "_given": [None, extension]},
        {"given": [None], "_given": [None]},
    ):
        assert_outcome(fhir.post("Patient", {**PATIENT, "name": [wrong]}), 422)


def test_a_primitive_may_carry_only_its_extensions(fhir):
    extension = {"url": "http://hl7.org/fhir/StructureDefinition/data-absent-reason"}
    resource = {**PATIENT, "_birthDate": {"extension": [{**extension, "valueCode": "unknown"}]}}
    created = fhir.create(resource)
    assert created["_birthDate"] == resource["_birthDate"]


@pytest.mark.parametrize(
    "resource, expression",
    [
        ({**PATIENT, "name": [{"use": "nickame", "family": "Roux"}]}, "Patient.name[0].use"),
        ({**PATIENT, "telecom": [{"system": "pigeon", "value": "x"}]}, "Patient.telecom[0].system"),
        ({**PATIENT, "telecom": [{"use": "cell", "value": "x"}]}, "Patient.telecom[0].use"),
        ({**PATIENT, "address": [{"use": "holiday"}]}, "Patient.address[0].use"),
        ({**PATIENT, "address": [{"type": "virtual"}]}, "Patient.address[0].type"),
        ({**PATIENT, "identifier": [{"use": "main", "value": "1"}]}, "Patient.identifier[0].use"),
        (
            {
                **PATIENT,
                "text": {
                    "status": "done",
                    "div": '<div xmlns="http://www.w3.org/1999/xhtml">x</div>',
                },
            },
            "Patient.text.status",
        ),
        (
            {**OBSERVATION, "valueQuantity": {"value": 3, "comparator": "=="}},
            "Observation.valueQuantity.comparator",
        ),
        (
            {**PATIENT, "contact": [{"name": {"use": "bogus"}}]},
            "Patient.contact[0].name.use",
        ),
        (
            {**PATIENT, "extension": [{"url": "http://x", "valueHumanName": {"use": "x"}}]},
            "Patient.extension[0].valueHumanName.use",
        ),
        (
            {**PATIENT, "contained": [{"resourceType": "Patient", "gender": "f"}]},
            "Patient.contained[0].gender",
        ),
        (
            {**ALLERGY, "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "gone"}]}},
            "AllergyIntolerance.clinicalStatus",
        ),
        (
            {**ALLERGY, "clinicalStatus": {"text": "active"}},
            "AllergyIntolerance.clinicalStatus",
        ),
        (
            {**ALLERGY, "verificationStatus": {"coding": [{"system": CLINICAL, "code": "active"}]}},
            "AllergyIntolerance.verificationStatus",
        ),
    ],
)
def test_required_bindings_inside_data_types_and_concepts(fhir, snapshot, resource, expression):
    before = snapshot()
    body = assert_outcome(fhir.post(resource["resourceType"], resource), 422, "code-invalid")
    assert body["issue"][0]["expression"] == [expression], body
    assert snapshot() == before


def test_codes_of_required_value_sets_are_accepted(fhir):
    allergy = {
        **ALLERGY,
        "clinicalStatus": {"coding": [{"system": CLINICAL, "code": "active"}], "text": "active"},
    }
    assert fhir.post("AllergyIntolerance", allergy).status_code == 201
    patient = {
        **PATIENT,
        "name": [{"use": "official", "family": "Roux"}],
        "telecom": [{"system": "email", "use": "home", "value": "a@example.org"}],
        "address": [{"use": "home", "type": "both", "city": "Lyon"}],
    }
    assert fhir.post("Patient", patient).status_code == 201
