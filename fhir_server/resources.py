"""The resource types Carnet stores and their R4B models: https://hl7.org/fhir/R4/resourcelist.html"""

import re

from fhir.resources.R4B import get_fhir_model_class

SUPPORTED_TYPES = (
    "AllergyIntolerance",
    "AuditEvent",
    "Binary",
    "Condition",
    "Consent",
    "DocumentReference",
    "Encounter",
    "FamilyMemberHistory",
    "Immunization",
    "List",
    "MedicationDispense",
    "MedicationStatement",
    "Observation",
    "Organization",
    "Patient",
    "Practitioner",
    "PractitionerRole",
    "RelatedPerson",
)

# Written only by the server itself (consent/audit); read-only through the API.
READ_ONLY_TYPES = frozenset({"AuditEvent"})

# Created once and never changed nor deleted: their one version is the current document, so the
# store keeps no history copy of them (an audited read writes one document, not two).
IMMUTABLE_TYPES = frozenset({"AuditEvent"})

ID_PATTERN = re.compile(r"^[A-Za-z0-9\-.]{1,64}$")

_models: dict[str, type] = {}


def model(resource_type: str):
    if resource_type not in _models:
        _models[resource_type] = get_fhir_model_class(resource_type)
    return _models[resource_type]


def is_supported(resource_type: str) -> bool:
    return resource_type in SUPPORTED_TYPES


def is_valid_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))
