"""/openapi.json describes the API well enough for generated clients and schemathesis to reach
the real logic; a bounded schemathesis run against the app (WSGI) finds no 5xx.

https://spec.openapis.org/oas/v3.0.3, https://schemathesis.readthedocs.io/
"""

import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.conftest import issue_token

# A handful of operations, the ones with the most logic behind their inputs.
FUZZED = (
    ("GET", "/fhir/{resource_type}"),
    ("GET", "/fhir/{resource_type}/{id}"),
    ("POST", "/fhir/{resource_type}"),
    ("PATCH", "/fhir/{resource_type}/{id}"),
    ("POST", "/fhir/{resource_type}/$validate"),
    ("GET", "/fhir/Patient/{id}/$everything"),
    ("GET", "/fhir/_history"),
    ("GET", "/fhir"),
    ("GET", "/fhir/$export"),
)


def test_the_document_declares_parameters_bodies_and_the_bearer_scheme(fhir):
    spec = fhir.get("/openapi.json").get_json()
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    search = spec["paths"]["/fhir/{resource_type}"]["get"]
    assert search["security"] == [{"bearerAuth": []}]
    names = {p["name"] for p in search["parameters"]}
    assert {"resource_type", "_count", "_sort", "_include"} <= names
    create = spec["paths"]["/fhir/{resource_type}"]["post"]
    assert "application/fhir+json" in create["requestBody"]["content"]
    patch = spec["paths"]["/fhir/{resource_type}/{id}"]["patch"]
    assert "application/json-patch+json" in patch["requestBody"]["content"]
    export = spec["paths"]["/fhir/$export"]["get"]
    assert {"name": "Prefer", "required": True}.items() <= next(
        p for p in export["parameters"] if p["name"] == "Prefer"
    ).items()
    assert "security" not in spec["paths"]["/fhir/metadata"]["get"]


def _fuzzed(app):
    schema = schemathesis.openapi.from_wsgi("/openapi.json", app)
    chosen = schema.include(
        method_regex="^(" + "|".join(sorted({m for m, _ in FUZZED})) + ")$",
        path_regex="^(" + "|".join(p.replace("$", r"\$") for _, p in FUZZED) + ")$",
    )
    operations = [result.ok() for result in chosen.get_all_operations()]
    return [o for o in operations if (o.method.upper(), o.path) in FUZZED]


def test_no_generated_request_is_answered_5xx(app, carnet):
    """Each chosen operation, with requests schemathesis generates from the document alone."""
    token = issue_token(carnet, "system/*.cruds")
    operations = _fuzzed(app)
    assert len(operations) == len(FUZZED)
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=12,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answered(case):
            response = case.call(
                headers={"Authorization": f"Bearer {token}", "Prefer": "respond-async"}
            )
            assert response.status_code < 500, (
                case.method,
                case.formatted_path,
                case.query,
                response.text[:300],
            )

        answered()
