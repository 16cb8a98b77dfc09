"""The resource types Carnet stores and their R4B models: https://hl7.org/fhir/R4/resourcelist.html"""

import functools
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


_TYPE_NAME = re.compile(r"\b([A-Z][A-Za-z]+)Type\b")  # fhir.resources' field types: HumanNameType


@functools.cache  # once per process, whichever start-up calls it first
def load_models() -> None:
    """Import every stored type's model now, with the models of the data types its fields use.

    fhir.resources imports a model the first time a value of its type is validated: a worker's
    first requests would make these long-lived classes after carnet.heap set start-up's objects
    aside from the garbage collector, and every full collection would walk them again (about
    40,000 objects). Made here, at start-up, they are set aside with the rest.
    """
    seen: set[str] = set()
    queue = list(SUPPORTED_TYPES)
    while queue:
        name = queue.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            found = model(name) if name in SUPPORTED_TYPES else get_fhir_model_class(name)
        except ValueError:
            continue  # a name of another kind (a primitive's), not a model
        for field in found.model_fields.values():
            queue.extend(n for n in _TYPE_NAME.findall(repr(field.annotation)) if n not in seen)


def is_supported(resource_type: str) -> bool:
    return resource_type in SUPPORTED_TYPES


def is_valid_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))
