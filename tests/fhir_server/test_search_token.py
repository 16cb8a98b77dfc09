"""Token search through HTTP: https://hl7.org/fhir/R4/search.html#token"""

import pytest

from tests.conftest import assert_outcome

LOINC = "http://loinc.org"
CONF = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
INS = "urn:oid:1.2.250.1.213.1.4.8"
IDTYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"


def _doc(type_code, status="current", system=LOINC, category=None, label=None, master=None):
    doc = {
        "resourceType": "DocumentReference",
        "status": status,
        "type": {"coding": [{"system": system, "code": type_code, "display": f"Doc {type_code}"}]},
        "content": [{"attachment": {"contentType": "text/plain", "url": "http://x/a"}}],
    }
    if category:
        doc["category"] = [{"coding": [{"system": "urn:cat", "code": category}]}]
    if label:
        doc["securityLabel"] = [{"coding": [{"system": CONF, "code": label}]}]
    if master:
        doc["masterIdentifier"] = {"system": "urn:ietf:rfc:3986", "value": master}
    return doc


@pytest.fixture
def docs(fhir):
    made = {
        "report": _doc("11488-4", category="clinical", label="N", master="urn:oid:1.2.3"),
        "summary": _doc("34133-9", category="admin", label="R"),
        "local": _doc("11488-4", system="urn:local", status="superseded"),
        "nosystem": {**_doc("X1"), "type": {"coding": [{"code": "X1"}], "text": "Lettre libre"}},
    }
    return {name: fhir.create(body)["id"] for name, body in made.items()}


def _ids(fhir, query):
    return sorted(fhir.ids(f"DocumentReference?{query}"))


def _of(docs, *names):
    return sorted(docs[n] for n in names)


def test_code_alone_matches_any_system(fhir, docs):
    assert _ids(fhir, "type=11488-4") == _of(docs, "report", "local")


def test_system_and_code(fhir, docs):
    assert _ids(fhir, f"type={LOINC}|11488-4") == _of(docs, "report")


def test_empty_system_matches_codes_without_system(fhir, docs):
    assert _ids(fhir, "type=|X1") == _of(docs, "nosystem")
    assert _ids(fhir, "type=|11488-4") == []


def test_system_only(fhir, docs):
    assert _ids(fhir, f"type={LOINC}|") == _of(docs, "report", "summary")


def test_not_excludes_matches(fhir, docs):
    assert _ids(fhir, "status=current&type:not=11488-4") == _of(docs, "summary", "nosystem")
    assert _ids(fhir, "type=11488-4&status:not=current") == _of(docs, "local")


def test_not_alone_across_records_is_too_costly(fhir, docs):
    # Every document but those of one code: no index bounds it without a narrowing parameter.
    body = assert_outcome(fhir.get("DocumentReference?type:not=11488-4"), 400, "too-costly")
    issue = body["issue"][0]
    assert issue["expression"] == ["type:not"]
    assert (
        "'type:not' can only filter a search that another parameter narrows"
        in (issue["diagnostics"])
    )
    assert "$ne" not in issue["diagnostics"] and "tk" not in issue["diagnostics"]


def test_text_matches_display_and_text_case_insensitively(fhir, docs):
    assert _ids(fhir, "type:text=doc 3413") == _of(docs, "summary")
    assert _ids(fhir, "type:text=LETTRE") == _of(docs, "nosystem")


def test_comma_is_or(fhir, docs):
    assert _ids(fhir, "type=34133-9,X1") == _of(docs, "summary", "nosystem")


def test_repeated_parameter_is_and(fhir, docs):
    assert _ids(fhir, "type=11488-4&status=current") == _of(docs, "report")
    assert _ids(fhir, "category=clinical&category=admin") == []


def test_category_status_security_label_identifier(fhir, docs):
    assert _ids(fhir, "category=admin") == _of(docs, "summary")
    assert _ids(fhir, "status=superseded") == _of(docs, "local")
    assert _ids(fhir, f"security-label={CONF}|R") == _of(docs, "summary")
    assert _ids(fhir, "identifier=urn:ietf:rfc:3986|urn:oid:1.2.3") == _of(docs, "report")
    assert _ids(fhir, "identifier=urn:oid:1.2.3") == _of(docs, "report")


def test_empty_system_and_code_is_400(fhir, docs):
    assert_outcome(fhir.get("DocumentReference?type=|"), 400)


@pytest.fixture
def patients(fhir):
    def patient(gender, ins, type_code="NI"):
        return fhir.create(
            {
                "resourceType": "Patient",
                "gender": gender,
                "identifier": [
                    {
                        "type": {"coding": [{"system": IDTYPE, "code": type_code}]},
                        "system": INS,
                        "value": ins,
                    }
                ],
            }
        )["id"]

    return {"anna": patient("female", "111"), "bob": patient("male", "222", "MR")}


def test_patient_gender_and_identifier(fhir, patients):
    assert fhir.ids("Patient?gender=female") == [patients["anna"]]
    assert fhir.ids(f"Patient?identifier={INS}|222") == [patients["bob"]]
    assert fhir.ids("Patient?identifier=other|222") == []


def test_identifier_of_type(fhir, patients):
    assert fhir.ids(f"Patient?identifier:of-type={IDTYPE}|NI|111") == [patients["anna"]]
    assert fhir.ids(f"Patient?identifier:of-type={IDTYPE}|NI|222") == []
    assert fhir.ids(f"Patient?identifier:of-type={IDTYPE}|MR|222") == [patients["bob"]]
    assert_outcome(fhir.get("Patient?identifier:of-type=NI|111"), 400)


def test_unknown_modifier_is_400(fhir, patients):
    assert_outcome(fhir.get("Patient?gender:below=female"), 400)


def test_immunization_and_allergy_codes(fhir):
    cvx = "http://hl7.org/fhir/sid/cvx"
    clin = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
    imm = {
        "resourceType": "Immunization",
        "status": "completed",
        "patient": {"reference": "Patient/p1"},
        "occurrenceDateTime": "2024-01-01",
    }
    flu = fhir.create({**imm, "vaccineCode": {"coding": [{"system": cvx, "code": "140"}]}})
    fhir.create({**imm, "vaccineCode": {"coding": [{"system": cvx, "code": "207"}]}})
    assert fhir.ids(f"Immunization?vaccine-code={cvx}|140") == [flu["id"]]
    allergy = {"resourceType": "AllergyIntolerance", "patient": {"reference": "Patient/p1"}}
    active = fhir.create(
        {**allergy, "clinicalStatus": {"coding": [{"system": clin, "code": "active"}]}}
    )
    resolved = fhir.create(
        {**allergy, "clinicalStatus": {"coding": [{"system": clin, "code": "resolved"}]}}
    )
    assert fhir.ids("AllergyIntolerance?clinical-status=active") == [active["id"]]
    not_active = f"AllergyIntolerance?patient=Patient/p1&clinical-status:not={clin}|active"
    assert fhir.ids(not_active) == [resolved["id"]]


def test_escaped_comma_and_pipe_are_literal(fhir):
    odd = fhir.create({"resourceType": "Patient", "identifier": [{"value": "a|b,c"}]})["id"]
    fhir.create({"resourceType": "Patient", "identifier": [{"system": "a", "value": "b"}]})
    assert fhir.ids("Patient?identifier=a\\|b\\,c") == [odd]
    assert fhir.ids("Patient?identifier=|a\\|b\\,c") == [odd]
    assert fhir.ids("Patient?identifier=a|b\\,c") == []
    assert_outcome(fhir.get("Patient?identifier=x|y|z"), 400)
