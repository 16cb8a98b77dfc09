"""The access policy, compiled into MongoDB predicates for reads and verdicts for writes.

Deny by default: a caller gets a predicate only through a named rule. The store ANDs the predicate
into every query it issues (fhir_server.store.repository), so no read path can skip it.
The fields the predicates look at (`pk`, `acl.*`) are computed here by `access_fields` when a
resource is written and copied onto every stored version.
"""

from dataclasses import dataclass

from fhir_server.errors import Forbidden
from smart_auth.context import AccessContext

MATCH_NOTHING = {"_id": {"$in": []}}


@dataclass(frozen=True)
class ReadRule:
    """A read verdict: the rule's name (for audit and messages) and its MongoDB predicate."""

    rule: str
    predicate: dict


def access_fields(resource: dict) -> dict:
    """Policy-relevant facts of a resource, stored as its `acl` sub-document."""
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
    return {"labels": labels}


class Policy:
    """Deny-by-default access decisions. Issue #4 grows the professional and patient rules here."""

    def read_rule(self, ctx: AccessContext, resource_type: str) -> ReadRule:
        if ctx.actor_kind in ("operator", "system"):
            return ReadRule("system-full-access", {})
        if ctx.actor_kind == "patient" and ctx.patient:
            if resource_type in ("Practitioner", "PractitionerRole", "Organization"):
                return ReadRule("directory-public", {})
            return ReadRule("patient-own-compartment", {"pk": ctx.patient})
        return ReadRule("deny-by-default", MATCH_NOTHING)

    def check_write(self, ctx: AccessContext, resource_type: str, compartment: str | None) -> str:
        """Return the name of the rule that permits the write, or raise Forbidden."""
        if ctx.actor_kind in ("operator", "system"):
            return "system-full-access"
        if ctx.actor_kind == "patient" and ctx.patient and compartment == ctx.patient:
            return "patient-own-compartment"
        raise Forbidden(f"Writing {resource_type} here is not permitted (rule: deny-by-default)")
