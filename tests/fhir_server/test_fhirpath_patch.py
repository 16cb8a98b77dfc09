"""FHIRPath Patch (fhir_server.fhirpath_patch) through PATCH [type]/[id] with a Parameters body,
https://hl7.org/fhir/R4/fhirpatch.html, beside JSON Patch."""

import pytest

from tests.conftest import FHIR_JSON, assert_outcome


def operation(type: str, path: str, **parts) -> dict:
    out = [{"name": "type", "valueCode": type}, {"name": "path", "valueString": path}]
    for name, value in parts.items():
        if name in ("index", "source", "destination"):
            out.append({"name": name, "valueInteger": value})
        elif name == "name":
            out.append({"name": "name", "valueString": value})
        else:
            key, typed = value
            out.append({"name": "value", key: typed})
    return {"name": "operation", "part": out}


def patch(fhir, url: str, *operations, **kw):
    body = {"resourceType": "Parameters", "parameter": list(operations)}
    return fhir.patch(url, body, content_type=FHIR_JSON, **kw)


@pytest.fixture
def alice(fhir) -> dict:
    return fhir.create(
        {
            "resourceType": "Patient",
            "active": True,
            "gender": "female",
            "birthDate": "1980-02-03",
            "identifier": [
                {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": "284057505612387"},
                {"system": "urn:example:local", "value": "A-1"},
            ],
            "name": [{"family": "Martin", "given": ["Alice"]}],
        }
    )


def test_replace(fhir, alice):
    url = f"Patient/{alice['id']}"
    answer = patch(fhir, url, operation("replace", "Patient.gender", value=("valueCode", "other")))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["gender"] == "other"
    assert answer.headers["ETag"] == 'W/"2"'
    assert fhir.get(url).get_json()["gender"] == "other"


def test_replace_with_where_and_a_data_type(fhir, alice):
    answer = patch(
        fhir,
        f"Patient/{alice['id']}",
        operation(
            "replace",
            "Patient.identifier.where(system='urn:example:local').value",
            value=("valueString", "A-2"),
        ),
        operation(
            "replace",
            "Patient.name[0]",
            value=("valueHumanName", {"family": "Martin-Dupont", "given": ["Alice", "Marie"]}),
        ),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    patched = answer.get_json()
    assert patched["identifier"][1]["value"] == "A-2"
    assert patched["identifier"][0]["value"] == "284057505612387"
    assert patched["name"] == [{"family": "Martin-Dupont", "given": ["Alice", "Marie"]}]


def test_add_to_a_repeating_and_to_a_single_element(fhir, alice):
    answer = patch(
        fhir,
        f"Patient/{alice['id']}",
        operation(
            "add",
            "Patient",
            name="telecom",
            value=("valueContactPoint", {"system": "email", "value": "alice@example.fr"}),
        ),
        operation("add", "Patient.name.first()", name="given", value=("valueString", "Marie")),
        operation("add", "Patient", name="deceasedBoolean", value=("valueBoolean", False)),
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    patched = answer.get_json()
    assert patched["telecom"] == [{"system": "email", "value": "alice@example.fr"}]
    assert patched["name"][0]["given"] == ["Alice", "Marie"]
    assert patched["deceasedBoolean"] is False


def test_insert_move_and_delete(fhir, alice):
    new = {"system": "urn:example:other", "value": "Z"}
    answer = patch(
        fhir,
        f"Patient/{alice['id']}",
        operation("insert", "Patient.identifier", index=0, value=("valueIdentifier", new)),
        operation("move", "Patient.identifier", source=0, destination=2),
        operation("delete", "Patient.birthDate"),
        operation("delete", "Patient.identifier.where(system='urn:example:local')"),
        operation("delete", "Patient.maritalStatus"),  # not there: nothing to do
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    patched = answer.get_json()
    assert [i["value"] for i in patched["identifier"]] == ["284057505612387", "Z"]
    assert "birthDate" not in patched


def test_a_backbone_value_given_as_parts(fhir, alice):
    contact = {
        "name": "operation",
        "part": [
            {"name": "type", "valueCode": "add"},
            {"name": "path", "valueString": "Patient"},
            {"name": "name", "valueString": "contact"},
            {
                "name": "value",
                "part": [
                    {"name": "name", "valueHumanName": {"family": "Martin", "given": ["Paul"]}},
                    {"name": "gender", "valueCode": "male"},
                ],
            },
        ],
    }
    answer = patch(fhir, f"Patient/{alice['id']}", contact)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["contact"] == [
        {"name": {"family": "Martin", "given": ["Paul"]}, "gender": "male"}
    ]


@pytest.mark.parametrize(
    "op",
    [
        operation("replace", "Patient.identifier.value", value=("valueString", "x")),  # two
        operation("replace", "Patient.maritalStatus", value=("valueString", "x")),  # none
        operation("delete", "Patient.identifier"),  # two elements
        operation("insert", "Patient.identifier", index=5, value=("valueIdentifier", {})),
        operation("move", "Patient.identifier", source=0, destination=9),
        operation("add", "Patient", name="gender", value=("valueCode", "male")),  # already there
    ],
)
def test_a_patch_that_cannot_apply_is_422_and_changes_nothing(fhir, alice, op, snapshot):
    before = snapshot()
    assert_outcome(patch(fhir, f"Patient/{alice['id']}", op), 422, "processing")
    assert snapshot() == before


def test_a_result_that_is_not_a_valid_resource_is_422(fhir, alice, snapshot):
    before = snapshot()
    op = operation("replace", "Patient.gender", value=("valueCode", "sometimes"))
    body = assert_outcome(patch(fhir, f"Patient/{alice['id']}", op), 422)
    assert "gender" in str(body)
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Parameters"},
        {"resourceType": "Parameters", "parameter": [{"name": "op"}]},
        {"resourceType": "Parameters", "parameter": [operation("rename", "Patient.gender")]},
        {"resourceType": "Parameters", "parameter": [operation("replace", "Patient.gender")]},
        {"resourceType": "Parameters", "parameter": [operation("delete", "Observation.status")]},
        {"resourceType": "Parameters", "parameter": [operation("delete", "Patient.name.(x)")]},
        {"resourceType": "Parameters", "parameter": [operation("delete", "Patient.exists()")]},
        {"resourceType": "Parameters", "parameter": [operation("delete", "Patient.name[1.5]")]},
        {"resourceType": "Parameters", "parameter": [operation("delete", "Patient.name[-1]")]},
        {
            "resourceType": "Parameters",
            "parameter": [operation("insert", "Patient.identifier", value=("valueString", "x"))],
        },
        {"resourceType": "Patient"},
        {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": 5}]},
        {
            "resourceType": "Parameters",
            "parameter": [
                {
                    "name": "operation",
                    "part": [
                        {"name": "type", "valueCode": "add"},
                        {"name": "path", "valueString": "Patient"},
                        {"name": "name", "valueString": "contact"},
                        {"name": "value", "part": [{"name": "gender", "part": 3}]},
                    ],
                }
            ],
        },
    ],
)
def test_a_malformed_patch_is_400(fhir, alice, body, snapshot):
    before = snapshot()
    answer = fhir.patch(f"Patient/{alice['id']}", body, content_type=FHIR_JSON)
    assert_outcome(answer, 400)
    assert snapshot() == before


def test_if_match_and_return_minimal(fhir, alice):
    op = operation("replace", "Patient.active", value=("valueBoolean", False))
    stale = patch(fhir, f"Patient/{alice['id']}", op, headers={"If-Match": 'W/"9"'})
    assert_outcome(stale, 412)
    minimal = patch(
        fhir,
        f"Patient/{alice['id']}",
        op,
        headers={"If-Match": 'W/"1"', "Prefer": "return=minimal"},
    )
    assert minimal.status_code == 200 and minimal.get_data() == b""
    assert minimal.headers["ETag"] == 'W/"2"'


def test_json_patch_still_works(fhir, alice):
    answer = fhir.patch(
        f"Patient/{alice['id']}", [{"op": "replace", "path": "/gender", "value": "male"}]
    )
    assert answer.status_code == 200 and answer.get_json()["gender"] == "male"


def test_a_fhirpath_patch_in_a_transaction(fhir, alice):
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "request": {"method": "PATCH", "url": f"Patient/{alice['id']}"},
                "resource": {
                    "resourceType": "Parameters",
                    "parameter": [
                        operation("replace", "Patient.gender", value=("valueCode", "male"))
                    ],
                },
            }
        ],
    }
    answer = fhir.post("", bundle)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert fhir.get(f"Patient/{alice['id']}").get_json()["gender"] == "male"
