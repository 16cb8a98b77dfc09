"""The life of a record: opt-out opening, activation, closing, archive, erasure, reopening.

CSP R1111-28 (the record opens six weeks after the person was informed, unless they objected),
R1111-36 (the holder closes it at any time; its data is archived ten years then deleted, or deleted
on express request; reopening brings it back), L1111-14 (opt-out):
https://www.legifrance.gouv.fr/codes/texte_lc/LEGITEXT000006072665/. The states and the moves
between them: docs/domain.md#the-record-and-its-status. Every deadline is read from the injected
clock (carnet_core.clock). The operator's side is `fhir-server lifecycle notify|run`; the person's
answers are pages (ingestion.record_pages); the patient's operations are the `$close`, `$reopen`
and `$erase` rows of fhir_server.route_table.
"""

from dataclasses import dataclass
from datetime import timedelta

from carnet_core.clock import Clock, aware, years_after
from carnet_core.context import AccessContext, operator_context
from carnet_core.errors import BadRequest, Conflict, InvalidResource
from consent import record_notices
from consent.audit import AUDIT_CONTEXT
from fhir_server.bulk_export.operation import BulkExport
from fhir_server.interactions import Interactions, Reply
from fhir_server.store.binary import BlobStore
from fhir_server.store.erasure import erase_compartment
from fhir_server.store.repository import Store, instant, new_id
from ingestion import opt_out
from ingestion.identity import Identity, new_patient
from ingestion.ins import ins_identifier
from ingestion.models import PatientRecord
from ingestion.opt_out import AnswerRefused, Notice
from smart_auth.accounts import (
    HASHER,
    AccountError,
    AccountExists,
    LoginPolicy,
    create_account,
    delete_accounts_of,
    find_account,
    record_failure,
    throttle_keys,
)
from smart_auth.sender import Sender

LIFECYCLE = "lifecycle"  # the server's own context for the writes below (never audited)
ERASER = "Device/carnet-lifecycle"  # who the erasure's AuditEvent names: the server, nobody else
ERASE_MODES = ("archive", "erase")
_DCM = "http://dicom.nema.org/resources/ontology/DCM"


@dataclass(frozen=True)
class Periods:
    """FHIR_SERVER_OPT_OUT_DAYS and FHIR_SERVER_ARCHIVE_YEARS."""

    opt_out_days: int = 42
    archive_years: int = 10


class RecordLife:
    def __init__(
        self,
        store: Store,
        interactions: Interactions,
        blobs: BlobStore,
        identity: Identity,
        sender: Sender,
        clock: Clock,
        periods: Periods,
        links: str,
        exports: BulkExport,
    ):
        self.store = store
        self.interactions = interactions
        self.blobs = blobs
        self.identity = identity
        self.sender = sender
        self.clock = clock
        self.periods = periods
        self.links = links  # where the person answers, named in every notice
        self.exports = exports  # an erased record's export files go with it

    # -- the operator's side -------------------------------------------------------------------
    def notify(self, notices: list[Notice]) -> dict[str, list[str]]:
        """Write to each person never notified; those already known are skipped, with why.

        Returns {"notified": [ins...], "skipped": ["ins: why"...]}: safe to run again on a list.
        """
        done: dict[str, list[str]] = {"notified": [], "skipped": []}
        now = self.clock.now()
        for notice in notices:
            record = PatientRecord.objects(system=notice.system, value=notice.ins).first()
            if record is not None and _opened_unnotified(record):
                # A push opened it before any notice: the person is told, and may activate it.
                self._notify_opened(record, notice, now)
                done["notified"].append(notice.ins)
                continue
            if record is not None:
                done["skipped"].append(f"{notice.ins}: already {record.status}")
                continue
            window = now + timedelta(days=self.periods.opt_out_days)
            record = PatientRecord(
                system=notice.system,
                value=notice.ins,
                status="pending",
                birth_date=notice.birth_date,
                channel=notice.channel,
                address=notice.address,
                window_ends=window,
                changed=now,
            )
            code = opt_out.issue_code(record, now, self.periods.opt_out_days)
            record.save(force_insert=True)
            day = window.date().strftime("%d/%m/%Y")
            opt_out.send_code(
                self.sender,
                record,
                code,
                f"Votre dossier médical partagé sera ouvert le {day}, sauf si vous vous y "
                "opposez d'ici là. Vous pouvez aussi l'activer dès maintenant.",
                self.links,
            )
            done["notified"].append(notice.ins)
        return done

    def _notify_opened(self, record: PatientRecord, notice: Notice, now) -> None:
        record.birth_date, record.channel, record.address = (
            notice.birth_date,
            notice.channel,
            notice.address,
        )
        code = opt_out.issue_code(record, now, self.periods.opt_out_days)
        record.save()
        opt_out.send_code(
            self.sender,
            record,
            code,
            "Votre dossier médical partagé est ouvert : un professionnel y a déposé un document. "
            "Vous pouvez l'activer pour le consulter, le fermer ou en demander l'effacement.",
            self.links,
        )

    def run(self) -> dict[str, int]:
        """The daily pass: open the records whose window ended, erase those whose archive ended.

        Idempotent, and right when run late: each record is moved once, by its state and dates.
        """
        now = self.clock.now()
        opened = 0
        for record in PatientRecord.objects(status="pending", window_ends__lte=now):
            opened += PatientRecord.objects(id=record.id, status="pending").update_one(
                set__status="open", set__changed=now
            )
        erased = 0
        for record in PatientRecord.objects(status="closed", archive_until__lte=now):
            self._erase(record, "the archive period ended")
            erased += 1
        return {"opened": opened, "erased": erased}

    # -- the person's answers with their code (pages) -----------------------------------------
    def oppose(self, record: PatientRecord) -> None:
        """Within the window: the record is `opposed`; whatever it held is erased."""
        now = self.clock.now()
        if record.status != "pending" or aware(record.window_ends) <= now:
            raise AnswerRefused(
                "Le délai pour vous opposer à l'ouverture de votre dossier est passé. Vous "
                "pouvez le fermer, ou en demander l'effacement, une fois connecté.",
                409,
            )
        pk = record.patient or self.identity.find((record.system, record.value))
        if pk:
            self._erase_data(pk)
        # Kept: the INS and the opposition, and the means to send a code to withdraw it.
        record.status, record.changed, record.window_ends = "opposed", now, None
        record.patient = record.opened = record.code_hash = record.code_expires = None
        record.save()

    def withdraw(self, record: PatientRecord) -> None:
        """An opposition withdrawn: the record opens (the code still activates it)."""
        if record.status != "opposed":
            raise AnswerRefused("Vous ne vous êtes pas opposé à l'ouverture de ce dossier.", 409)
        record.status, record.changed = "open", self.clock.now()
        record.save()

    def new_code(self, ins: str, born: str, address: str | None, policy: LoginPolicy) -> None:
        """Send a new code to the channel on file, at most once a day; silent otherwise (the
        page says the same whatever happened: it tells nobody whether an INS is known)."""
        record = opt_out.find_record(ins)
        now = self.clock.now()
        if record is None or record.birth_date != (born or "").strip() or not record.channel:
            record_failure(throttle_keys("ins:" + (ins or "").strip(), address), policy)
            return
        waiting = record.status in ("pending", "opposed") or (
            record.status == "open" and not record.account
        )
        if not waiting or not opt_out.may_send_again(record, now):
            return
        code = opt_out.issue_code(record, now, self.periods.opt_out_days)
        record.save()
        opt_out.send_code(
            self.sender, record, code, "Voici le nouveau code que vous avez demandé.", self.links
        )

    def activate(
        self,
        record: PatientRecord,
        username: str,
        password: str,
        channel: str,
        otp_address: str,
        card: str,
    ) -> str:
        """The person's account on their record, which opens now; returns the username."""
        if record.account or record.status not in ("pending", "open"):
            raise AnswerRefused(
                "Ce dossier est déjà activé : connectez-vous."
                if record.account
                else "Ce dossier ne peut pas être activé.",
                409,
            )
        if find_account(username) is not None:
            raise AnswerRefused("Cet identifiant est déjà pris : choisissez-en un autre.", 409)
        ins = (record.system, record.value)
        pk = record.patient or self.identity.find(ins)
        if pk is None:
            id = self.identity.patient_id(ins)
            person = {"birthDate": record.birth_date} if record.birth_date else None
            self.interactions.update(
                operator_context(LIFECYCLE), "Patient", id, new_patient(ins, person, id)
            )
            pk = f"Patient/{id}"
        try:
            account = create_account(username, password, pk, channel, otp_address)
        except AccountExists as error:
            raise AnswerRefused(
                "Cet identifiant est déjà pris : choisissez-en un autre.", 409
            ) from error
        except AccountError as error:
            raise AnswerRefused(f"Compte non créé : {error}", 400) from error
        now = self.clock.now()
        record.status, record.patient, record.account = "open", pk, account.username
        record.opened = record.opened or now
        record.card_hash = HASHER.hash(card)
        record.code_hash = record.code_expires = record.window_ends = None
        record.changed = now
        record.save()
        return account.username

    # -- the patient's operations ($close, $reopen, $erase) ------------------------------------
    def close(self, ctx: AccessContext, id: str, mode: str | None) -> Reply:
        """Close the record: archived FHIR_SERVER_ARCHIVE_YEARS, or erased now (`mode=erase`)."""
        mode = mode or "archive"
        if mode not in ERASE_MODES:
            raise BadRequest("mode is 'archive' (the default) or 'erase'", expression=["mode"])
        record, pk = self._own_record(ctx, id)
        if record.status not in ("open", "pending"):
            raise Conflict(f"The record of {pk} is already {record.status}", code="business-rule")
        if mode == "erase":
            return self._erased(record, ctx)
        now = self.clock.now()
        record.status, record.patient, record.changed = "closed", pk, now
        record.closed_at, record.archive_until = now, years_after(now, self.periods.archive_years)
        record.window_ends = None
        record.save()
        return _status(record)

    def reopen(self, ctx: AccessContext, id: str) -> Reply:
        """Reopen a closed record within its archive period: everything is as it was."""
        record, pk = self._own_record(ctx, id)
        if record.status != "closed":
            raise Conflict(
                f"The record of {pk} is {record.status}, not closed", code="business-rule"
            )
        if record.archive_until is not None and aware(record.archive_until) <= self.clock.now():
            raise Conflict(
                f"The archive period of {pk} is over: its data is being erased",
                code="business-rule",
            )
        record.status, record.changed = "open", self.clock.now()
        record.closed_at = record.archive_until = None
        record.save()
        return _status(record)

    def erase(self, ctx: AccessContext, id: str) -> Reply:
        """Erase the record now, open or closed: every version, history and Binary content."""
        record, pk = self._own_record(ctx, id)
        if record.status not in ("open", "pending", "closed"):
            raise Conflict(f"The record of {pk} is {record.status}", code="business-rule")
        return self._erased(record, ctx)

    def _own_record(self, ctx: AccessContext, id: str) -> tuple[PatientRecord, str]:
        """The record of Patient/<id>, for its patient (or their representative) or the operator's
        platform acting on the person's request; 403 for anyone else, 404 as for a read."""
        pk = f"Patient/{id}"
        self.store.policy.check_record_life(ctx, pk)
        self.store.enforcer.require(ctx, "Patient", "update")
        patient = self.store.read(ctx, "Patient", id)
        ins = ins_identifier(patient.resource)
        if ins is None:
            raise InvalidResource(
                f"{pk} carries no INS: a record's status is kept by INS",
                code="business-rule",
                expression=["Patient.identifier"],
            )
        record = PatientRecord.objects(system=ins[0], value=ins[1]).first()
        if record is None:
            record = PatientRecord(system=ins[0], value=ins[1], status="open", patient=pk)
        return record, pk

    def _erased(self, record: PatientRecord, ctx: AccessContext) -> Reply:
        self._erase(record, "at the person's request")
        return _status(record)

    # -- erasure ---------------------------------------------------------------------------
    def _erase(self, record: PatientRecord, why: str) -> None:
        """Erase the record's data and accounts; keep the INS, the state and the date."""
        pk = record.patient or self.identity.find((record.system, record.value))
        if pk:
            self._erase_data(pk)
            delete_accounts_of(pk)
            record_notices.forget(pk)
            self._record_erasure(pk, why)
        now = self.clock.now()
        record.status, record.erased_at, record.changed = "erased", now, now
        for kept in (
            "patient birth_date channel address window_ends code_hash code_expires code_sent "
            "account card_hash closed_at archive_until opened"
        ).split():
            setattr(record, kept, None)
        record.save()

    def _erase_data(self, pk: str) -> None:
        with self.store.unit_of_work() as uow:
            erase_compartment(self.store.documents, self.blobs, pk, uow)
        self.exports.erase_record(pk)  # files take no part in the unit of work: once it commits

    def _record_erasure(self, pk: str, why: str) -> None:
        """The one trace left: an AuditEvent saying that the record was erased, when and why
        (on request, or at the archive's end); nothing of what it held."""
        event = {
            "resourceType": "AuditEvent",
            "id": new_id(),
            "type": {"system": _DCM, "code": "110110", "display": "Patient Record"},
            "subtype": [{"system": "urn:carnet:record-life", "code": "erase"}],
            "action": "D",
            "recorded": instant(self.clock.now()),
            "outcome": "0",
            "outcomeDesc": f"record erased: {why}",
            "agent": [{"who": {"reference": ERASER}, "requestor": False}],
            "source": {"observer": {"display": "Carnet"}},
            "entity": [{"what": {"reference": pk}}],
        }
        self.store.write(AUDIT_CONTEXT, event, method="POST", must_be_new=True)


def _opened_unnotified(record: PatientRecord) -> bool:
    """Opened by a first push, never notified, no account yet."""
    return record.status == "open" and not record.account and not record.channel


def _status(record: PatientRecord) -> Reply:
    """The record's new state, as a Parameters resource."""
    parameters = [{"name": "status", "valueCode": record.status}]
    if record.archive_until is not None:
        until = instant(aware(record.archive_until))
        parameters.append({"name": "archivedUntil", "valueDateTime": until})
    return Reply(200, {"resourceType": "Parameters", "parameter": parameters})
