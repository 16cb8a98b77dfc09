"""The $export requests: https://hl7.org/fhir/uv/bulkdata/export.html

Kick-off at the system level (`[base]/$export`), for every patient (`Patient/$export`) and for one
(`Patient/[id]/$export`), with `Prefer: respond-async`: 202 and the status URL in Content-Location.
The status URL answers 202 with X-Progress and Retry-After while the job runs, 200 with the manifest
when it is done; DELETE on it cancels. The files are answered to the requester only (the same
client for the same person, with an access token: requiresAccessToken is true).

Who may export: anyone whose scopes grant search on the types asked for, reading what the consent
policy lets them read, as a search would. A patient exports their own record (their right to
portability, RGPD art. 20), not the whole server.
"""

import shutil
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from carnet_core.context import AccessContext
from carnet_core.dates import date_range
from carnet_core.errors import BadRequest, FhirError, Forbidden, NotFound
from carnet_core.outcome import information
from consent.codes import DIRECTORY_TYPES
from fhir_server import jsonio, resources
from fhir_server.bulk_export.erasure import erase_exports_of
from fhir_server.bulk_export.job import Audit, aware, job_folder, run_export
from fhir_server.bulk_export.models import ExportJob, utcnow
from fhir_server.interactions import Interactions, Reply
from fhir_server.store.repository import instant, now
from fhir_server.store.unit_of_work import when_committed

EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"
PATIENT_EXPORT = "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export"
NDJSON = "application/fhir+ndjson"
FORMATS = (NDJSON, "application/ndjson", "ndjson")
PARAMETERS = ("_outputFormat", "_since", "_type", "_format", "_pretty")
RETRY_AFTER = "2"
# A running job whose heartbeat is older than this lost its process: the next poll restarts it.
STALE_SECONDS = 120
# The access log is exported when `_type` names it, never by default.
NOT_BY_DEFAULT = ("AuditEvent",)

Starter = Callable[[Callable[[], None]], None]


def start_thread(work: Callable[[], None]) -> None:
    thread = threading.Thread(target=work, name="bulk-export", daemon=True)
    when_committed(thread.start)  # after the request that registered the job commits


def _types(ctx: AccessContext, level: str, value: str | None) -> list[str]:
    """The types to export: those `_type` lists, or by default every type of the level that some
    scope grants search on; a type asked for without such a scope is 403."""
    allowed = [
        t for t in resources.SUPPORTED_TYPES if level == "system" or t not in DIRECTORY_TYPES
    ]
    if value is None:
        return [
            t for t in allowed if t not in NOT_BY_DEFAULT and ctx.scopes.grants(t, "search-type")
        ]
    types = list(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    outside = [t for t in types if t not in allowed]
    if not types or outside:
        raise BadRequest(
            f"_type must list types this export can hold; not {', '.join(outside)}",
            expression=["_type"],
        )
    return types


def _since(value: str | None):
    if value is None:
        return None
    try:
        return date_range(value)[0]
    except ValueError as exc:
        raise BadRequest(
            f"_since must be an instant, not '{value}'", expression=["_since"]
        ) from exc


class BulkExport:
    """The export jobs of one process: kick-off, status, cancellation, files."""

    def __init__(
        self,
        interactions: Interactions,
        audit: Audit,
        data_dir: str | Path,
        start: Starter = start_thread,
    ):
        self.interactions = interactions
        self.audit = audit
        self.root = Path(data_dir) / "exports"
        self.start = start

    @property
    def base_url(self) -> str:
        return self.interactions.base_url

    def status_url(self, job_id: str) -> str:
        return f"{self.base_url}/$export-status/{job_id}"

    # -- kick-off -----------------------------------------------------------------------------
    def kick_off(
        self,
        ctx: AccessContext,
        level: str,
        patient_id: str | None,
        params: list[tuple[str, str]],
        request: str,
        respond_async: bool,
    ) -> Reply:
        """Check the request, record the job and start it: 202 with the status URL."""
        if not respond_async:
            raise BadRequest("$export answers asynchronously: send Prefer: respond-async")
        unknown = [k for k, _ in params if k not in PARAMETERS]
        if unknown:
            raise BadRequest(
                f"$export does not support {', '.join(unknown)}",
                code="not-supported",
                expression=unknown,
            )
        values = dict(params)
        if values.get("_outputFormat", NDJSON) not in FORMATS:
            raise BadRequest(
                f"_outputFormat must be {NDJSON}",
                code="not-supported",
                expression=["_outputFormat"],
            )
        if ctx.is_patient and level == "system":
            raise Forbidden("A patient exports their own record: Patient/[id]/$export")
        since = _since(values.get("_since"))
        types = _types(ctx, level, values.get("_type"))
        for resource_type in types:
            self.interactions.check_type(ctx, resource_type, "search-type")
        if patient_id is not None:
            self.interactions.read(ctx, "Patient", patient_id)  # 404 unless the caller may
        job = ExportJob(
            job_id=uuid.uuid4().hex,
            client_id=ctx.client_id,
            actor_ref=ctx.actor_ref,
            request=request,
            level=level,
            patient=f"Patient/{patient_id}" if patient_id else None,
            types=types,
            since=since,
            transaction_time=now(),
        )
        job.save()
        self._start(ctx, job.job_id)
        url = self.status_url(job.job_id)
        return Reply(
            202,
            information(f"Export job {job.job_id} started: poll {url}"),
            {"Content-Location": url},
        )

    def _start(self, ctx: AccessContext, job_id: str) -> None:
        interactions, audit, root = self.interactions, self.audit, self.root
        self.start(lambda: run_export(interactions, audit, root, ctx, job_id))

    # -- status, cancellation, files ----------------------------------------------------------
    def own_job(self, ctx: AccessContext, job_id: str) -> ExportJob:
        """The requester's job; anyone else's answers as unknown."""
        job = ExportJob.objects(job_id=job_id).first()
        mine = (
            job is not None
            and job.status != "cancelled"
            and bool(job.client_id)
            and (job.client_id, job.actor_ref) == (ctx.client_id, ctx.actor_ref)
        )
        if not mine:
            raise NotFound(f"No export job '{job_id}'")
        return job

    def status(self, ctx: AccessContext, job_id: str) -> Reply:
        job = self.own_job(ctx, job_id)
        if job.status == "running":
            self._resume_if_stale(ctx, job)
            progress = f"{job.done_types} of {len(job.types)} types, {job.exported} resources"
            return Reply(202, None, {"X-Progress": progress, "Retry-After": RETRY_AFTER})
        if job.status == "failed":
            raise FhirError(
                f"Export job '{job_id}' failed; start a new one", status=500, code="exception"
            )
        return Reply(200, jsonio.dumps(self.manifest(job)).encode(), {}, "application/json")

    def _resume_if_stale(self, ctx: AccessContext, job: ExportJob) -> None:
        """A job whose process stopped (no heartbeat) starts again in this one, from the top."""
        age = (utcnow() - aware(job.updated)).total_seconds()
        if age < STALE_SECONDS:
            return
        claimed = ExportJob.objects(job_id=job.job_id, updated=job.updated).update_one(
            set__updated=utcnow(), set__done_types=0, set__exported=0
        )
        if claimed:
            self._start(ctx, job.job_id)

    def manifest(self, job: ExportJob) -> dict:
        return {
            "transactionTime": instant(aware(job.transaction_time)),
            "request": job.request,
            "requiresAccessToken": True,
            "output": [
                {
                    "type": o.type,
                    "url": f"{self.base_url}/$export-file/{job.job_id}/{o.file}",
                    "count": o.count,
                }
                for o in job.output
            ],
            "error": [],
        }

    def cancel(self, ctx: AccessContext, job_id: str) -> Reply:
        """DELETE on the status URL: the job stops at its next batch and its files are removed."""
        job = self.own_job(ctx, job_id)
        ExportJob.objects(job_id=job.job_id).update_one(set__status="cancelled")
        if job.status != "running":
            shutil.rmtree(job_folder(self.root, job.job_id), ignore_errors=True)
        return Reply(202, information(f"Export job {job_id} cancelled"))

    def erase_record(self, pk: str) -> int:
        """An erased record's exports go with it (fhir_server.bulk_export.erasure)."""
        return erase_exports_of(self.root, pk)

    def file(self, ctx: AccessContext, job_id: str, name: str) -> Reply:
        job = self.own_job(ctx, job_id)
        if job.status != "completed" or name not in {o.file for o in job.output}:
            raise NotFound(f"Export job '{job_id}' has no file '{name}'")
        path = job_folder(self.root, job.job_id) / name
        return Reply(200, _chunks(path), {}, NDJSON)


def _chunks(path: Path, size: int = 64 * 1024) -> Iterator[bytes]:
    """The file a piece at a time: the answer streams, never held whole in memory."""
    with path.open("rb") as source:
        while chunk := source.read(size):
            yield chunk
