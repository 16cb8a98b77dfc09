"""Bulk export jobs (mongoengine): https://hl7.org/fhir/uv/bulkdata/export.html#bulk-data-status-request

Fixed-shape bookkeeping beside the authorization server's records (same database alias): who asked,
what, where each output file stands. A job started in one process is polled, cancelled and
downloaded from any other.
"""

from datetime import UTC, datetime

import mongoengine as me

from smart_auth.models import ALIAS

STATUSES = ("running", "completed", "failed", "cancelled")


def utcnow() -> datetime:
    return datetime.now(UTC)


class ExportOutput(me.EmbeddedDocument):
    """One NDJSON file: the type of its lines, its name in the job's folder, how many lines."""

    type = me.StringField(required=True)
    file = me.StringField(required=True)
    count = me.IntField(default=0)


class ExportJob(me.Document):
    job_id = me.StringField(required=True, unique=True)
    status = me.StringField(choices=STATUSES, default="running")
    # The requester: only the same client, acting for the same person, polls and downloads.
    client_id = me.StringField()
    actor_ref = me.StringField()
    request = me.StringField(required=True)  # the kick-off URL, as the manifest repeats it
    level = me.StringField(required=True)  # system, patients, patient
    patient = me.StringField()  # Patient/<id> of a Patient/[id]/$export
    types = me.ListField(me.StringField())
    since = me.DateTimeField()
    transaction_time = me.DateTimeField(required=True)
    output = me.EmbeddedDocumentListField(ExportOutput)
    done_types = me.IntField(default=0)
    exported = me.IntField(default=0)
    created = me.DateTimeField(default=utcnow)
    updated = me.DateTimeField(default=utcnow)  # the runner's heartbeat
    # fhir_server.bulk_export.erasure: the jobs of one record, the jobs of every record.
    meta = {"collection": "export_jobs", "db_alias": ALIAS, "indexes": [("level", "patient")]}
