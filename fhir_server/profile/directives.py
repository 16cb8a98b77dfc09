"""The patient's advance directives: replaced, never duplicated (CSP L1111-11, TRE_A05 EXPPAT_3).

A record holds at most one current advance-directives DocumentReference written by the patient's
side (the patient or their legal representative). A new one must name each current one in
`relatesTo` with code `replaces` (MHD's replacement, as a push does: docs/domain.md); those become
`superseded` in the same unit of work, written as the caller. A new one naming none is refused
(409) and nothing is stored. The current one holds its record's claim (fhir_server.store.claims)
in that unit of work: two first ones at once, each searching a snapshot without the other
(MongoDB), cannot both commit; the second runs again and is refused. Documents a professional
deposits with that type are theirs and follow the push's replacement rules.
"""

import copy

from carnet_core.context import AccessContext, operator_context
from carnet_core.errors import Conflict
from fhir_server.profile.codes import ADVANCE_DIRECTIVES, DOC_TYPE_SYSTEM, is_advance_directives
from fhir_server.profile.records import RecordReader
from fhir_server.store.claims import Claim, current_key
from fhir_server.store.repository import Store, Stored
from fhir_server.store.unit_of_work import UnitOfWork


def by_patient_side(stored: Stored) -> bool:
    """Deposited by the patient or a legal representative (consent.acl's `dep`)."""
    dep = stored.doc.get("acl", {}).get("dep", [])
    return bool(dep) and all(d.startswith(("Patient/", "RelatedPerson/")) for d in dep)


def replaced(resource: dict) -> set[str]:
    """The DocumentReference ids a document's relatesTo says it replaces."""
    out = set()
    for relation in resource.get("relatesTo", []):
        if isinstance(relation, dict) and relation.get("code") == "replaces":
            ref = (relation.get("target") or {}).get("reference", "")
            if isinstance(ref, str) and ref.startswith("DocumentReference/"):
                out.add(ref.split("/")[1])
    return out


class AdvanceDirectives:
    """A follow-up of fhir_server.interactions."""

    def __init__(self, store: Store, reader: RecordReader):
        self.store = store
        self.reader = reader
        self.ctx = operator_context("profile")

    def follow(self, ctx: AccessContext, stored: Stored, uow: UnitOfWork) -> None:
        new = stored.resource
        if new is None or ctx.actor_kind != "patient" or not is_advance_directives(new):
            return
        if new.get("status") != "current":
            return
        found = self.reader.find(
            ctx,
            "DocumentReference",
            stored.doc["pk"],
            [("type", f"{DOC_TYPE_SYSTEM}|{ADVANCE_DIRECTIVES}"), ("status", "current")],
            uow,
        )
        current = [s for s in found if s.id != stored.id and by_patient_side(s)]
        missing = sorted(s.id for s in current if s.id not in replaced(new))
        if missing:
            named = ", ".join(f"DocumentReference/{id}" for id in missing)
            raise Conflict(
                "The record already holds advance directives: a new version replaces them "
                f"(relatesTo code 'replaces', target {named}) (rule: directives-replaced)",
                code="business-rule",
                expression=["DocumentReference.relatesTo"],
            )
        for old in current:
            superseded = {**copy.deepcopy(old.resource), "status": "superseded"}
            self.store.write(ctx, superseded, method="PUT", expected_vid=old.vid, uow=uow)
        self.store.claims.take(self._claim(stored.doc["pk"]), stored.id, uow)

    def _claim(self, pk: str) -> Claim:
        """The record's one current advance directives: held while that document stays so."""

        def holds(id: str, uow: UnitOfWork) -> bool:
            found = self.store.find(self.ctx, "DocumentReference", {"_id": id}, limit=1, uow=uow)
            if not found:
                return False
            held = Stored.of_current("DocumentReference", found[0])
            current = (
                is_advance_directives(held.resource) and held.resource.get("status") == "current"
            )
            return current and by_patient_side(held)

        key = current_key("DocumentReference", pk, ADVANCE_DIRECTIVES)
        return Claim(key, "DocumentReference", f"The advance directives of {pk}", holds)
