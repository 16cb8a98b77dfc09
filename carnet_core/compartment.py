"""The patient compartment's parameters: https://hl7.org/fhir/R4/compartmentdefinition-patient.html

Which search parameters put a resource in a patient's compartment, as data, and what a reference
or a search's parameters say about it. The compartment key (`pk`) of each stored document is
computed from them by fhir_server.indexing.compartment, which evaluates the parameters.
"""

import json
from importlib import resources as importlib_resources


def load_compartment_params() -> dict[str, list[str]]:
    """Resource type -> the search parameters that put it in a patient's compartment (R4's
    CompartmentDefinition `patient`, carnet_core/spec/)."""
    definition = json.loads(
        importlib_resources.files("carnet_core")
        .joinpath("spec", "compartmentdefinition-patient.json")
        .read_text()
    )
    return {entry["code"]: entry.get("param", []) for entry in definition["resource"]}


COMPARTMENT_PARAMS = load_compartment_params()
# The parameters that name *the* patient a record entry belongs to, before the compartment's others.
PRIMARY = {
    "Condition": "patient",
    "DocumentReference": "subject",
    "MedicationDispense": "patient",
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


# Search parameters that, given one Patient, name the compartment itself: `pk` follows from them.
COMPARTMENT_SEARCH = {
    "AllergyIntolerance": ("patient",),
    "Condition": ("patient", "subject"),
    "Consent": ("patient",),
    "DocumentReference": ("patient", "subject"),
    "Encounter": ("patient", "subject"),
    "FamilyMemberHistory": ("patient",),
    "Immunization": ("patient",),
    "List": ("patient", "subject"),
    "MedicationDispense": ("patient", "subject"),
    "MedicationStatement": ("patient", "subject"),
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
