"""The CapabilityStatement at GET /fhir/metadata: https://hl7.org/fhir/R4/capabilitystatement.html

Built from what the server really does: the supported types, their interactions, and the search
parameters the registry could compile.
"""

from consent.codes import DIRECTORY_TYPES
from fhir_server import resources
from fhir_server.indexing.registry import Registry

SOFTWARE_VERSION = "0.1.0"
# consent.policy.Policy.hides_nothing: outside the directory, ids are the server's.
SERVER_IDS = (
    "Ids are assigned by the server: an update, patch or delete naming an id the caller cannot "
    "read answers 404, as a read does (only the operator's platform clients create through update)."
)
WRITE = ["create", "update", "patch", "delete"]
READ = ["read", "vread", "search-type", "history-instance", "history-type"]


def capability_statement(registry: Registry, base_url: str, security: dict | None = None) -> dict:
    types = []
    for resource_type in resources.SUPPORTED_TYPES:
        params = registry.for_type(resource_type)
        writable = resource_type not in resources.READ_ONLY_TYPES
        reference_params = sorted(c for c, p in params.items() if p.type == "reference")
        entry = {
            "type": resource_type,
            "profile": f"http://hl7.org/fhir/StructureDefinition/{resource_type}",
            "interaction": [{"code": c} for c in READ + (WRITE if writable else [])],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": writable and resource_type in DIRECTORY_TYPES,
            "conditionalCreate": writable,
            "conditionalRead": "not-supported",
            "conditionalUpdate": writable,
            "conditionalDelete": "single" if writable else "not-supported",
            "searchInclude": [f"{resource_type}:{c}" for c in reference_params],
            "searchParam": [
                {"name": code, "definition": p.url, "type": p.type, "documentation": p.description}
                for code, p in sorted(params.items())
            ],
        }
        if writable and resource_type not in DIRECTORY_TYPES:
            entry["documentation"] = SERVER_IDS
        types.append(entry)
    rest = {
        "mode": "server",
        "resource": types,
        "interaction": [{"code": "transaction"}, {"code": "batch"}],
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
        "patchFormat": ["application/json-patch+json"],
        "rest": [rest],
    }
