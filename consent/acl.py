"""The access facts of a stored resource (its `acl` sub-document), computed when it is written.

The read predicates of consent.policy look only at `pk` and these fields, so they are copied onto
every stored version (fhir_server.store) and a policy change never needs to read resource bodies:
- `labels`: "system|code" of DocumentReference.securityLabel and meta.security (a set);
- `visible_from`: when the resource shows itself to the patient (1970 unless it was deposited
  INVISIBLE_PATIENT: then one month after the deposit, or when the label is lifted; never for an
  AuditEvent labelled NOPAT, which only the server writes: consent.audit);
- `by`: who deposited it (the professional, their organisation, the software's organisation),
  with the document's literal author and custodian references: they keep seeing it when masked.
https://hl7.org/fhir/R4/documentreference-definitions.html#DocumentReference.securityLabel
"""

from datetime import UTC, datetime

from consent import codes

ALWAYS = datetime(1970, 1, 1, tzinfo=UTC)  # visible_from of what was never kept from the patient
NEVER = datetime(9999, 12, 31, tzinfo=UTC)  # visible_from of the operator's forensic AuditEvents
_AUTHOR_TYPES = ("Practitioner/", "PractitionerRole/", "Organization/", "Device/")


# The labels that keep a resource from some of its record's readers (consent.policy's read rules:
# masked from professionals, kept from the patient or from their legal representatives).
HIDING_LABELS = frozenset(
    (codes.MASKED_LABEL, codes.INVISIBLE_LABEL, codes.INVISIBLE_TO_REPRESENTATIVES_LABEL)
)


def read_by_all_of_record(acl: dict) -> bool:
    """Whether whoever reads the record reads this resource: no label keeps it from anyone (what
    the server derives for the whole record may be made of it without showing what is hidden)."""
    return not HIDING_LABELS.intersection(acl.get("labels", []))


def labels_of(resource: dict) -> list[str]:
    # DocumentReference.securityLabel holds CodeableConcepts, meta.security Codings.
    codings = [
        coding
        for concept in resource.get("securityLabel", [])
        if isinstance(concept, dict)
        for coding in concept.get("coding", [])
    ] + list(resource.get("meta", {}).get("security", []))
    return sorted(
        {
            f"{c.get('system', '')}|{c.get('code', '')}"
            for c in codings
            if isinstance(c, dict) and c.get("code")
        }
    )


def _authors(resource: dict) -> list[str]:
    refs = [a.get("reference") for a in resource.get("author", []) if isinstance(a, dict)]
    custodian = resource.get("custodian")
    if isinstance(custodian, dict):
        refs.append(custodian.get("reference"))
    return [r for r in refs if isinstance(r, str) and r.startswith(_AUTHOR_TYPES)]


def access_fields(
    resource: dict,
    depositors: list[str] | None = None,
    previous: dict | None = None,
    moment: datetime | None = None,
) -> dict:
    """The `acl` of a new version; `previous` is the acl of the version it replaces.

    `depositors`: the references the writer is known by (consent.policy.Policy.depositors).
    """
    previous = previous or {}
    if "doc" in previous:
        return previous  # a Binary follows the DocumentReference that points at it
    labels = labels_of(resource)
    # The depositor is whoever wrote the first version; authors are read from each version.
    dep = previous["dep"] if "dep" in previous else sorted(depositors or [])
    acl: dict = {"labels": labels, "dep": dep, "by": sorted(set(dep) | set(_authors(resource)))}
    # Always set, so the patient's predicate is one indexable comparison (consent.policy).
    acl["visible_from"] = ALWAYS
    if codes.INVISIBLE_LABEL in labels:
        was_kept = codes.INVISIBLE_LABEL in previous.get("labels", [])
        kept = previous.get("visible_from") if was_kept else None
        acl["visible_from"] = kept or (moment or datetime.now(UTC)) + codes.INVISIBLE_PATIENT_DELAY
    if resource.get("resourceType") == "AuditEvent" and codes.NOPAT_LABEL in labels:
        acl["visible_from"] = NEVER
    return acl
