"""Telling the patient what matters in their record: a new document, a professional's first access.

docs/domain.md#told-of-what-matters (L1111-19 gives the holder the traces of every access; the
national service also alerts on a professional's first access and on each new document). Each
notice goes through smart_auth's Sender to each account of the record's side (the patient's, their
legal representatives'), on that account's channel, and says only that something happened, when,
and where to look: never a document's title, type, author or content.

- A new document: a DocumentReference created (version 1) by anyone audited (a professional, a
  hospital system's push or transaction, the operator's platform; the patient's side writes
  without notice). Once the request's transaction is committed (unit_of_work.when_committed),
  each recipient is told of the documents *they read now*, read under their own access context.
  A document a label keeps from the patient's side (INVISIBLE_PATIENT, INVISIBLE_REPRESENTANTS_
  LEGAUX) is queued (inside the request's transaction) until it is released: the author lifting
  the label tells at that commit, the month passing at the daily `fhir-server notify-pending`; one
  deleted meanwhile is dropped untold. A refused or rolled-back write never reaches the commit, so
  it tells nobody.
- A professional's first access: the first successful read of the record by each Practitioner
  (once per professional and record, whatever the mode; an emergency access has its own notice,
  consent.notify, so its first read is recorded as told without a second message).
- Each kind can be turned off and on again by each recipient (NoticePreference), through
  `Patient/{id}/$notifications` or their record page. A sender's failure is logged; its documents
  are queued and told at the next commit on the record or the next daily pass.
"""

import logging
from collections.abc import Iterable
from typing import Protocol

import mongoengine as me

from carnet_core.clock import Clock
from carnet_core.context import AccessContext, operator_context
from carnet_core.errors import BadRequest
from carnet_core.scopes import ScopeSet
from consent import codes
from consent.facts import OPEN
from consent.policy import Policy
from smart_auth.models import ALIAS, Account
from smart_auth.sender import Sender

log = logging.getLogger("carnet.notices")

DOCUMENT_ADDED, FIRST_ACCESS = "document-added", "first-access"
KINDS = (DOCUMENT_ADDED, FIRST_ACCESS)
# What a professional's access that reads counts as (a write alone is no reading of the record).
READS = frozenset(
    {"read", "vread", "history-instance", "history-type", "search-type", "operation", "batch"}
)


class NoticePreference(me.Document):
    """The kinds of notice a person turned off (absent: every kind is on)."""

    fhir_user = me.StringField(required=True, unique=True)
    off = me.ListField(me.StringField(choices=KINDS))
    meta = {"db_alias": ALIAS, "collection": "consent_notice_preferences"}


class FirstAccess(me.Document):
    """A professional's first access to a record, told (or recorded as told) once."""

    key = me.StringField(required=True, unique=True)  # record | professional
    record = me.StringField(required=True)  # Patient/<id>
    at = me.DateTimeField(required=True)
    meta = {"db_alias": ALIAS, "collection": "consent_first_accesses", "indexes": ["record"]}


class QueuedDocument(me.Document):
    """A new document the record's side has not been told of yet."""

    document = me.StringField(required=True, unique=True)  # DocumentReference id
    record = me.StringField(required=True)  # Patient/<id>
    at = me.DateTimeField(required=True)
    meta = {"db_alias": ALIAS, "collection": "consent_queued_documents", "indexes": ["record"]}


class Reader(Protocol):
    """The store's policy-filtered read (fhir_server.store.repository.Store.find)."""

    def find(self, ctx: AccessContext, resource_type: str, query: dict, **options) -> list: ...


def preferences(fhir_user: str) -> dict[str, bool]:
    """Each kind of notice: on (True) or off, for this person."""
    found = NoticePreference.objects(fhir_user=fhir_user).first()
    off = set(found.off) if found else set()
    return {kind: kind not in off for kind in KINDS}


def choose(fhir_user: str, changes: dict[str, bool]) -> dict[str, bool]:
    """Turn kinds of notice on or off for this person; returns every kind's state."""
    unknown = sorted(set(changes) - set(KINDS))
    if unknown:
        raise BadRequest(
            f"Unknown kind of notice {unknown[0]!r}; the kinds are {', '.join(KINDS)}",
            expression=["Parameters.parameter.name"],
        )
    state = {**preferences(fhir_user), **changes}
    off = [kind for kind in KINDS if not state[kind]]
    NoticePreference.objects(fhir_user=fhir_user).update_one(set__off=off, upsert=True)
    return state


def forget(pk: str) -> None:
    """What the notices keep of an erased record."""
    QueuedDocument.objects(record=pk).delete()
    FirstAccess.objects(record=pk).delete()
    NoticePreference.objects(fhir_user=pk).delete()


def _documents(ctx: AccessContext, pk: str) -> tuple[list[str], list[str], list[str]]:
    """The DocumentReferences the request created in the record, split into those no label keeps
    from the patient's side and the others, and those it changed."""
    touched = ctx.trail.touched.get(pk, {})
    created = [
        ref.split("/")[1]
        for record, ref in ctx.trail.created
        if record == pk and ref.startswith("DocumentReference/")
    ]
    kept = [
        id
        for id in created
        if set(touched.get(f"DocumentReference/{id}/_history/1", []))
        & set(codes.PROFESSIONAL_LABELS)
    ]
    changed = [
        ref.split("/")[1]
        for ref in touched
        if ref.startswith("DocumentReference/") and not ref.endswith("/_history/1")
    ]
    return [id for id in created if id not in kept], kept, changed


class RecordNotices:
    """An AuditEvent observer (consent.audit): queues new documents and first accesses, and tells
    the record's side once the request is committed."""

    def __init__(
        self,
        policy: Policy,
        store: Reader,
        sender: Sender,
        clock: Clock,
        when_committed,
        page: str = "/auth/record/mine",
    ):
        self.policy = policy
        self.store = store
        self.sender = sender
        self.clock = clock
        self.when_committed = when_committed
        self.page = page

    def __call__(self, ctx: AccessContext, pk: str, event: dict) -> None:
        if event["outcome"] != "0" or ctx.actor_kind == "patient":
            return
        if ("record-notices", pk) not in ctx.cache:  # once per request and record
            ctx.cache[("record-notices", pk)] = True
            self._new_documents(ctx, pk)
        if (
            ctx.actor_kind == "practitioner"
            and ctx.actor_ref
            and event["subtype"][0]["code"] in READS
            and not event.get("meta")  # an access to what the patient may not see yet: untold
        ):
            self._first_access(ctx, pk)

    def _new_documents(self, ctx: AccessContext, pk: str) -> None:
        """Queue what the request created that is kept from the patient's side (inside its
        transaction: no write of its own); tell the rest after its commit, with what is queued
        (a change may have released a queued document)."""
        shown, kept, changed = _documents(ctx, pk)
        self._queue(pk, kept)
        if shown or kept or (changed and QueuedDocument.objects(document__in=changed).first()):
            status = self.policy.facts.record(ctx, pk).status
            self.when_committed(lambda: self.tell_documents(pk, shown, status))

    # -- a professional's first access -------------------------------------------------------
    def _first_access(self, ctx: AccessContext, pk: str) -> None:
        if FirstAccess.objects(key=f"{pk}|{ctx.actor_ref}").first() is not None:
            return
        now = self.clock.now()
        emergency = ctx.purpose_of_use in codes.EMERGENCY_MODES

        def tell() -> None:
            try:
                FirstAccess(key=f"{pk}|{ctx.actor_ref}", record=pk, at=now).save()
            except me.NotUniqueError:
                return  # a concurrent request told it
            if emergency:
                return  # told by the emergency access's own notice (consent.notify)
            self._tell(
                pk,
                FIRST_ACCESS,
                "Un professionnel a consulté votre dossier médical",
                f"{ctx.actor_ref} a consulté votre dossier pour la première fois le "
                f"{now:%d/%m/%Y}. L'historique des accès est dans votre espace : {self.page}",
                professional=ctx.actor_ref,
            )

        self.when_committed(_safely(tell))

    # -- new documents -----------------------------------------------------------------------
    def tell_documents(self, pk: str, fresh: list[str] = (), status: str | None = None) -> None:
        """Tell each recipient of the documents just committed (`fresh`) and of those queued
        that they read now; never raises. `status`: the record's, if the caller knows it."""
        _safely(lambda: self._tell_documents(pk, list(fresh), status))()

    def _tell_documents(self, pk: str, fresh: list[str], status: str | None) -> None:
        queued = {q.document: q for q in QueuedDocument.objects(record=pk)}
        own = operator_context("record-notices")  # a context per pass: its facts are read anew
        if queued:
            for gone in set(queued) - self._ids(own, list(queued)):
                queued.pop(gone).delete()  # deleted before anyone was told: never told
        candidates = fresh + [id for id in queued if id not in fresh]
        if not candidates:
            return
        if (status or self.policy.facts.record(own, pk).status) != OPEN:
            self._queue(pk, fresh)  # a closed record's side is told after it reopens
            return
        told_patient: set[str] | None = None
        failed = False
        for account in _recipients(pk):
            readable = self._ids(_side_context(account.fhir_user, pk), candidates)
            if account.fhir_user == pk:
                told_patient = readable
            if readable and not self._send(
                account,
                pk,
                DOCUMENT_ADDED,
                "Nouveau document dans votre dossier médical",
                (
                    "Un nouveau document a été ajouté"
                    if len(readable) == 1
                    else f"{len(readable)} nouveaux documents ont été ajoutés"
                )
                + f" à votre dossier le {self.clock.now():%d/%m/%Y}. Consultez votre espace : "
                f"{self.page}",
            ):
                failed = True
        if failed:
            self._queue(pk, fresh)  # told at the next commit on the record or the daily pass
            return
        if told_patient is None:  # no account of the patient's own: what they read is done
            told_patient = self._ids(_side_context(pk, pk), candidates)
        self._queue(pk, [id for id in fresh if id not in told_patient])
        for id in told_patient & set(queued):
            queued[id].delete()

    def _queue(self, pk: str, ids: list[str]) -> None:
        now = self.clock.now()
        for id in ids:
            QueuedDocument.objects(document=id).update_one(
                set_on_insert__record=pk, set_on_insert__at=now, upsert=True
            )

    def tell_all(self) -> int:
        """The daily pass: tell every record with queued documents (released on their own)."""
        records = sorted(set(QueuedDocument.objects.distinct("record")))
        for pk in records:
            self.tell_documents(pk)
        return len(records)

    def _ids(self, ctx: AccessContext, ids: list[str]) -> set[str]:
        found = self.store.find(
            ctx, "DocumentReference", {"_id": {"$in": ids}}, projection={"_id": 1}, trail=False
        )
        return {doc["_id"] for doc in found}

    # -- sending -----------------------------------------------------------------------------
    def _tell(self, pk: str, kind: str, subject: str, body: str, **data) -> None:
        for account in _recipients(pk):
            self._send(account, pk, kind, subject, body, **data)

    def _send(self, account: Account, pk: str, kind: str, subject: str, body: str, **data) -> bool:
        """Send unless this person turned the kind off; False when the sender failed."""
        if not preferences(account.fhir_user)[kind]:
            return True
        try:
            self.sender.send(
                account.otp_channel,
                account.otp_address,
                subject,
                body,
                kind=kind,
                patient=pk,
                at=self.clock.now().isoformat(),
                **data,
            )
        except Exception:  # a gateway down: the write stands, the notice is retried later
            log.exception("could not send a %s notice for %s", kind, pk)
            return False
        return True


def _recipients(pk: str) -> Iterable[Account]:
    """The accounts of the record's side: the patient's, and their legal representatives'."""
    yield from Account.objects(fhir_user=pk)
    yield from Account.objects(represents=pk)


def _side_context(fhir_user: str, pk: str) -> AccessContext:
    """A recipient reading their record, so that the policy says what they see now."""
    return AccessContext(
        actor_kind="patient",
        actor_ref=fhir_user,
        patient=pk,
        scopes=ScopeSet.parse("patient/DocumentReference.rs"),
        client_id="carnet-notices",
    )


def _safely(action):
    """An after-commit step that never fails the request it follows (the write is committed)."""

    def run() -> None:
        try:
            action()
        except Exception:
            log.exception("a record notice failed")

    return run
