"""The facts the policy decides on, read from the store once per request and kept in its context.

A record's facts: its attending doctor (Patient.generalPractitioner), its privacy Consents
(consent.privacy) and its status (open, opposed or closed: CSP R1111-28/-36, kept by INS beside
the store, ingestion.records). An actor's facts: the records whose patient named it (care team, attending
doctor, block), found by indexed reference searches across records. Read below the policy (its
input, never an answer to the caller): these reads are not accesses to anyone's data on the
caller's behalf.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from carnet_core.context import AccessContext
from consent.privacy import Choices, choices


class Reader(Protocol):
    """Current stored documents, unfiltered (fhir_server.store.documents.Documents)."""

    def find(self, resource_type: str, query: dict, limit: int = 0) -> list[dict]: ...


# (resource type, search parameters) -> a MongoDB predicate (fhir_server.search.parameters).
Compiler = Callable[[str, tuple[tuple[str, str], ...]], dict]
# identifiers (system, value), or None for all -> those of records opposed or closed: their status.
Statuses = Callable[[list[tuple[str, str]] | None], dict[tuple[str, str], str]]
OPEN = "open"

# More than this many records naming one actor: the cross-record view is refused (too costly);
# the software must work in one patient's context (EHR launch).
MAX_RECORDS_PER_ACTOR = 5000


@dataclass
class RecordFacts:
    pk: str
    attending: set[str] = field(default_factory=set)
    choices: Choices = field(default_factory=Choices)
    status: str = OPEN


class Facts:
    def __init__(self, reader: Reader, compile_params: Compiler, statuses: Statuses | None = None):
        self.reader = reader
        self.compile = compile_params
        self.statuses = statuses or (lambda identifiers: {})

    def _docs(self, resource_type: str, query: dict, limit: int = 0) -> list[dict]:
        return self.reader.find(resource_type, query, limit)

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
            status = self._statuses({doc["pk"]: _identifiers(doc.get("res")) for doc in patients})
            by_record: dict[str, list[dict]] = {pk: [] for pk in missing}
            for doc in consents:
                if doc.get("res"):
                    by_record[doc["pk"]].append(doc["res"])
            for pk in missing:
                ctx.cache[("record", pk)] = RecordFacts(
                    pk, attending[pk], choices(by_record[pk]), status.get(pk, OPEN)
                )
        return {pk: ctx.cache[("record", pk)] for pk in pks}

    def _statuses(self, identifiers: dict[str, list[tuple[str, str]]]) -> dict[str, str]:
        """The status of each record that is not open, from its Patient's identifiers (one query)."""
        wanted = sorted({pair for pairs in identifiers.values() for pair in pairs})
        refused = self.statuses(wanted) if wanted else {}
        return {
            pk: next(refused[pair] for pair in pairs if pair in refused)
            for pk, pairs in identifiers.items()
            if any(pair in refused for pair in pairs)
        }

    def status(self, ctx: AccessContext, pk: str, resource: dict | None = None) -> str:
        """A record's status before a write into it; `resource`: the Patient being written, whose
        identifiers count too (a Patient written for a person who opposed opens no record).

        Not cached unless the record's facts already are: a long-lived context (an import) writes
        into many records.
        """
        if ("record", pk) in ctx.cache and resource is None:
            return ctx.cache[("record", pk)].status
        stored = self._docs("Patient", {"_id": pk.removeprefix("Patient/")}, 1)
        pairs = _identifiers(stored[0].get("res")) if stored else []
        pairs += _identifiers(resource)
        return self._statuses({pk: pairs}).get(pk, OPEN)

    def refused_records(self, ctx: AccessContext) -> dict[str, str]:
        """Every record opposed or closed that holds a Patient, with its status (for the request).

        For reads across records: what a professional deposited anywhere is filtered by this list.
        Two indexed queries: the statuses, then the Patients carrying those identifiers.
        """
        if "refused" in ctx.cache:
            return ctx.cache["refused"]
        refused = self.statuses(None)
        found: dict[str, str] = {}
        if refused:
            named = ",".join(f"{system}|{value}" for system, value in sorted(refused))
            query = self.compile("Patient", (("identifier", named),))
            for doc in self._docs("Patient", query):
                statuses = [refused[p] for p in _identifiers(doc.get("res")) if p in refused]
                if statuses:
                    found[doc["pk"]] = statuses[0]
        ctx.cache["refused"] = found
        return found

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


def _identifiers(patient: dict | None) -> list[tuple[str, str]]:
    """(system, value) of a Patient's identifiers: a record's status is kept by INS."""
    return [
        (i["system"], i["value"])
        for i in (patient or {}).get("identifier", [])
        if isinstance(i, dict)
        and isinstance(i.get("system"), str)
        and isinstance(i.get("value"), str)
    ]


def _attending(patient_doc: dict) -> set[str]:
    """Patient.generalPractitioner references of a stored Patient."""
    return {
        ref["reference"]
        for ref in (patient_doc.get("res") or {}).get("generalPractitioner", [])
        if isinstance(ref, dict) and isinstance(ref.get("reference"), str)
    }
