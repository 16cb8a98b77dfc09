"""Reference search, chaining and _has through HTTP: https://hl7.org/fhir/R4/search.html#reference"""

from dataclasses import replace

import pytest

from tests.conftest import BASE, assert_outcome

INS = "urn:oid:1.2.250.1.213.1.4.8"
LOINC = "http://loinc.org"


def _doc(subject=None, type_code="11488-4", author=None):
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "type": {"coding": [{"system": LOINC, "code": type_code}]},
        "content": [{"attachment": {"contentType": "text/plain", "url": "http://x/a"}}],
    }
    if subject:
        doc["subject"] = {"reference": subject}
    if author:
        doc["author"] = [{"reference": author}]
    return doc


@pytest.fixture
def world(fhir):
    def patient(ins):
        body = {"resourceType": "Patient", "identifier": [{"system": INS, "value": ins}]}
        return fhir.create(body)["id"]

    ann, bob = patient("111"), patient("222")
    doctor = fhir.create({"resourceType": "Practitioner"})["id"]
    made = {
        "ann_report": _doc(f"Patient/{ann}", author=f"Practitioner/{doctor}"),
        "ann_summary": _doc(f"Patient/{ann}", type_code="34133-9"),
        "bob_report": _doc(f"Patient/{bob}"),
        "orphan": _doc(),
        "about_doctor": _doc(f"Practitioner/{doctor}"),
    }
    ids = {name: fhir.create(body)["id"] for name, body in made.items()}
    return {**ids, "ann": ann, "bob": bob, "doctor": doctor}


def _ids(fhir, query):
    return sorted(fhir.ids(f"DocumentReference?{query}"))


def _of(world, *names):
    return sorted(world[n] for n in names)


def test_type_and_id(fhir, world):
    assert _ids(fhir, f"subject=Patient/{world['ann']}") == _of(world, "ann_report", "ann_summary")
    assert _ids(fhir, f"patient=Patient/{world['bob']}") == _of(world, "bob_report")


def test_bare_id_and_type_modifier(fhir, world):
    assert _ids(fhir, f"subject={world['bob']}") == _of(world, "bob_report")
    assert _ids(fhir, f"subject:Patient={world['bob']}") == _of(world, "bob_report")
    assert _ids(fhir, f"subject:Practitioner={world['bob']}") == []
    assert _ids(fhir, f"subject={world['doctor']}") == _of(world, "about_doctor")


def test_absolute_url_on_this_server(fhir, world):
    assert _ids(fhir, f"subject={BASE}/Patient/{world['ann']}") == _of(
        world, "ann_report", "ann_summary"
    )
    assert _ids(fhir, f"subject=http://elsewhere/fhir/Patient/{world['ann']}") == []


def test_or_and_versioned(fhir, world):
    query = f"subject=Patient/{world['bob']},Practitioner/{world['doctor']}"
    assert _ids(fhir, query) == _of(world, "bob_report", "about_doctor")
    assert _ids(fhir, f"subject=Patient/{world['bob']}/_history/1") == _of(world, "bob_report")


def test_patient_parameter_ignores_other_subjects(fhir, world):
    assert _ids(fhir, f"patient={world['doctor']}") == []


def test_missing(fhir, world):
    # Narrowed by `status`: alone, nothing would bound it across records (400 too-costly).
    assert _ids(fhir, "status=current&subject:missing=true") == _of(world, "orphan")
    assert world["orphan"] not in _ids(fhir, "status=current&subject:missing=false")
    assert len(_ids(fhir, "status=current&subject:missing=false")) == 4
    assert_outcome(fhir.get("DocumentReference?subject:missing=true"), 400, "too-costly")
    assert_outcome(fhir.get("DocumentReference?subject:missing=maybe"), 400)


def test_chain_on_identifier(fhir, world):
    assert _ids(fhir, f"patient.identifier={INS}|111") == _of(world, "ann_report", "ann_summary")
    assert _ids(fhir, f"subject:Patient.identifier={INS}|222") == _of(world, "bob_report")
    assert _ids(fhir, f"subject:Patient.identifier={INS}|999") == []
    both = f"subject:Patient.identifier={INS}|111&type=34133-9"
    assert _ids(fhir, both) == _of(world, "ann_summary")


def test_chain_on_unknown_parameter_is_400(fhir, world):
    assert_outcome(fhir.get("DocumentReference?patient.shoesize=42"), 400)
    assert_outcome(fhir.get("DocumentReference?type.text=x"), 400)


def test_reverse_chain_has(fhir, world):
    assert fhir.ids("Patient?_has:DocumentReference:subject:type=34133-9") == [world["ann"]]
    assert sorted(fhir.ids("Patient?_has:DocumentReference:subject:type=11488-4")) == sorted(
        [world["ann"], world["bob"]]
    )
    assert fhir.ids("Patient?_has:DocumentReference:subject:type=00000-0") == []
    assert fhir.ids(f"Patient?_has:DocumentReference:subject:author={world['doctor']}") == [
        world["ann"]
    ]


def test_malformed_has_is_400(fhir, world):
    assert_outcome(fhir.get("Patient?_has:DocumentReference:type=x"), 400)
    assert_outcome(fhir.get("Patient?_has:DocumentReference:subject:nope=x"), 400)


def test_bad_reference_is_400(fhir, world):
    assert_outcome(fhir.get("DocumentReference?subject=Patient/a/b"), 400)
    assert_outcome(fhir.get("DocumentReference?subject:Spaceship=1"), 400)


def test_stored_absolute_and_versioned_references_match(fhir, world):
    absolute = fhir.create(_doc(f"{BASE}/Patient/{world['bob']}"))["id"]
    versioned = fhir.create(_doc(f"Patient/{world['bob']}/_history/1"))["id"]
    expected = sorted([world["bob_report"], absolute, versioned])
    assert _ids(fhir, f"subject=Patient/{world['bob']}") == expected
    assert _ids(fhir, f"patient={world['bob']}") == expected
    assert _ids(fhir, f"subject={BASE}/Patient/{world['bob']}") == expected
    bundle = fhir.search(
        f"DocumentReference?_id={absolute},{versioned}&_include=DocumentReference:subject"
    )
    included = [e["resource"]["id"] for e in bundle["entry"] if e["search"]["mode"] == "include"]
    assert included == [world["bob"]]
    assert fhir.ids(f"Patient?_has:DocumentReference:subject:_id={absolute}") == [world["bob"]]


def test_logical_reference_by_identifier(fhir, world):
    logical = _doc()
    logical["subject"] = {"identifier": {"system": INS, "value": "111"}}
    made = fhir.create(logical)["id"]
    assert _ids(fhir, f"subject:identifier={INS}|111") == [made]
    assert _ids(fhir, f"subject:identifier={INS}|222") == []


def test_chain_modifiers_and_two_levels(fhir, world):
    nameless = fhir.create({"resourceType": "Patient"})["id"]
    doc = fhir.create(_doc(f"Patient/{nameless}"))["id"]
    assert _ids(fhir, f"patient._id={nameless}") == [doc]
    # Every Patient without an identifier: no index bounds the inner search.
    assert_outcome(fhir.get("DocumentReference?patient.identifier:missing=true"), 400, "too-costly")
    assert_outcome(fhir.get("DocumentReference?patient.identifier:below=x"), 400)
    org = fhir.create({"resourceType": "Organization", "name": "CHU Lyon"})["id"]
    fhir.put(
        f"Patient/{world['bob']}",
        {
            "resourceType": "Patient",
            "id": world["bob"],
            "managingOrganization": {"reference": f"Organization/{org}"},
        },
    )
    assert _ids(fhir, "patient.organization.name=chu") == _of(world, "bob_report")


class TestSubQueryLimit:
    """A chain's or `_has`'s inner search may match at most `max_chain_ids` resources (400 beyond)."""

    @pytest.fixture
    def settings(self, settings):
        return replace(settings, max_chain_ids=1)

    def test_chain_matching_too_many_is_too_costly(self, fhir, world):
        assert _ids(fhir, f"patient.identifier={INS}|111") == _of(
            world, "ann_report", "ann_summary"
        )
        both = f"patient.identifier={INS}|111,{INS}|222"
        body = assert_outcome(fhir.get(f"DocumentReference?{both}"), 400)
        assert body["issue"][0]["code"] == "too-costly"
        assert "more than 1 Patient" in body["issue"][0]["diagnostics"]

    def test_has_matching_too_many_is_too_costly(self, fhir, world):
        assert fhir.ids("Patient?_has:DocumentReference:subject:type=34133-9") == [world["ann"]]
        body = assert_outcome(
            fhir.get("Patient?_has:DocumentReference:subject:type=11488-4"), 400, "too-costly"
        )
        assert "more than 1 DocumentReference" in body["issue"][0]["diagnostics"]
