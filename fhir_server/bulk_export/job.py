"""Running a bulk export: https://hl7.org/fhir/uv/bulkdata/export.html#response---complete-status

One NDJSON file per type, written a batch at a time: each batch is one Store.find under the
requester's AccessContext (the consent policy and the scopes, as any search), keyset-paged on the
id, so memory holds one batch whatever the size of the export. Each batch's reads are audited as
they happen (one AuditEvent per record and batch), with a fresh access trail, so the trail never
grows with the export either. A job that was cancelled stops at its next batch and its files go.
"""

import dataclasses
import logging
import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from carnet_core.context import AccessContext, AccessTrail
from fhir_server import jsonio
from fhir_server.bulk_export.models import ExportJob, ExportOutput, utcnow
from fhir_server.interactions import Interactions
from fhir_server.store.repository import Stored

log = logging.getLogger("carnet.export")

BATCH = 200
# Audit(ctx, interaction, status, request, resource type): consent.audit.Auditor.record.
Audit = Callable[[AccessContext, str, int, str | None, str | None], object]


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def job_folder(root: Path, job_id: str) -> Path:
    return root / job_id


def scope_of(job: ExportJob) -> dict:
    """The condition of the job's level: a record, every record, or everything."""
    if job.level == "patient":
        return {"pk": job.patient}
    if job.level == "patients":
        # Every patient's record: `pk` is Patient/<id> ('0' sorts right after '/').
        return {"pk": {"$gte": "Patient/", "$lt": "Patient0"}}
    return {}


def _lines(interactions: Interactions, rows: list[Stored]) -> str:
    return "".join(jsonio.dumps(interactions.resource_of(row)) + "\n" for row in rows)


class ExportRun:
    """One run of one job, from its first type to its last."""

    def __init__(
        self, interactions: Interactions, audit: Audit, root: Path, ctx: AccessContext, job_id: str
    ):
        self.interactions = interactions
        self.audit = audit
        self.folder = job_folder(root, job_id)
        self.ctx = ctx
        self.job_id = job_id

    def _job(self) -> ExportJob | None:
        return ExportJob.objects(job_id=self.job_id).first()

    def _cancelled(self) -> bool:
        job = self._job()
        return job is None or job.status != "running"

    def run(self) -> None:
        job = self._job()
        if job is None:
            return
        shutil.rmtree(self.folder, ignore_errors=True)  # a run started again starts afresh
        self.folder.mkdir(parents=True)
        lu = {"$lte": aware(job.transaction_time)}
        if job.since is not None:
            lu["$gte"] = aware(job.since)
        condition = {**scope_of(job), "lu": lu}
        outputs, exported = [], 0
        for n, resource_type in enumerate(job.types):
            count = self._type(resource_type, condition, f"{resource_type}.ndjson", job.request)
            if count is None:
                shutil.rmtree(self.folder, ignore_errors=True)
                return
            if count:
                outputs.append(
                    ExportOutput(type=resource_type, file=f"{resource_type}.ndjson", count=count)
                )
            exported += count
            ExportJob.objects(job_id=self.job_id, status="running").update_one(
                set__done_types=n + 1, set__exported=exported, set__updated=utcnow()
            )
        done = ExportJob.objects(job_id=self.job_id, status="running").update_one(
            set__status="completed", set__output=outputs, set__updated=utcnow()
        )
        if not done:  # cancelled meanwhile
            shutil.rmtree(self.folder, ignore_errors=True)

    def _type(self, resource_type: str, condition: dict, name: str, request: str) -> int | None:
        """Write one type's file; its line count, or None when the job was cancelled."""
        count, after = 0, None
        path = self.folder / name
        with path.open("w", encoding="utf-8") as out:
            while True:
                if self._cancelled():
                    return None
                query = condition if after is None else {**condition, "_id": {"$gt": after}}
                ctx = dataclasses.replace(self.ctx, trail=AccessTrail())
                docs = self.interactions.store.find(
                    ctx, resource_type, query, sort=[("_id", 1)], limit=BATCH
                )
                rows = [Stored.of_current(resource_type, d) for d in docs]
                out.write(_lines(self.interactions, rows))
                self.audit(ctx, "operation", 200, request, resource_type)
                ExportJob.objects(job_id=self.job_id).update_one(set__updated=utcnow())
                count += len(rows)
                if len(docs) < BATCH:
                    break
                after = docs[-1]["_id"]
        if not count:
            path.unlink()
        return count


def run_export(
    interactions: Interactions, audit: Audit, root: Path, ctx: AccessContext, job_id: str
) -> None:
    """Run a job to its end; a failure is logged and leaves the job failed."""
    try:
        ExportRun(interactions, audit, root, ctx, job_id).run()
    except Exception:
        log.exception("export job %s stopped", job_id)
        ExportJob.objects(job_id=job_id, status="running").update_one(
            set__status="failed", set__updated=utcnow()
        )
