"""The patient-compartment key (`pk`) of every stored document: https://hl7.org/fhir/R4/compartmentdefinition-patient.html

`pk` is "Patient/<id>" for resources in a patient's compartment (the Patient itself included) and
the resource's own "Type/id" for shared resources (directory entries). It leads the indexes and is
the shard key of a sharded deployment.
"""

import json
from importlib import resources as importlib_resources

from fhir_server.search.registry import Registry

_DEFINITION = json.loads(
    importlib_resources.files("fhir_server.spec")
    .joinpath("compartmentdefinition-patient.json")
    .read_text()
)
COMPARTMENT_PARAMS: dict[str, list[str]] = {
    entry["code"]: entry.get("param", []) for entry in _DEFINITION["resource"]
}
# The parameters that name *the* patient a record entry belongs to, before the compartment's others.
PRIMARY = {
    "DocumentReference": "subject",
    "List": "subject",
    "Observation": "subject",
    "AuditEvent": "patient",
}


def patient_ref(reference: str, base_url: str) -> str | None:
    """'Patient/<id>' when `reference` points at a Patient on this server, else None."""
    if reference.startswith(base_url + "/"):
        reference = reference[len(base_url) + 1 :]
    parts = reference.split("/")
    if len(parts) == 4 and parts[2] == "_history":
        parts = parts[:2]  # a versioned reference still names the Patient
    if len(parts) == 2 and parts[0] == "Patient" and parts[1]:
        return "/".join(parts)
    return None


def compartment_key(resource: dict, registry: Registry, base_url: str) -> str | None:
    """The patient this resource belongs to, or None when it is in no patient's compartment."""
    resource_type = resource["resourceType"]
    if resource_type == "Patient":
        return f"Patient/{resource['id']}"
    if resource_type == "Binary":
        ref = (resource.get("securityContext") or {}).get("reference", "")
        return patient_ref(ref, base_url)
    params = COMPARTMENT_PARAMS.get(resource_type) or []
    primary = PRIMARY.get(resource_type)
    ordered = ([primary] if primary else []) + [p for p in params if p != primary]
    for code in ordered:
        param = registry.get(resource_type, code)
        if param is None:
            continue
        for node in param.path(resource):
            if isinstance(node, dict) and isinstance(node.get("reference"), str):
                found = patient_ref(node["reference"], base_url)
                if found:
                    return found
    return None


# Search parameters that, given one Patient, name the compartment itself: `pk` follows from them.
COMPARTMENT_SEARCH = {
    "AllergyIntolerance": ("patient",),
    "Consent": ("patient",),
    "DocumentReference": ("patient", "subject"),
    "Immunization": ("patient",),
    "List": ("patient", "subject"),
    "Observation": ("patient", "subject"),
    "RelatedPerson": ("patient",),
}


def implied_compartment(
    resource_type: str, params: list[tuple[str, str]], base_url: str
) -> str | None:
    """The `pk` a search is confined to, when one of its parameters names a single Patient.

    Adding `pk` to such a query changes no result (the parameter already implies it) but lets the
    `pk`-led indexes serve it and, sharded, sends it to one shard.
    """
    if resource_type == "Patient":
        ids = [v for n, v in params if n == "_id" and v and "," not in v]
        return f"Patient/{ids[0]}" if ids else None
    for name, value in params:
        if name not in COMPARTMENT_SEARCH.get(resource_type, ()) or not value or "," in value:
            continue
        found = patient_ref(value, base_url)
        if found is None and name == "patient" and "/" not in value:
            found = f"Patient/{value}"
        if found:
            return found
    return None
