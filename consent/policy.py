"""The access policy of the national record, compiled into MongoDB predicates and write verdicts.

Deny by default: a caller reads only through a named rule, and the store ANDs the rule's predicate
into every query it issues (fhir_server.store.repository), so no read path can skip it. The
predicates look only at `pk` (the patient compartment) and `acl` (consent.acl), never at bodies.
Rules (docs/domain.md#who-reads-a-record; the README's access table is the same list):
- the patient: their whole record, but documents deposited INVISIBLE_PATIENT until released;
  their legal representative the same, but documents deposited INVISIBLE_REPRESENTANTS_LEGAUX;
- a professional (practitioner, or a backend client acting for an organisation): the records of
  patients who made them their attending doctor or named them in a permit Consent (care team),
  masked documents only for the attending doctor, those given the right, and the depositor;
  under break-glass / centre_15 the record in context unless the patient refused it (masked
  documents hidden unless the operator allows them); always what they deposited themselves; never
  anything of a record whose patient blocked them, in any mode, nor of a record its person
  opposed or closed (CSP R1111-28/-36). A token with a patient in context (an EHR launch) is for
  that record only;
- the operator's platform clients: everything (every access audited);
- the directory (Practitioner, PractitionerRole, Organization): every authenticated caller.
Nobody writes into an opposed or closed record (the patient still reads it, and may reopen it).
A Binary follows the document that first took it (fhir_server.store.binary_access): a document may
name only a Binary its writer deposited, or one of its record that its writer already reads.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from carnet_core.context import AccessContext
from carnet_core.errors import Forbidden, InvalidResource, RecordRefused
from consent import codes
from consent.facts import OPEN, Facts
from consent.privacy import recorded_by_professional

MATCH_NOTHING = {"_id": {"$in": []}}


@dataclass(frozen=True)
class ReadRule:
    """A read verdict: the rule's name (for audit and messages) and its MongoDB predicate."""

    rule: str
    predicate: dict


@dataclass(frozen=True)
class Access:
    """What one professional may read, across records, for one request."""

    authored_as: tuple[str, ...]  # the references that make the caller a document's author
    full: tuple[str, ...]  # records read whole, masked documents included
    plain: tuple[str, ...]  # records read without masked documents
    blocked: tuple[str, ...]  # records whose patient blocked the caller
    refused: tuple[str, ...]  # records opposed or closed: nothing of them is read
    rules: dict  # pk -> the rule that opened (or closed) it


@dataclass(frozen=True)
class WriteIntent:
    """A write the store is about to make: the resource before and after, and their acl."""

    resource_type: str
    interaction: str  # create, update or delete
    pk: str | None
    acl: dict | None = None
    previous_acl: dict | None = None
    resource: dict | None = None
    previous: dict | None = None


def _or(branches: list[dict]) -> dict:
    if not branches:
        return MATCH_NOTHING
    return branches[0] if len(branches) == 1 else {"$or": branches}


class Policy:
    """Deny-by-default access decisions for every read and write."""

    def __init__(self, facts: Facts, emergency_sees_masked: bool = False):
        self.facts = facts
        self.emergency_sees_masked = emergency_sees_masked

    # -- reads ----------------------------------------------------------------------------------
    @staticmethod
    def reads_everything(ctx: AccessContext) -> bool:
        """The operator's platform clients and the server's own tasks: every record, audited."""
        return ctx.actor_kind == "operator" or (ctx.actor_kind == "system" and ctx.platform)

    def hides_nothing(self, ctx: AccessContext, resource_type: str) -> bool:
        """Is nothing of `resource_type` hidden from this caller? Then it may create through
        update, at an id of its choice, and delete what is not there (204).

        Inside a patient's record ids are the server's: an update, patch or delete naming an id
        the caller cannot read answers as a read would (404), whether something hidden is there or
        nothing is. Only callers who read everything, and the directory, choose ids.
        """
        return resource_type in codes.DIRECTORY_TYPES or self.reads_everything(ctx)

    def read_rule(self, ctx: AccessContext, resource_type: str) -> ReadRule:
        if self.reads_everything(ctx):
            return ReadRule("platform-full-access", {})
        if resource_type in codes.DIRECTORY_TYPES:
            return ReadRule("directory-public", {})
        if ctx.actor_kind == "patient" and ctx.patient:
            return self._patient_rule(ctx)
        if self._is_professional(ctx):
            return self._professional_rule(ctx, resource_type)
        return ReadRule("deny-by-default", MATCH_NOTHING)

    @staticmethod
    def _is_professional(ctx: AccessContext) -> bool:
        return ctx.actor_kind == "practitioner" or (
            ctx.actor_kind == "system" and bool(ctx.organization)
        )

    @staticmethod
    def _patient_rule(ctx: AccessContext) -> ReadRule:
        # Their whole record, but for documents a professional keeps from them until the
        # consultation that announces them, or until the delay of CSP R1111-53 has passed.
        announced = {"acl.visible_from": {"$lte": datetime.now(UTC)}}
        if _is_representative(ctx):
            # A minor's legal representatives do not see what was deposited invisible to them.
            hidden = {"acl.labels": {"$ne": codes.INVISIBLE_TO_REPRESENTATIVES_LABEL}}
            return ReadRule("legal-representative", {"pk": ctx.patient, **announced, **hidden})
        return ReadRule("patient-own-record", {"pk": ctx.patient, **announced})

    def _professional_rule(self, ctx: AccessContext, resource_type: str) -> ReadRule:
        access = self.access(ctx)
        own: dict = {"acl.by": {"$in": list(access.authored_as)}}
        shut = access.blocked + access.refused
        if ctx.patient:
            # A token for one record: what the caller deposited there, unless shut to them.
            own = MATCH_NOTHING if ctx.patient in shut else {**own, "pk": ctx.patient}
        elif shut:
            own["pk"] = {"$nin": sorted(set(shut))}
        name = access.rules.get(ctx.patient, "own-deposits") if ctx.patient else "care-team"
        if resource_type in codes.PATIENT_PRIVATE_TYPES:
            # Who looked at the record and the patient's privacy choices are the patient's:
            # a professional reads only the consent its own software recorded.
            return ReadRule("own-deposits", own)
        if ctx.patient in access.full:
            return ReadRule(name, {"pk": ctx.patient})  # the whole record: nothing else to add
        if ctx.patient in access.plain:
            return ReadRule(
                name,
                {
                    "pk": ctx.patient,
                    "$or": [
                        {"acl.labels": {"$ne": codes.MASKED_LABEL}},
                        {"acl.by": {"$in": list(access.authored_as)}},
                    ],
                },
            )
        branches = []
        if access.full:
            branches.append({"pk": {"$in": list(access.full)}})
        if access.plain:
            branches.append(
                {"pk": {"$in": list(access.plain)}, "acl.labels": {"$ne": codes.MASKED_LABEL}}
            )
        branches.append(own)
        return ReadRule(name, _or(branches))

    def me(self, ctx: AccessContext) -> set[str]:
        """The references a professional is known by: themselves and their organisations."""
        refs = {ref for ref in (ctx.actor_ref, ctx.organization) if ref}
        if ctx.actor_kind == "practitioner" and ctx.actor_ref:
            refs |= self.facts.organisations(ctx, ctx.actor_ref)
        return refs

    @staticmethod
    def authored_as(ctx: AccessContext) -> set[str]:
        """What makes this caller a document's author: a practitioner is one person (their
        colleagues are not), a backend client is its organisation."""
        return {ref for ref in (ctx.actor_ref, ctx.organization) if ref}

    def depositors(self, ctx: AccessContext) -> list[str]:
        """Who a write is deposited by: the person or client, and the organisations they act for."""
        if ctx.actor_kind == "operator":
            return []
        if ctx.actor_kind == "patient":
            return [ctx.actor_ref] if ctx.actor_ref else []
        return sorted(self.me(ctx))

    def access(self, ctx: AccessContext) -> Access:
        """The records a professional may read in this request, and by which rule.

        With a patient in context (an EHR launch) the token is for that record only: its facts
        are read, nobody else's. Without one, the records whose patients named the caller.
        """
        if "access" in ctx.cache:
            return ctx.cache["access"]
        personal = self.authored_as(ctx)

        def names_me(refs: set[str]) -> bool:
            if personal & refs:
                return True
            # Only a record naming an organisation needs the practitioner's organisations.
            organisations = any(r.startswith("Organization/") for r in refs)
            return organisations and ctx.actor_kind == "practitioner" and bool(self.me(ctx) & refs)

        if ctx.patient:
            records = {ctx.patient: self.facts.record(ctx, ctx.patient)}
            refused = {pk: f.status for pk, f in records.items() if f.status != OPEN}
        else:
            records = dict(self.facts.records_naming(ctx, self.me(ctx)))
            # What the caller deposited may be in any record: every refused one is left out.
            refused = self.facts.refused_records(ctx)
        emergency = ctx.purpose_of_use in codes.EMERGENCY_MODES and bool(ctx.patient)
        full, plain, blocked, rules = [], [], [], {}
        for pk, status in refused.items():
            rules[pk] = f"record-{status}"
        for pk, facts in records.items():
            said = facts.choices
            if pk in refused:
                continue
            # How a record may name the caller, the first that does deciding: blocking first.
            named = (
                (said.blocked, blocked, "blocked-by-patient"),
                (facts.attending, full, "attending-doctor"),
                (said.sees_masked, full, "care-team-with-masked"),
                (said.permitted, plain, "care-team"),
            )
            for refs, into, rule in named:
                if names_me(refs):
                    into.append(pk)
                    rules[pk] = rule
                    break
            else:
                if not (emergency and pk == ctx.patient):
                    continue
                if ctx.purpose_of_use in said.refused_modes:
                    rules[pk] = "emergency-refused-by-patient"
                    continue
                rules[pk] = ctx.purpose_of_use.replace("_", "-")
                (full if self.emergency_sees_masked else plain).append(pk)
        access = Access(
            tuple(sorted(personal)),
            tuple(full),
            tuple(plain),
            tuple(blocked),
            tuple(sorted(refused)),
            rules,
        )
        ctx.cache["access"] = access
        return access

    def rule_for(self, ctx: AccessContext, pk: str) -> str:
        """The rule that let this caller into one record (for its AuditEvent)."""
        if self.reads_everything(ctx):
            return "platform-full-access"
        if ctx.actor_kind == "patient":
            return "legal-representative" if _is_representative(ctx) else "patient-own-record"
        if self._is_professional(ctx):
            return self.access(ctx).rules.get(pk, "own-deposits")
        return "deny-by-default"

    # -- writes ---------------------------------------------------------------------------------
    @staticmethod
    def check_record_life(ctx: AccessContext, pk: str) -> str:
        """Who closes, reopens or erases a whole record (CSP R1111-36): its patient (or their
        legal representative), or the operator's platform acting on the person's request."""
        if ctx.actor_kind == "patient" and ctx.patient == pk:
            return "record-life-by-patient"
        if ctx.actor_kind == "system" and ctx.platform:
            return "platform-full-access"
        raise Forbidden(
            "Only the patient closes, reopens or erases their record (rule: record-life-by-patient)"
        )

    @staticmethod
    def notice_chooser(ctx: AccessContext, pk: str) -> str:
        """Whose notices (consent.record_notices) the caller turns on or off: each person of the
        record's side (the patient, a legal representative) their own, or the operator's platform
        the patient's, on their request; Forbidden for anyone else."""
        if ctx.actor_kind == "patient" and ctx.patient == pk and ctx.actor_ref:
            return ctx.actor_ref
        if ctx.actor_kind == "system" and ctx.platform:
            return pk
        raise Forbidden(
            "Only the patient (or their legal representative) chooses the notices they receive "
            "(rule: notices-by-recipient)"
        )

    def check_write(self, ctx: AccessContext, intent: WriteIntent) -> str:
        """Return the name of the rule that permits the write, or raise Forbidden naming it."""
        if intent.resource_type == "AuditEvent":
            if ctx.actor_kind == "operator" and intent.interaction == "create":
                return "audit-append-only"
            raise Forbidden("Nobody changes or deletes an AuditEvent (rule: audit-append-only)")
        if intent.resource_type in ("Patient", "Consent"):
            self.facts.forget(ctx)
        self._check_record_open(ctx, intent)
        if self.reads_everything(ctx):
            return "platform-full-access"
        if intent.resource_type in codes.DIRECTORY_TYPES:
            raise Forbidden(
                f"The directory ({intent.resource_type}) is kept by the operator "
                "(rule: directory-operator-only)"
            )
        if intent.resource_type in codes.CARE_HISTORY_TYPES:
            raise Forbidden(
                f"{intent.resource_type} is the care history the health insurer knows, brought in "
                "by the operator's import (rule: care-history-by-operator)"
            )
        if ctx.actor_kind == "patient" and ctx.patient:
            return self._patient_write(ctx, intent)
        if self._is_professional(ctx):
            return self._professional_write(ctx, intent)
        raise Forbidden(f"Writing {intent.resource_type} is not permitted (rule: deny-by-default)")

    def _check_record_open(self, ctx: AccessContext, intent: WriteIntent) -> None:
        """Nothing is added to a record its person opposed or closed, by anyone (409).

        A deletion takes nothing in; the patient reads their closed record and may reopen it.
        """
        if intent.interaction == "delete":
            return
        if not (intent.pk or "").startswith("Patient/"):
            return
        patient = intent.resource if intent.resource_type == "Patient" else None
        status = self.facts.status(ctx, intent.pk, patient)
        if status != OPEN:
            said = {"opposed": "opposed the creation of their record", "erased": "erased it"}.get(
                status, "closed it"
            )
            raise RecordRefused(
                f"The person of {intent.pk} {said}: nothing is written into it "
                f"(rule: record-{status})"
            )

    @staticmethod
    def _label_change(intent: WriteIntent, label: str) -> tuple[bool, bool]:
        was = label in (intent.previous_acl or {}).get("labels", [])
        now = label in (intent.acl or {}).get("labels", [])
        return was, now

    @staticmethod
    def _authored(intent: WriteIntent, me: set[str]) -> bool:
        acl = intent.previous_acl or {}
        if intent.resource_type == "Binary":
            # Whoever deposited the Binary changes it, not the authors of the document holding it.
            return bool(me & set(acl.get("own", acl.get("dep", []))))
        return bool(me & set(acl.get("by", [])))

    def check_attachment(
        self,
        ctx: AccessContext,
        holder: str,
        pk: str | None,
        binary: dict | None,
        readable: bool,
        where: str,
    ) -> None:
        """May the document `holder` (in record `pk`) name this stored Binary (None: none)?

        Naming a Binary never widens who reads it (it keeps following the document that first
        took it): a document names a Binary it already holds, one outside any record that its
        writer deposited (MHD: the Binary is posted first), or one of its own record that its
        writer already reads. Anything else, a missing Binary included, gets the same 422, so the
        answer tells nothing of what exists.
        """
        if self.reads_everything(ctx):
            return
        if binary is not None:
            acl = binary.get("acl") or {}
            if acl.get("doc") == holder:
                return
            if binary["pk"].startswith("Patient/"):
                if binary["pk"] == pk and readable:
                    return
            elif self.authored_as(ctx) & set(acl.get("dep", [])):
                return
        raise InvalidResource(
            f"{where} does not name a Binary this document may hold: one its writer deposited, "
            "or one of the same record its writer reads (rule: binary-follows-its-document)",
            code="business-rule",
            expression=[where],
        )

    def _patient_write(self, ctx: AccessContext, intent: WriteIntent) -> str:
        if intent.pk != ctx.patient:
            raise Forbidden(
                "A patient writes only into their own record (rule: patient-own-record)"
            )
        for label in codes.PROFESSIONAL_LABELS:
            was, now = self._label_change(intent, label)
            if was != now:
                raise Forbidden(
                    f"Only a professional sets or lifts {label.split('|')[1]} "
                    "(rule: invisible-patient-set-by-professionals)"
                )
        mine = {ref for ref in (ctx.patient, ctx.actor_ref) if ref}
        if intent.interaction == "create" or self._authored(intent, mine):
            return "patient-own-data"
        if intent.resource_type == "Consent":
            return "patient-privacy-choices"  # including revoking what a professional recorded
        if intent.resource_type == "Patient" and intent.interaction == "update":
            if (intent.resource or {}).get("identifier") != (intent.previous or {}).get(
                "identifier"
            ):
                raise Forbidden(
                    "The national identity (Patient.identifier) is not changed by the patient "
                    "(rule: identity-kept-by-sources)"
                )
            return "patient-own-identity"
        if (
            intent.resource_type == "DocumentReference"
            and intent.interaction == "update"
            and _same_but_labels(intent.resource, intent.previous)
            and _labels_but(intent.acl, codes.MASKED_LABEL)
            == _labels_but(intent.previous_acl, codes.MASKED_LABEL)
        ):
            return "patient-masks-documents"
        raise Forbidden(
            "Only a document's author changes or deletes it; the patient may mask or unmask it "
            "(rule: author-only-changes)"
        )

    def _professional_write(self, ctx: AccessContext, intent: WriteIntent) -> str:
        me = self.me(ctx)
        was_masked, masked = self._label_change(intent, codes.MASKED_LABEL)
        if intent.interaction == "update" and was_masked != masked:
            # A professional may deposit a document masked; afterwards masking is the patient's.
            raise Forbidden(
                "Only the patient masks or unmasks a document (rule: masking-by-patient)"
            )
        if intent.resource_type == "Consent":
            own = self.authored_as(ctx)
            if intent.interaction == "create" and _records_own_consent(intent.resource, own):
                facts = self.facts.record(ctx, intent.pk) if intent.pk else None
                if facts is not None and me & facts.choices.blocked:
                    raise Forbidden(
                        "The patient blocked this professional (rule: blocked-by-patient)"
                    )
                return "consent-recorded-by-professional"
            raise Forbidden(
                "Only the patient (or their legal representative) writes their privacy choices; "
                "professional software may only record the patient's consent to its own access "
                "(rule: privacy-choices-by-patient)"
            )
        if intent.resource_type == "Patient":
            raise Forbidden(
                "Records are opened from the national identity by document submission "
                "(rule: records-opened-by-ingestion)"
            )
        if intent.interaction == "create":
            # The patient cannot prevent a deposit (docs/domain.md#who-writes-what).
            return "professional-deposit"
        if self._authored(intent, self.authored_as(ctx)):
            return "author-changes"
        raise Forbidden(
            "Only a document's author changes or deletes it (rule: author-only-changes)"
        )


def _same_but_labels(resource: dict | None, previous: dict | None) -> bool:
    def body(r: dict | None) -> dict:
        return {k: v for k, v in (r or {}).items() if k not in ("meta", "securityLabel")}

    return resource is not None and previous is not None and body(resource) == body(previous)


def _labels_but(acl: dict | None, label: str) -> set[str]:
    return set((acl or {}).get("labels", [])) - {label}


def _records_own_consent(resource: dict | None, me: set[str]) -> bool:
    return resource is not None and recorded_by_professional(resource, me)


def _is_representative(ctx: AccessContext) -> bool:
    """A legal representative's login: the patient's side, but someone other than the patient."""
    return ctx.actor_kind == "patient" and (ctx.actor_ref or "").startswith("RelatedPerson/")
