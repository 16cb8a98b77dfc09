"""The BMI the server derives from the latest height and weight (fhir_server.profile.bmi)."""

from decimal import Decimal

import pytest

from tests.conftest import assert_outcome
from tests.consent.world import patient, practitioner, privacy_consent

LOINC, UCUM = "http://loinc.org", "http://unitsofmeasure.org"


def vital(code: str, value, unit: str, when: str, pid: str = "p1", system: str = UCUM) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{pid}"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": system, "code": unit},
    }


def height(value, unit="cm", when="2026-01-01", **kw):
    return vital("8302-2", value, unit, when, **kw)


def weight(value, unit="kg", when="2026-01-01", **kw):
    return vital("29463-7", value, unit, when, **kw)


@pytest.fixture
def me(fhir, client_for):
    fhir.put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    return patient(client_for, "p1")


def bmis(client) -> list[dict]:
    bundle = client.search(f"Observation?patient=Patient/p1&code={LOINC}|39156-5")
    return [e["resource"] for e in bundle.get("entry", [])]


def value(bmi: dict) -> Decimal:
    return Decimal(str(bmi["valueQuantity"]["value"]))


def test_height_then_weight_derive_one_bmi_in_kg_per_square_metre(me):
    h = me.create(height(180))
    assert bmis(me) == []  # a height alone says nothing of the BMI
    w = me.create(weight(81))
    [bmi] = bmis(me)
    assert value(bmi) == Decimal("25.0")
    assert bmi["valueQuantity"]["code"] == "kg/m2"
    assert bmi["valueQuantity"]["system"] == UCUM
    assert {d["reference"] for d in bmi["derivedFrom"]} == {
        f"Observation/{h['id']}",
        f"Observation/{w['id']}",
    }
    assert bmi["subject"] == {"reference": "Patient/p1"}


@pytest.mark.parametrize(
    "h, hu, w, wu, expected",
    [
        (1.8, "m", 81000, "g", "25.0"),
        (1750, "mm", 154.3, "[lb_av]", "22.9"),  # 154.3 lb = 69.989... kg
        (70, "[in_i]", 160, "[lb_av]", "23.0"),  # 1.778 m, 72.57 kg
    ],
)
def test_units_are_converted(me, h, hu, w, wu, expected):
    me.create(height(h, hu))
    me.create(weight(w, wu))
    assert value(bmis(me)[0]) == Decimal(expected)


def test_the_latest_by_effective_date_counts_and_the_bmi_follows_changes(me):
    me.create(height(180, when="2025-06-01"))
    me.create(height(200, when="2024-01-01"))  # written later, measured earlier: not the latest
    w = me.create(weight(81, when="2025-06-01"))
    [bmi] = bmis(me)
    assert value(bmi) == Decimal("25.0")
    changed = {**w, "valueQuantity": {**w["valueQuantity"], "value": 97.2}}
    assert me.put(f"Observation/{w['id']}", changed).status_code == 200
    [again] = bmis(me)
    assert again["id"] == bmi["id"] and again["meta"]["versionId"] == "2"
    assert value(again) == Decimal("30.0")
    me.create(weight(64.8, when="2026-02-01"))
    assert value(bmis(me)[0]) == Decimal("20.0")
    assert bmis(me)[0]["effectiveDateTime"] == "2026-02-01"


def test_deleting_the_only_weight_removes_the_bmi(me):
    me.create(height(180))
    w = me.create(weight(81))
    assert len(bmis(me)) == 1
    assert me.delete(f"Observation/{w['id']}").status_code == 204
    assert bmis(me) == []


def test_a_bmi_sent_by_a_client_is_refused_and_nothing_is_stored(me, fhir, snapshot):
    before = snapshot()
    posted = vital("39156-5", 22, "kg/m2", "2026-01-01")
    outcome = assert_outcome(me.post("Observation", posted), 422, "business-rule")
    assert "computed by the server" in outcome["issue"][0]["diagnostics"]
    assert_outcome(fhir.post("Observation", posted), 422)  # the operator's clients too
    assert snapshot() == before


def test_the_derived_bmi_is_the_server_s_and_the_patient_cannot_change_it(me):
    me.create(height(180))
    me.create(weight(81))
    [bmi] = bmis(me)
    edited = {**bmi, "valueQuantity": {**bmi["valueQuantity"], "value": 19}}
    assert_outcome(me.put(f"Observation/{bmi['id']}", edited), 422)
    assert_outcome(me.delete(f"Observation/{bmi['id']}"), 403)


def test_a_ucum_height_in_a_unit_the_bmi_cannot_use_is_refused(me, snapshot):
    before = snapshot()
    assert_outcome(me.post("Observation", height(5.9, "[ft_us]")), 422, "value")
    assert_outcome(me.post("Observation", weight(80, "kg/m2")), 422, "value")
    assert_outcome(me.post("Observation", height(0)), 422, "value")
    assert snapshot() == before


def test_a_weight_in_no_ucum_unit_is_kept_but_makes_no_bmi(me):
    me.create(height(180))
    me.create(weight(81, "kg", system="urn:other"))
    assert bmis(me) == []
    me.create(weight(81, "kg", when="2025-01-01"))  # earlier, but the only one in UCUM
    assert value(bmis(me)[0]) == Decimal("25.0")


def test_a_professional_s_weight_and_the_patient_s_height_make_one_bmi(me, fhir, client_for):
    fhir.put("Practitioner/doc", {"resourceType": "Practitioner", "id": "doc"})
    me.create(privacy_consent("p1", "permit", ["Practitioner/doc"]))
    doctor = practitioner(client_for, "doc", "p1")
    me.create(height(180))
    doctor.create(weight(81))
    [bmi] = bmis(doctor)
    assert value(bmi) == Decimal("25.0")
    me.create(height(150, when="2026-03-01"))  # the patient's write updates the server's BMI
    assert value(bmis(me)[0]) == Decimal("36.0")


def test_height_and_weight_in_one_transaction_make_the_bmi_in_its_unit_of_work(me, snapshot):
    entries = [
        {"resource": height(160), "request": {"method": "POST", "url": "Observation"}},
        {"resource": weight(64), "request": {"method": "POST", "url": "Observation"}},
        {
            "resource": {"resourceType": "Patient", "id": "p1"},
            "request": {"method": "PUT", "url": "Patient/p1/x"},
        },
    ]
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
    before = snapshot()
    assert_outcome(me.post("/fhir", bundle), 400)
    assert snapshot() == before  # no height, no weight, no BMI
    bundle["entry"].pop()
    answer = me.post("/fhir", bundle)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [bmi] = bmis(me)
    assert value(bmi) == Decimal("25.0")


VISIBILITY = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)


def labelled(observation: dict, code: str) -> dict:
    return {**observation, "meta": {"security": [{"system": VISIBILITY, "code": code}]}}


def test_a_height_masked_from_professionals_is_not_behind_the_bmi_they_read(me, fhir, client_for):
    for who in ("doc", "other"):
        fhir.put(f"Practitioner/{who}", {"resourceType": "Practitioner", "id": who})
    me.create(privacy_consent("p1", "permit", ["Practitioner/doc", "Practitioner/other"]))
    doctor, other = (practitioner(client_for, who, "p1") for who in ("doc", "other"))
    seen = me.create(height(180, when="2025-01-01"))
    masked = doctor.create(labelled(height(150, when="2026-02-01"), "MASQUE_PS"))
    me.create(weight(81))
    assert_outcome(other.get(f"Observation/{masked['id']}"), 404)  # masked from them
    for reader in (other, doctor, me):
        [bmi] = bmis(reader)
        assert f"Observation/{masked['id']}" not in {d["reference"] for d in bmi["derivedFrom"]}
        assert f"Observation/{seen['id']}" in {d["reference"] for d in bmi["derivedFrom"]}
        assert value(bmi) == Decimal("25.0")  # nor its value, behind the BMI's


def test_a_weight_kept_from_the_patient_is_not_behind_the_bmi_they_read(me, fhir, client_for):
    fhir.put("Practitioner/doc", {"resourceType": "Practitioner", "id": "doc"})
    me.create(privacy_consent("p1", "permit", ["Practitioner/doc"]))
    doctor = practitioner(client_for, "doc", "p1")
    me.create(height(180))
    kept = doctor.create(labelled(weight(97.2), "INVISIBLE_PATIENT"))
    assert_outcome(me.get(f"Observation/{kept['id']}"), 404)  # until it is announced
    assert bmis(me) == []  # the only weight is not the patient's to see yet: no BMI
    assert bmis(doctor) == []
    me.create(weight(81, when="2025-06-01"))
    [bmi] = bmis(me)
    assert f"Observation/{kept['id']}" not in {d["reference"] for d in bmi["derivedFrom"]}
    assert value(bmi) == Decimal("25.0")
