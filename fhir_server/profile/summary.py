"""`Patient/{id}/$summary`: what the patient's profile holds, as one `collection` Bundle.

https://hl7.org/fhir/R4/bundle.html#collection - a collection, not a `document`: Carnet composes
no Composition and signs nothing; the Bundle is a view of the record at the time of the request.
Every section is read as the caller, under the consent policy and the token's scopes, exactly as
the searches a client would make, so it holds nothing the caller could not read one by one; and no
masked document appears in it (a summary is what the patient shows, and a masked document is the
one they chose not to show).
"""

from datetime import UTC, datetime

from carnet_core.context import AccessContext
from consent import labels
from fhir_server.profile.codes import (
    ADVANCE_DIRECTIVES,
    BMI,
    DOC_TYPE_SYSTEM,
    HEIGHT,
    LOINC,
    ROLE_CLASS_SYSTEM,
    TRUSTED_PERSON,
    WEIGHT,
)
from fhir_server.profile.records import RecordReader
from fhir_server.profile.trusted_person import is_current
from fhir_server.store.repository import Store, Stored, instant, new_id

# (section, type, search parameters, how many: 0 = all of them, 1 = the latest by date)
SECTIONS = (
    ("allergies", "AllergyIntolerance", [], 0),
    ("immunizations", "Immunization", [], 0),
    ("conditions", "Condition", [], 0),
    ("family-history", "FamilyMemberHistory", [], 0),
    ("treatments", "MedicationStatement", [], 0),
    ("height", "Observation", [("code", f"{LOINC}|{HEIGHT}"), ("_sort", "-date")], 1),
    ("weight", "Observation", [("code", f"{LOINC}|{WEIGHT}"), ("_sort", "-date")], 1),
    ("bmi", "Observation", [("code", f"{LOINC}|{BMI}"), ("_sort", "-date")], 1),
    (
        "trusted-person",
        "RelatedPerson",
        [("relationship", f"{ROLE_CLASS_SYSTEM}|{TRUSTED_PERSON}")],
        0,
    ),
    (
        "advance-directives",
        "DocumentReference",
        [("type", f"{DOC_TYPE_SYSTEM}|{ADVANCE_DIRECTIVES}"), ("status", "current")],
        0,
    ),
)
# A record's profile is small; a bound keeps one request's reads bounded all the same.
MAX_PER_SECTION = 500


def _shown(resource_type: str, resource: dict) -> bool:
    if resource_type == "DocumentReference":
        return not labels.is_masked(resource)
    if resource_type == "RelatedPerson":
        return is_current(resource)
    return True


class Summary:
    def __init__(self, store: Store, reader: RecordReader, base_url: str):
        self.store = store
        self.reader = reader
        self.base_url = base_url

    def bundle(self, ctx: AccessContext, patient_id: str) -> dict:
        """The summary of Patient/`patient_id` as `ctx` may read it (404 as a read when hidden)."""
        self.store.enforcer.require(ctx, "Patient", "read")
        patient = self.store.read(ctx, "Patient", patient_id)
        pk = f"Patient/{patient_id}"
        entries = [self._entry(patient)]
        for _section, resource_type, params, latest in SECTIONS:
            found = self.reader.find(
                ctx, resource_type, pk, params, limit=latest or MAX_PER_SECTION
            )
            entries += [self._entry(s) for s in found if _shown(resource_type, s.resource)]
        return {
            "resourceType": "Bundle",
            "id": new_id(),
            "meta": {"lastUpdated": instant(datetime.now(UTC))},
            "type": "collection",
            "timestamp": instant(datetime.now(UTC)),
            "total": len(entries),
            "entry": entries,
        }

    def _entry(self, stored: Stored) -> dict:
        return {
            "fullUrl": f"{self.base_url}/{stored.resource_type}/{stored.id}",
            "resource": stored.resource,
        }
