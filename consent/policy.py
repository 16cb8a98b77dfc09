"""The access policy, compiled into MongoDB predicates for reads and verdicts for writes.

Deny by default: a caller gets a predicate only through a named rule. The store ANDs the predicate
into every query it issues (fhir_server.store.repository), so no read path can skip it.
The fields the predicates look at (`pk`, `acl.*`) are computed here by `access_fields` when a
resource is written and copied onto every stored version.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from fhir_server.errors import Forbidden
from smart_auth.context import AccessContext

MATCH_NOTHING = {"_id": {"$in": []}}

# TRE_A07-StatutVisibiliteDocument (DOMAIN.md), in DocumentReference.securityLabel.
VISIBILITY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"
INVISIBLE_PATIENT = f"{VISIBILITY_SYSTEM}|INVISIBLE_PATIENT"
# CSP R1111-53: a document kept from the patient becomes visible to them after one month.
INVISIBLE_PATIENT_DELAY = timedelta(days=30)


@dataclass(frozen=True)
class ReadRule:
    """A read verdict: the rule's name (for audit and messages) and its MongoDB predicate."""

    rule: str
    predicate: dict


def access_fields(
    resource: dict, previous: dict | None = None, moment: datetime | None = None
) -> dict:
    """Policy-relevant facts of a resource, stored as its `acl` sub-document.

    `previous` is the acl of the version being replaced, `moment` the write's time: a document
    deposited invisible to the patient keeps the date it becomes visible on its own
    (`visible_from`) for as long as the label stays.
    """
    # DocumentReference.securityLabel holds CodeableConcepts, meta.security Codings.
    codings = [
        coding
        for concept in resource.get("securityLabel", [])
        if isinstance(concept, dict)
        for coding in concept.get("coding", [])
    ] + list(resource.get("meta", {}).get("security", []))
    labels = sorted(
        {
            f"{c.get('system', '')}|{c.get('code', '')}"
            for c in codings
            if isinstance(c, dict) and c.get("code")
        }
    )
    acl: dict = {"labels": labels}
    if INVISIBLE_PATIENT in labels:
        kept = (previous or {}).get("visible_from")
        acl["visible_from"] = kept or (moment or datetime.now(UTC)) + INVISIBLE_PATIENT_DELAY
    return acl


class Policy:
    """Deny-by-default access decisions. Issue #4 grows the professional and patient rules here."""

    def read_rule(self, ctx: AccessContext, resource_type: str) -> ReadRule:
        if ctx.actor_kind in ("operator", "system"):
            return ReadRule("system-full-access", {})
        if ctx.actor_kind == "patient" and ctx.patient:
            if resource_type in ("Practitioner", "PractitionerRole", "Organization"):
                return ReadRule("directory-public", {})
            # Their whole record, but for documents a professional keeps from them until the
            # consultation that announces them, or until the delay of CSP R1111-53 has passed.
            announced = {
                "$or": [
                    {"acl.labels": {"$ne": INVISIBLE_PATIENT}},
                    {"acl.visible_from": {"$lte": datetime.now(UTC)}},
                ]
            }
            return ReadRule("patient-own-record", {"pk": ctx.patient, **announced})
        return ReadRule("deny-by-default", MATCH_NOTHING)

    def check_write(
        self,
        ctx: AccessContext,
        resource_type: str,
        compartment: str | None,
        acl: dict | None = None,
        previous: dict | None = None,
    ) -> str:
        """Return the name of the rule that permits the write, or raise Forbidden."""
        if ctx.actor_kind in ("operator", "system"):
            return "system-full-access"
        if ctx.actor_kind == "patient" and ctx.patient and compartment == ctx.patient:
            was = INVISIBLE_PATIENT in (previous or {}).get("labels", [])
            now_ = INVISIBLE_PATIENT in (acl or {}).get("labels", [])
            if was != now_:
                raise Forbidden(
                    "Only a professional sets or lifts INVISIBLE_PATIENT "
                    "(rule: invisible-patient-set-by-professionals)"
                )
            return "patient-own-compartment"
        raise Forbidden(f"Writing {resource_type} here is not permitted (rule: deny-by-default)")
