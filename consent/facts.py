"""The facts the policy decides on, read from the store once per request and kept in its context.

A record's facts: its attending doctor (Patient.generalPractitioner) and its privacy Consents
(consent.privacy). An actor's facts: the records whose patient named it (care team, attending
doctor, block), found by indexed reference searches across records. Read as the policy's own
operator context: these reads are not accesses to anyone's data on the caller's behalf.
"""

from collections.abc import Callable
from dataclasses import dataclass, field

from consent.privacy import Choices, choices
from smart_auth.context import AccessContext, operator_context

# (resource type, query, limit) -> stored documents, unfiltered (the store's `find`).
Finder = Callable[[AccessContext, str, dict, int], list[dict]]
# (resource type, search parameters) -> a MongoDB predicate (the search engine's).
Compiler = Callable[[str, tuple[tuple[str, str], ...]], dict]

POLICY_CONTEXT = operator_context("consent-policy")
# More than this many records naming one actor: the cross-record view is refused (too costly);
# the software must work in one patient's context (EHR launch).
MAX_RECORDS_PER_ACTOR = 5000


@dataclass
class RecordFacts:
    pk: str
    attending: set[str] = field(default_factory=set)
    choices: Choices = field(default_factory=Choices)


class Facts:
    def __init__(self, find: Finder, compile_params: Compiler):
        self.find = find
        self.compile = compile_params

    def _docs(self, resource_type: str, query: dict, limit: int = 0) -> list[dict]:
        return self.find(POLICY_CONTEXT, resource_type, query, limit)

    def record(self, ctx: AccessContext, pk: str) -> RecordFacts:
        """The facts of one patient's record (cached for the request)."""
        return self._load(ctx, [pk])[pk]

    def _load(self, ctx: AccessContext, pks: list[str]) -> dict[str, RecordFacts]:
        """The facts of several records, read with one query per type for those not cached."""
        missing = [pk for pk in pks if ("record", pk) not in ctx.cache]
        if missing:
            ids = [pk.removeprefix("Patient/") for pk in missing]
            patients = self._docs("Patient", {"_id": {"$in": ids}})
            consents = self._docs("Consent", {"pk": {"$in": missing}})
            attending: dict[str, set[str]] = {pk: set() for pk in missing}
            for doc in patients:
                attending[doc["pk"]] |= _attending(doc)
            by_record: dict[str, list[dict]] = {pk: [] for pk in missing}
            for doc in consents:
                if doc.get("res"):
                    by_record[doc["pk"]].append(doc["res"])
            for pk in missing:
                ctx.cache[("record", pk)] = RecordFacts(pk, attending[pk], choices(by_record[pk]))
        return {pk: ctx.cache[("record", pk)] for pk in pks}

    def organisations(self, ctx: AccessContext, practitioner: str) -> set[str]:
        """The organisations a practitioner works for (PractitionerRole.organization)."""
        key = ("organisations", practitioner)
        if key not in ctx.cache:
            query = self.compile("PractitionerRole", (("practitioner", practitioner),))
            ctx.cache[key] = {
                role["res"]["organization"]["reference"]
                for role in self._docs("PractitionerRole", query, 200)
                if isinstance((role.get("res") or {}).get("organization"), dict)
                and isinstance(role["res"]["organization"].get("reference"), str)
            }
        return ctx.cache[key]

    def records_naming(self, ctx: AccessContext, actors: set[str]) -> dict[str, RecordFacts]:
        """What each record whose patient named one of `actors` says *about them*.

        Two indexed reference searches across records: the Patients naming them as attending
        doctor, the Consents naming them. That is all a decision about these actors needs (a block
        of their organisation names it too); the facts are partial, so they are not cached as a
        record's facts.
        """
        key = ("naming", tuple(sorted(actors)))
        if key in ctx.cache:
            return ctx.cache[key]
        joined = ",".join(sorted(actors))
        found: dict[str, RecordFacts] = {}
        if joined:
            limit = MAX_RECORDS_PER_ACTOR + 1
            gp = self.compile("Patient", (("general-practitioner", joined),))
            for doc in self._docs("Patient", gp, limit):
                facts = found.setdefault(doc["pk"], RecordFacts(doc["pk"]))
                facts.attending |= _attending(doc)
            named = self.compile("Consent", (("actor", joined),))
            consents: dict[str, list[dict]] = {}
            for doc in self._docs("Consent", named, limit):
                if doc.get("res"):
                    consents.setdefault(doc["pk"], []).append(doc["res"])
            for pk, said in consents.items():
                found.setdefault(pk, RecordFacts(pk)).choices = choices(said)
        kept = sorted(found)[:MAX_RECORDS_PER_ACTOR]
        ctx.cache[key] = {pk: found[pk] for pk in kept}
        return ctx.cache[key]

    def forget(self, ctx: AccessContext) -> None:
        """A write to a Patient or a Consent changes the facts: read them again."""
        ctx.cache.clear()


def _attending(patient_doc: dict) -> set[str]:
    """Patient.generalPractitioner references of a stored Patient."""
    return {
        ref["reference"]
        for ref in (patient_doc.get("res") or {}).get("generalPractitioner", [])
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str)
    }
