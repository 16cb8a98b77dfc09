"""The CapabilityStatement at GET /fhir/metadata: https://hl7.org/fhir/R4/capabilitystatement.html

Built from what the server really does: the supported types, the interactions and operations of
the route table (fhir_server.route_table), and the search parameters the registry could compile.
"""

from consent.codes import DIRECTORY_TYPES
from fhir_server import resources
from fhir_server.indexing.registry import Registry
from fhir_server.route_table import ROUTES, WRITES, Route, RouteTable

SOFTWARE_VERSION = "0.1.0"
# consent.policy.Policy.hides_nothing: outside the directory, ids are the server's.
SERVER_IDS = (
    "Ids are assigned by the server: an update, patch or delete naming an id the caller cannot "
    "read answers 404, as a read does (only the operator's platform clients create through update)."
)
# POST [base] takes both kinds of Bundle (http.html#transaction); its AuditEvent names the first.
SYSTEM_CODES = {"transaction": ("transaction", "batch"), "capabilities": (), "operation": ()}
OPERATIONS = "urn:carnet:operation:"  # the operations' canonical names (no OperationDefinition)
# The implementation guides Carnet follows (CapabilityStatement.implementationGuide).
IMPLEMENTATION_GUIDES = (
    "http://hl7.org/fhir/smart-app-launch/ImplementationGuide/hl7.fhir.uv.smart-app-launch",
    "http://hl7.org/fhir/uv/bulkdata/ImplementationGuide/hl7.fhir.uv.bulkdata",
    "https://profiles.ihe.net/ITI/MHD/ImplementationGuide/ihe.iti.mhd",
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/ImplementationGuide/ans.fhir.fr.pdsm",
)


def _types(route: Route) -> tuple[str, ...]:
    """The types a route acts on: every supported type for {type}, none for a system route."""
    first = route.pattern.split("/")[0]
    if first == "{type}":
        return resources.SUPPORTED_TYPES
    return (first,) if resources.is_supported(first) else ()


def _operations(routes: list[Route]) -> dict:
    """CapabilityStatement.rest(.resource).operation, when there are any."""
    operations = [
        {
            "name": r.operation,
            "definition": r.definition or OPERATIONS + r.operation,
            "documentation": r.summary,
        }
        for r in {r.operation: r for r in routes if r.operation}.values()
    ]
    return {"operation": operations} if operations else {}


def _rev_includes(resource_type: str, registry: Registry) -> list[str]:
    """The `Source:parameter` pairs whose references may name this type (_revinclude)."""
    return [
        f"{source}:{code}"
        for source in resources.SUPPORTED_TYPES
        for code, p in sorted(registry.for_type(source).items())
        if p.type == "reference" and resource_type in p.targets
    ]


def _resource(resource_type: str, routes: RouteTable, registry: Registry) -> dict:
    params = registry.for_type(resource_type)
    writable = resource_type not in resources.READ_ONLY_TYPES
    reference_params = sorted(c for c, p in params.items() if p.type == "reference")
    mine = [r for r in routes if resource_type in _types(r)]
    codes = dict.fromkeys(r.interaction for r in mine if r.interaction != "operation")
    # The type-level writes are the conditional ones (http.html#cond-update).
    conditional = {r.method for r in mine if r.pattern == "{type}" and writable}
    entry = {
        "type": resource_type,
        "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
        "interaction": [{"code": c} for c in codes if writable or c not in WRITES],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": writable and resource_type in DIRECTORY_TYPES,
        "conditionalCreate": "POST" in conditional,
        "conditionalRead": "not-supported",
        "conditionalUpdate": "PUT" in conditional,
        "conditionalDelete": "single" if "DELETE" in conditional else "not-supported",
        "searchInclude": [f"{resource_type}:{c}" for c in reference_params],
        "searchRevInclude": _rev_includes(resource_type, registry),
        "searchParam": [
            {"name": code, "definition": p.url, "type": p.type, "documentation": p.description}
            for code, p in sorted(params.items())
        ],
        **_operations(mine),
    }
    if writable and resource_type not in DIRECTORY_TYPES:
        entry["documentation"] = SERVER_IDS
    return entry


def capability_statement(
    registry: Registry, base_url: str, security: dict | None = None, routes: RouteTable = ROUTES
) -> dict:
    system = [r for r in routes if not _types(r)]
    codes = dict.fromkeys(
        c for r in system for c in SYSTEM_CODES.get(r.interaction, (r.interaction,))
    )
    rest = {
        "mode": "server",
        # Patient/[id]/[type] searches (compartmentdefinition.html).
        "compartment": ["http://hl7.org/fhir/CompartmentDefinition/patient"],
        "resource": [_resource(t, routes, registry) for t in resources.SUPPORTED_TYPES],
        "interaction": [{"code": c} for c in codes],
        **_operations(system),
        "searchParam": [
            {
                "name": "_count",
                "type": "number",
                "documentation": "Page size (default and maximum in the README)",
            },
            {"name": "_sort", "type": "string"},
            {"name": "_total", "type": "token", "documentation": "none | estimate | accurate"},
            {"name": "_summary", "type": "token"},
            {"name": "_elements", "type": "string"},
        ],
    }
    if security:
        rest["security"] = security
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-11-25",
        "publisher": "Carnet",
        "kind": "instance",
        "software": {"name": "Carnet", "version": SOFTWARE_VERSION},
        "implementation": {"description": "Carnet FHIR server", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "implementationGuide": list(IMPLEMENTATION_GUIDES),
        "rest": [rest],
    }
