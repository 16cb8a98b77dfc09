"""The OpenAPI description of each route of the table: https://spec.openapis.org/oas/v3.0.3

What a generated client or a fuzzer needs to reach the real logic: the path parameters as FHIR
defines them (a supported type, an id of [A-Za-z0-9-.]{1,64}), the query parameters and headers
each interaction takes, its request body, and the bearer token it requires
(https://hl7.org/fhir/smart-app-launch/app-launch.html#step-5-access-protected-resources).
"""

from fhir_server import resources
from fhir_server.route_table import Route

BEARER = "bearerAuth"
SECURITY_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A SMART on FHIR access token (see /.well-known/smart-configuration).",
}
SCHEMAS = {
    "Resource": {
        "type": "object",
        "description": "A FHIR R4 resource in JSON (https://hl7.org/fhir/R4/json.html).",
        "required": ["resourceType"],
        "properties": {"resourceType": {"type": "string", "enum": list(resources.SUPPORTED_TYPES)}},
        "additionalProperties": True,
    },
    "Bundle": {
        "type": "object",
        "description": "A batch or transaction Bundle (https://hl7.org/fhir/R4/bundle.html).",
        "required": ["resourceType", "type"],
        "properties": {
            "resourceType": {"type": "string", "enum": ["Bundle"]},
            "type": {"type": "string", "enum": ["batch", "transaction"]},
            "entry": {"type": "array", "items": {"type": "object"}},
        },
    },
    "JsonPatch": {
        "type": "array",
        "description": "A JSON Patch document (RFC 6902).",
        "items": {
            "type": "object",
            "required": ["op", "path"],
            "properties": {
                "op": {
                    "type": "string",
                    "enum": ["add", "remove", "replace", "move", "copy", "test"],
                },
                "path": {"type": "string"},
                "from": {"type": "string"},
                "value": {},
            },
        },
    },
}


def _query(name: str, schema: dict, description: str = "", required: bool = False) -> dict:
    parameter = {"in": "query", "name": name, "schema": schema, "required": required}
    if description:
        parameter["description"] = description
    return parameter


def _header(name: str, schema: dict, description: str, required: bool = False) -> dict:
    return {
        "in": "header",
        "name": name,
        "schema": schema,
        "description": description,
        "required": required,
    }


STRING = {"type": "string"}
COUNT = _query("_count", {"type": "integer", "minimum": 0}, "Page size")
SINCE = _query("_since", {"type": "string", "format": "date-time"}, "Only what changed since")
TYPES = _query("_type", STRING, "Comma-separated resource types")
SEARCH = [
    COUNT,
    _query("_id", STRING),
    _query("_lastUpdated", STRING, "A date search, e.g. ge2024-01-01"),
    _query("_sort", STRING),
    _query("_total", {"type": "string", "enum": ["none", "estimate", "accurate"]}),
    _query("_summary", {"type": "string", "enum": ["true", "false", "text", "data", "count"]}),
    _query("_elements", STRING),
    _query("_include", STRING),
    _query("_revinclude", STRING),
]
IF_MATCH = _header("If-Match", STRING, 'The version the change is based on, e.g. W/"3"')
PATH = {
    "{type}": {
        "in": "path",
        "name": "resource_type",
        "required": True,
        "schema": {"type": "string", "enum": list(resources.SUPPORTED_TYPES)},
    },
    "{id}": {
        "in": "path",
        "name": "id",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9.-]{1,64}$"},
    },
    "{vid}": {
        "in": "path",
        "name": "vid",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]{1,9}$"},
    },
    "{file}": {"in": "path", "name": "file", "required": True, "schema": STRING},
}


def _parameters(route: Route) -> list[dict]:
    """The path, query and header parameters of a route, by what it does."""
    parameters = [PATH[s] for s in route.segments if s in PATH]
    kind = route.operation or route.interaction
    if kind in ("search-type", "search-system") and route.method == "GET":
        parameters += SEARCH + ([{**TYPES, "required": True}] if kind == "search-system" else [])
    elif kind.startswith("history"):
        parameters += [COUNT, SINCE]
    elif kind == "read":
        parameters.append(
            _query(
                "_summary", {"type": "string", "enum": ["true", "false", "text", "data", "count"]}
            )
        )
    elif kind == "everything":
        parameters += [COUNT, SINCE, TYPES]
    elif kind == "export":
        parameters += [
            SINCE,
            TYPES,
            _query(
                "_outputFormat",
                {
                    "type": "string",
                    "enum": ["application/fhir+ndjson", "application/ndjson", "ndjson"],
                },
            ),
            _header(
                "Prefer",
                {"type": "string", "enum": ["respond-async"]},
                "Required: the export is asynchronous",
                True,
            ),
        ]
    elif kind == "validate":
        parameters += [
            _query("profile", STRING, "Canonical URL of a profile to validate against"),
            _query("mode", {"type": "string", "enum": ["create", "update"]}),
        ]
    if route.method in ("PUT", "PATCH", "DELETE") and "{id}" in route.segments:
        parameters.append(IF_MATCH)
    if route.method == "POST" and route.interaction == "create":
        parameters.append(_header("If-None-Exist", STRING, "Conditional create: a search query"))
    if route.method in ("PUT", "PATCH", "DELETE") and route.pattern == "{type}":
        parameters.append(_query("identifier", STRING, "The conditional operation's search"))
    return parameters


def _body(route: Route) -> dict | None:
    if route.body == "json" and route.operation:
        # A resource of the path's type or a Parameters ($validate), a JSON object ($import).
        schema = {"type": "object", "properties": {"resourceType": STRING}}
        return {"required": True, "content": {"application/fhir+json": {"schema": schema}}}
    if route.body == "json":
        schema = "Bundle" if route.interaction == "transaction" else "Resource"
        ref = {"$ref": f"#/components/schemas/{schema}"}
        return {"required": True, "content": {"application/fhir+json": {"schema": ref}}}
    if route.body == "patch":
        ref = {"$ref": "#/components/schemas/JsonPatch"}
        return {"required": True, "content": {"application/json-patch+json": {"schema": ref}}}
    if route.body == "form":
        form = {"type": "object", "additionalProperties": {"type": "string"}}
        return {"content": {"application/x-www-form-urlencoded": {"schema": form}}}
    return None


def operation(route: Route) -> dict:
    """The OpenAPI Operation object's parts for one route (merged into flask-smorest's)."""
    doc: dict = {"parameters": _parameters(route)}
    body = _body(route)
    if body:
        doc["requestBody"] = body
    if not route.public:
        doc["security"] = [{BEARER: []}]
    return doc


def components(spec) -> None:
    """Declare the bearer scheme and the body schemas on an apispec APISpec."""
    spec.components.security_scheme(BEARER, SECURITY_SCHEME)
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
