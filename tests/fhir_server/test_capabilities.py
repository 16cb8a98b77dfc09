"""The CapabilityStatement and the OpenAPI document: https://hl7.org/fhir/R4/http.html#capabilities"""

from consent.codes import DIRECTORY_TYPES
from fhir_server import resources
from tests.conftest import assert_outcome

WRITES = {"create", "update", "patch", "delete"}
READS = {"read", "vread", "search-type", "history-instance", "history-type"}


def test_metadata_is_a_capability_statement(fhir):
    response = fhir.get("metadata")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/fhir+json")
    body = response.get_json()
    assert body["resourceType"] == "CapabilityStatement"
    assert body["fhirVersion"] == "4.0.1"
    assert body["kind"] == "instance"
    assert body["status"] == "active"
    assert "application/fhir+json" in body["format"]
    assert "xml" not in body["format"]
    assert body["patchFormat"] == ["application/json-patch+json", "application/fhir+json"]
    assert body["implementation"]["url"] == "http://testserver/fhir"
    rest = body["rest"][0]
    assert rest["mode"] == "server"
    assert {i["code"] for i in rest["interaction"]} == {
        "transaction",
        "batch",
        "search-system",
        "history-system",
    }


def test_every_supported_type_with_interactions_and_params(fhir):
    rest = fhir.get("metadata").get_json()["rest"][0]
    by_type = {r["type"]: r for r in rest["resource"]}
    assert set(by_type) == set(resources.SUPPORTED_TYPES)
    for name, entry in by_type.items():
        codes = {i["code"] for i in entry["interaction"]}
        assert READS <= codes, name
        if name in resources.READ_ONLY_TYPES:
            assert not codes & WRITES, name
            assert entry["conditionalDelete"] == "not-supported"
        else:
            assert WRITES <= codes, name
            # Ids in a patient's record are the server's (no create through update there).
            assert entry["updateCreate"] is (name in DIRECTORY_TYPES), name
            assert entry["conditionalCreate"] is True
        params = {p["name"]: p for p in entry["searchParam"]}
        assert params, name
        assert all(p["type"] and p["definition"] for p in params.values()), name
    assert {"identifier", "name", "birthdate"} <= set(
        p["name"] for p in by_type["Patient"]["searchParam"]
    )
    assert "Observation:subject" in by_type["Observation"]["searchInclude"]


def test_capability_statement_is_valid_r4(fhir):
    from fhir.resources.R4B import get_fhir_model_class

    model = get_fhir_model_class("CapabilityStatement")
    model.model_validate(fhir.get("metadata").get_json())


def test_metadata_formats(fhir):
    assert fhir.get("metadata?_format=json").status_code == 200
    assert "\n" in fhir.get("metadata?_pretty=true").get_data(as_text=True)
    assert_outcome(fhir.get("metadata?_format=xml"), 406)


def test_openapi_is_served(fhir):
    response = fhir.get("/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"].startswith("3.")
    paths = spec["paths"]
    for path in (
        "/fhir/metadata",
        "/fhir",
        "/fhir/{resource_type}",
        "/fhir/{resource_type}/{id}",
        "/fhir/{resource_type}/{id}/_history",
        "/fhir/{resource_type}/{id}/_history/{vid}",
    ):
        assert path in paths, sorted(paths)
    assert {"get", "put", "patch", "delete"} <= set(paths["/fhir/{resource_type}/{id}"])


def test_the_statement_lists_every_operation_with_its_definition(fhir):
    body = fhir.get("metadata").get_json()
    rest = body["rest"][0]
    system = {o["name"]: o["definition"] for o in rest["operation"]}
    assert system["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
    assert system["import"] == "urn:carnet:operation:import"  # a proposal: no OperationDefinition
    by_type = {r["type"]: r for r in rest["resource"]}
    patient = {o["name"]: o["definition"] for o in by_type["Patient"]["operation"]}
    assert patient["everything"] == "http://hl7.org/fhir/OperationDefinition/Patient-everything"
    assert patient["export"] == "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
    assert patient["validate"] == "http://hl7.org/fhir/OperationDefinition/Resource-validate"
    document = {o["name"] for o in by_type["DocumentReference"]["operation"]}
    assert {"mask", "unmask", "validate"} <= document


def test_the_statement_lists_rev_includes_and_implementation_guides(fhir):
    body = fhir.get("metadata").get_json()
    by_type = {r["type"]: r for r in body["rest"][0]["resource"]}
    assert body["rest"][0]["compartment"] == ["http://hl7.org/fhir/CompartmentDefinition/patient"]
    assert "DocumentReference:subject" in by_type["Patient"]["searchRevInclude"]
    assert "List:item" in by_type["DocumentReference"]["searchRevInclude"]
    guides = body["implementationGuide"]
    assert "http://hl7.org/fhir/uv/bulkdata/ImplementationGuide/hl7.fhir.uv.bulkdata" in guides
    assert any("smart-app-launch" in g for g in guides) and any("pdsm" in g for g in guides)
