"""Quantity, uri and :missing through HTTP.

https://hl7.org/fhir/R4/search.html#quantity, #uri and #modifiers (`:missing`). No supported
resource type has a `number` parameter, so numbers are covered through quantities.
"""

import pytest

from tests.conftest import assert_outcome

UCUM = "http://unitsofmeasure.org"
PROFILE = "http://example.org/fhir/StructureDefinition/poids"


@pytest.fixture
def weights(fhir):
    def obs(value=None, code="kg", system=UCUM, profile=None):
        body = {"resourceType": "Observation", "status": "final", "code": {"text": "poids"}}
        if value is not None:
            body["valueQuantity"] = {"value": value, "unit": code, "system": system, "code": code}
        if profile:
            body["meta"] = {"profile": [profile]}
        return fhir.create(body)["id"]

    return {
        "light": obs(5.4),
        "mid": obs(70, profile=PROFILE),
        "heavy": obs(100.25),
        "grams": obs(5.4, code="g"),
        "none": obs(),
    }


def _ids(fhir, query):
    return sorted(fhir.ids(f"Observation?{query}"))


def _of(ids, *names):
    return sorted(ids[n] for n in names)


def test_eq_uses_the_precision_of_the_value(fhir, weights):
    assert _ids(fhir, "value-quantity=5.4") == _of(weights, "light", "grams")
    assert _ids(fhir, "value-quantity=5.40") == _of(weights, "light", "grams")
    assert _ids(fhir, "value-quantity=70") == _of(weights, "mid")
    assert _ids(fhir, "value-quantity=100") == _of(weights, "heavy")
    assert _ids(fhir, "value-quantity=100.0") == []


def test_system_and_code(fhir, weights):
    assert _ids(fhir, f"value-quantity=5.4|{UCUM}|kg") == _of(weights, "light")
    assert _ids(fhir, "value-quantity=5.4||g") == _of(weights, "grams")
    assert _ids(fhir, "value-quantity=5.4|urn:other|kg") == []


def test_prefixes(fhir, weights):
    assert _ids(fhir, "value-quantity=gt70") == _of(weights, "heavy")
    assert _ids(fhir, "value-quantity=ge70") == _of(weights, "mid", "heavy")
    assert _ids(fhir, "value-quantity=lt70") == _of(weights, "light", "grams")
    assert _ids(fhir, "value-quantity=le70||kg") == _of(weights, "light", "mid")
    assert _ids(fhir, "value-quantity=ne70") == _of(weights, "light", "heavy", "grams")
    assert _ids(fhir, "value-quantity=ap95") == _of(weights, "heavy")
    assert _ids(fhir, "value-quantity=gt5&value-quantity=lt100") == _of(
        weights, "light", "mid", "grams"
    )


def test_bad_quantity_is_400(fhir, weights):
    assert_outcome(fhir.get("Observation?value-quantity=heavy"), 400)
    assert_outcome(fhir.get("Observation?value-quantity=gtx"), 400)
    for value in ("nan", "1e999", "inf", "5|a", "5|a|b|c"):
        assert_outcome(fhir.get(f"Observation?value-quantity={value}"), 400)


def test_profile_uri(fhir, weights):
    assert _ids(fhir, f"_profile={PROFILE}") == _of(weights, "mid")
    assert _ids(fhir, "_profile=http://example.org/fhir/StructureDefinition") == []


def test_missing_on_quantity_and_uri(fhir, weights):
    # Narrowed by another parameter (here `status`): alone, nothing would bound it across records.
    assert _ids(fhir, "status=final&value-quantity:missing=true") == _of(weights, "none")
    assert _ids(fhir, "status=final&value-quantity:missing=false") == _of(
        weights, "light", "mid", "heavy", "grams"
    )
    assert _ids(fhir, "status=final&_profile:missing=false") == _of(weights, "mid")


def test_missing_alone_across_records_is_too_costly(fhir, weights, snapshot):
    before = snapshot()
    for url in ("Observation?value-quantity:missing=true", "Observation?_profile:missing=false"):
        body = assert_outcome(fhir.get(url), 400, "too-costly")
        assert "narrows it" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_missing_on_token_string_and_date(fhir):
    full = fhir.create(
        {
            "resourceType": "Patient",
            "gender": "other",
            "birthDate": "1990",
            "name": [{"family": "Roux"}],
        }
    )["id"]
    empty = fhir.create({"resourceType": "Patient", "active": True})["id"]
    both = f"_id={full},{empty}"
    for param in ("gender", "birthdate", "family"):
        assert fhir.ids(f"Patient?{both}&{param}:missing=true") == [empty], param
        assert fhir.ids(f"Patient?{both}&{param}:missing=false") == [full], param
    assert_outcome(fhir.get("Patient?gender:missing=yes"), 400)
