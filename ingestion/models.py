"""Bulk import jobs and their checkpoints (mongoengine): https://github.com/smart-on-fhir/bulk-import

Fixed-shape bookkeeping, not FHIR: where each NDJSON source was last committed, the counts, the first
errors. Stored beside the authorization server's records (same database alias), so a job started by
one process can be polled, cancelled or resumed from another.
"""

from datetime import UTC, datetime

import mongoengine as me

from smart_auth.models import ALIAS

STATUSES = ("pending", "running", "completed", "failed", "cancelled")
# A job's errors are kept in its document (16 MB at most): the first ones, the rest only counted.
MAX_STORED_ERRORS = 1000


def utcnow() -> datetime:
    return datetime.now(UTC)


class ImportSource(me.EmbeddedDocument):
    """One NDJSON file of a job and its committed position (every line before it is applied)."""

    path = me.StringField(required=True)
    url = me.StringField()  # as the $import client named it; None from the command line
    type = me.StringField()  # the resource type every line must have; None: any
    size = me.IntField(default=0)
    offset = me.IntField(default=0)  # bytes committed
    line = me.IntField(default=0)  # lines committed
    loaded = me.IntField(default=0)
    skipped = me.IntField(default=0)
    failed = me.IntField(default=0)
    done = me.BooleanField(default=False)


class LineError(me.EmbeddedDocument):
    """A line that was not imported: its source (index into the job's sources) and why."""

    source = me.IntField(required=True)
    line = me.IntField(required=True)
    code = me.StringField(default="invalid")  # an OperationOutcome IssueType
    message = me.StringField(required=True)


class ImportJob(me.Document):
    """A bulk import: its sources, where each stands, its counts, its first errors, its status."""

    job_id = me.StringField(required=True, unique=True)
    status = me.StringField(choices=STATUSES, default="pending")
    sources = me.EmbeddedDocumentListField(ImportSource)
    line_errors = me.EmbeddedDocumentListField(LineError)
    client_id = me.StringField()  # who started it: only they may poll it over HTTP
    input_source = me.StringField()  # $import inputSource, copied into meta.source
    message = me.StringField()  # why it stopped, when it failed
    created = me.DateTimeField(default=utcnow)
    updated = me.DateTimeField(default=utcnow)
    finished = me.DateTimeField()
    meta = {"collection": "import_jobs", "db_alias": ALIAS}

    def total(self, field: str) -> int:
        """The sum over sources of one count: loaded, skipped or failed."""
        return sum(getattr(source, field) for source in self.sources)


# The record's states (docs/domain.md#the-record-and-its-status has the state machine).
RECORD_STATUSES = ("pending", "open", "opposed", "closed", "erased")
# What the operator may set by hand (`fhir-server record-status --set`).
OPERATOR_STATUSES = ("open", "opposed", "closed")


class PatientRecord(me.Document):
    """The state of one person's national record, keyed by their INS (CSP R1111-28/-36).

    The rule: docs/domain.md#the-record-and-its-status.

    `pending`: the person was notified and may still oppose until `window_ends` (the record
    behaves as open meanwhile); `opposed`: the person objected to the record's creation (nothing
    of it is kept); `closed`: the person closed it, archived until `archive_until`; `erased`: its
    data was deleted (on request, or when the archive period ended). Opposed, closed and erased
    records take no writes and professionals read nothing of them (consent.policy). `patient` is
    the Patient the record holds, once opened. Kept beside the FHIR store (not a FHIR resource):
    it outlives a deleted Patient. Codes and the card's serial number are kept only as argon2
    hashes (salted).
    """

    system = me.StringField(required=True)  # the INS system (NIR, NIA, test or demo OID)
    value = me.StringField(required=True)  # the normalised matricule
    status = me.StringField(choices=RECORD_STATUSES, default="open")
    patient = me.StringField()  # "Patient/<id>" once the record is opened
    opened = me.DateTimeField()
    changed = me.DateTimeField(default=utcnow)
    # The opt-out notice: who to write to, the person's birth date (checked with the code)
    birth_date = me.StringField()  # YYYY-MM-DD
    channel = me.StringField()  # email, sms or letter
    address = me.StringField()
    window_ends = me.DateTimeField()  # pending: the record opens at this time without an answer
    code_hash = me.StringField()  # the provisional code's argon2 hash; None once spent
    code_expires = me.DateTimeField()
    code_sent = me.DateTimeField()  # when the last code was sent (new codes are rate-limited)
    # Activation: the account chosen, the Carte Vitale's serial number (salted hash)
    account = me.StringField()
    card_hash = me.StringField()
    # Closing: the archive period; erasure: when
    closed_at = me.DateTimeField()
    archive_until = me.DateTimeField()
    erased_at = me.DateTimeField()
    meta = {
        "collection": "patient_records",
        "db_alias": ALIAS,
        # by INS (pushes, a record's facts); by status (the records refused, for the policy; the
        # windows and archives `lifecycle run` ends); by Patient (the $close family)
        "indexes": [{"fields": ["system", "value"], "unique": True}, "status", "patient"],
    }
