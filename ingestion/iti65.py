"""ITI-65 Provide Document Bundle, as the French profile PDSm asks: https://profiles.ihe.net/ITI/MHD/ITI-65.html

A transaction Bundle recognised as MHD (its meta.profile, or a SubmissionSet List among its
entries) is checked against PDSM4DMP, the national record's (DMP's) reading of the PDSm profiles
with its document types, whatever PDSm, IHE or PDSM4DMP profile it claims (422 listing every
issue, nothing stored); its patient is resolved by INS, the record opened if new
(ingestion.identity); documents the record already holds are answered, not stored again
(ingestion.idempotency); replaced documents are superseded (ingestion.replacement). Then the
rewritten Bundle goes through the server's one transaction processor as the caller, so the consent
policy's write rules and the audit apply: there is no second path to the store. All or nothing.

Other transactions in which a professional names a patient by INS (an Immunization, an
AllergyIntolerance) go through the same identity step, then the same processor.

A record opened by a push is opened in the push's unit of work, and the transaction processor
joins it: one transaction (MongoDB replica set or embedded store), so a refusal anywhere
undoes the new Patient too.
https://interop.esante.gouv.fr/ig/fhir/pdsm/
"""

import copy
import re

from carnet_core.context import AccessContext
from carnet_core.errors import FhirError, InvalidResource, Issue
from fhir_server import fhir_json
from fhir_server.interactions import Interactions, Reply
from fhir_server.store.claims import retrying
from fhir_server.store.repository import Store
from fhir_server.transaction import BundleProcessor
from ingestion.idempotency import Duplicates, is_submission_set
from ingestion.identity import Identity, Ins, Named, check_qualified, collect, ins_of
from ingestion.ins import INS_NIR
from ingestion.replacement import Replacement, Replacements, stated_supersessions
from profiles import DMP_PROVIDE_BUNDLE, PROVIDE_BUNDLE, ProfileIssue, validate

IHE_PROFILES = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/"
PROVIDE_PROFILES = frozenset(
    {
        PROVIDE_BUNDLE,
        DMP_PROVIDE_BUNDLE,
        IHE_PROFILES + "IHE.MHD.Comprehensive.ProvideBundle",
        IHE_PROFILES + "IHE.MHD.UnContained.Comprehensive.ProvideBundle",
        IHE_PROFILES + "IHE.MHD.Minimal.ProvideBundle",
    }
)
_ENTRY = re.compile(r"Bundle\.entry\[(\d+)\]")


def is_provide_bundle(bundle) -> bool:
    """Is this POST [base] body an ITI-65 Provide Document Bundle (by profile or SubmissionSet)?"""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        return False
    meta = bundle.get("meta")
    profiles = meta.get("profile") if isinstance(meta, dict) else None
    if isinstance(profiles, list) and any(
        isinstance(p, str) and p.partition("|")[0] in PROVIDE_PROFILES for p in profiles
    ):
        return True
    entries = bundle.get("entry")
    return isinstance(entries, list) and any(
        isinstance(e, dict)
        and isinstance(e.get("resource"), dict)
        and is_submission_set(e["resource"])
        for e in entries
    )


def _invalid(found: list[ProfileIssue]) -> InvalidResource:
    issues = [Issue("invalid", i.message, expression=[i.expression]) for i in found]
    return InvalidResource(issues[0].diagnostics, issues=issues)


def _subject(entries: list) -> tuple[Ins, str]:
    """The one patient of a submission: the SubmissionSet's and every document's subject, by INS."""
    seen: tuple[Ins, str] | None = None
    for index, entry in enumerate(entries):
        resource = entry["resource"]
        if resource.get("resourceType") != "DocumentReference" and not is_submission_set(resource):
            continue
        where = f"Bundle.entry[{index}].resource.subject"
        subject = resource.get("subject")
        ins = ins_of(subject, where) if isinstance(subject, dict) else None
        if ins is None:
            raise InvalidResource(
                f"{where} must name the patient by their INS (identifier {INS_NIR}|<matricule>, "
                f"or the reference Patient?identifier={INS_NIR}|<matricule>)",
                expression=[where],
            )
        if seen is not None and seen[0] != ins:
            raise InvalidResource(
                f"{where} names another patient than {seen[1]}; a submission is for one patient",
                expression=[where],
            )
        seen = seen or (ins, where)
    if seen is None:  # the profile requires a SubmissionSet: unreachable after validation
        raise InvalidResource("The Bundle names no patient", expression=["Bundle.entry"])
    return seen


def _person(entries: list) -> dict | None:
    """What the sender says of the patient: the first document's contained sourcePatientInfo."""
    first = None
    for index, entry in enumerate(entries):
        resource = entry["resource"]
        if resource.get("resourceType") != "DocumentReference":
            continue
        ref = ((resource.get("context") or {}).get("sourcePatientInfo") or {}).get("reference")
        for contained in resource.get("contained") or []:
            if isinstance(contained, dict) and f"#{contained.get('id')}" == ref:
                where = f"Bundle.entry[{index}].resource.context.sourcePatientInfo"
                check_qualified(contained, where)
                first = first or contained
    return first


def _literal_subjects(entries: list, patient: str, base_url: str) -> None:
    """A subject given both literally and by INS must name the INS's record."""
    for index, entry in enumerate(entries):
        subject = entry["resource"].get("subject")
        reference = subject.get("reference") if isinstance(subject, dict) else None
        if isinstance(reference, str) and reference.removeprefix(base_url + "/") != patient:
            where = f"Bundle.entry[{index}].resource.subject"
            raise InvalidResource(
                f"{where}: {reference} is not the record of the INS it carries", expression=[where]
            )


def _replace_strings(node, mapping: dict[str, str]):
    if isinstance(node, dict):
        return {k: _replace_strings(v, mapping) for k, v in node.items()}
    if isinstance(node, list):
        return [_replace_strings(v, mapping) for v in node]
    return mapping.get(node, node) if isinstance(node, str) else node


def _renumber(error: FhirError, order: list[int], replacing: list[Replacement]) -> None:
    """Entry positions in the processed Bundle, as the client numbered them."""

    def place(position: int) -> str:
        if position < len(order):
            return f"Bundle.entry[{order[position]}]"
        return replacing[position - len(order)].where  # a superseding PATCH we added

    def renumbered(text: str) -> str:
        return _ENTRY.sub(lambda match: place(int(match.group(1))), text)

    def added(text: str) -> int | None:
        match = _ENTRY.search(text)
        return int(match.group(1)) if match and int(match.group(1)) >= len(order) else None

    for issue in error.issues:
        # An issue of a superseding PATCH points at the relatesTo that asked for it.
        position = added(issue.diagnostics)
        issue.expression = [
            place(added(e)) if added(e) is not None else renumbered(e) for e in issue.expression
        ] or ([place(position)] if position is not None else [])
        issue.diagnostics = renumbered(issue.diagnostics)


def _for_others(ctx: AccessContext) -> bool:
    """A caller writing into other people's records (a professional), not the platform's own."""
    return ctx.actor_kind == "practitioner" or (ctx.actor_kind == "system" and not ctx.platform)


class Ingestion:
    """POST [base] for MHD pushes and INS-named transactions; anything else goes straight through."""

    def __init__(
        self, store: Store, interactions: Interactions, bundles: BundleProcessor, secret: str | None
    ):
        self.store = store
        self.bundles = bundles
        self.base_url = interactions.base_url
        self.identity = Identity(interactions, secret)
        self.duplicates = Duplicates(store, interactions.engine, self.base_url)
        self.replacements = Replacements(store, interactions.engine, self.base_url)

    def process(self, ctx: AccessContext, bundle, prefer: str | None) -> Reply:
        """POST [base] (http.html#transaction): ITI-65, an INS-named transaction, or any Bundle."""
        if is_provide_bundle(bundle):
            return self.provide(ctx, bundle, prefer)
        if (
            _for_others(ctx)
            and isinstance(bundle, dict)
            and bundle.get("type") == "transaction"
            and isinstance(bundle.get("entry"), list)
        ):
            if collect(bundle["entry"]):  # checks every INS (422) before anything is written
                bundle = copy.deepcopy(bundle)
                return self._transaction(ctx, bundle, collect(bundle["entry"]), prefer)
        return self.bundles.process(ctx, bundle, prefer)

    def _transaction(self, ctx, bundle: dict, named: dict[Ins, Named], prefer) -> Reply:
        """A transaction naming people by INS: their records resolved (opened), then processed."""

        # One unit of work for the records opened and the transaction (see the module docstring).
        def attempt() -> Reply:
            with self.store.unit_of_work() as uow:
                self.identity.resolve_all(named, {}, uow)
                return self.bundles.process(ctx, bundle, prefer, uow)

        return retrying(attempt)

    def provide(self, ctx: AccessContext, bundle: dict, prefer: str | None) -> Reply:
        """ITI-65: https://profiles.ihe.net/ITI/MHD/ITI-65.html#2365412-message-semantics"""
        # FHIR JSON first: the profile checks below read the elements as their types say.
        shape = fhir_json.issues(bundle)
        if shape:
            raise InvalidResource(shape[0].diagnostics, issues=shape)
        # The record is the DMP: a push is read as its guide, PDSM4DMP, reads PDSm (the guide has no
        # resource profile of its own and its examples claim PDSm's, so a claim cannot tell them
        # apart); that reading includes the DMP's document types.
        found = validate(bundle, DMP_PROVIDE_BUNDLE)
        if found:
            raise _invalid(found)
        bundle = copy.deepcopy(bundle)
        entries = bundle["entry"]
        ins, where = _subject(entries)
        person = _person(entries)
        named = collect(entries)
        named.setdefault(ins, Named(where))
        answers = retrying(lambda: self._provide(ctx, bundle, named, ins, person, prefer))
        return Reply(
            200,
            {
                "resourceType": "Bundle",
                "type": "transaction-response",
                "entry": [answers[i] for i in range(len(entries))],
            },
        )

    def _provide(self, ctx, bundle: dict, named, ins: Ins, person, prefer) -> dict[int, dict]:
        """One attempt at a push, in one unit of work: its response entries by index.

        The documents it stores claim their masterIdentifier in that unit of work: a concurrent
        push of the same document that got there first undoes this one, run again to find it."""
        entries = bundle["entry"]
        with self.store.unit_of_work() as uow:
            patient = self.identity.resolve_all(named, {ins: person}, uow)[ins]
            _literal_subjects(entries, patient, self.base_url)
            known = self.duplicates.find(ctx, entries, patient)
            kept = [i for i in range(len(entries)) if i not in known.answers]
            replacing = self.replacements.plan(ctx, entries, kept, patient)
            stated = stated_supersessions(entries, kept, replacing, self.base_url)
            kept = [i for i in kept if i not in stated]
            answers = dict(known.answers)
            if kept:
                stored, superseding = self._transact(
                    ctx, bundle, kept, known.references, replacing, prefer, uow
                )
                for claim, id in self.duplicates.claims(entries, stored, patient):
                    self.store.claims.take(claim, id, uow)
                answers |= stored
                # A sender's own superseding PATCH is answered with the one we made.
                answers |= {index: superseding[position] for index, position in stated.items()}
        return answers

    def _transact(
        self,
        ctx: AccessContext,
        bundle: dict,
        kept: list[int],
        references: dict[str, str],
        replacing: list[Replacement],
        prefer: str | None,
        uow,
    ) -> tuple[dict[int, dict], list[dict]]:
        """The kept entries through the transaction processor: their response entries by index,
        and those of the superseding PATCHes we added, in the order of `replacing`."""
        entries = bundle["entry"]
        # The transaction processor writes Binaries before the documents naming them.
        order = kept
        sent = [_replace_strings(entries[i], references) for i in order]
        sent += [replacement.entry() for replacement in replacing]
        # The document travels to us, not back: answered with locations unless asked otherwise.
        try:
            reply = self.bundles.process(ctx, {**bundle, "entry": sent}, prefer or "minimal", uow)
        except FhirError as error:
            _renumber(error, order, replacing)
            raise
        answered = reply.body["entry"]
        return (
            {index: answered[position] for position, index in enumerate(order)},
            answered[len(order) :],
        )
