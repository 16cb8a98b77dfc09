"""Bulk import of FHIR NDJSON files, resumable after a crash: https://hl7.org/fhir/R4/nd-json.html

Every line goes through the FHIR interactions under the caller's AccessContext (scopes, validation,
consent, store: docs/architecture.md#how-a-request-flows), never straight to the store:
- a resource with an `id` is written by update (create-through-update), and skipped when the current
  version already holds the same content, so importing a file twice adds no versions;
- a resource without an `id` is created with an id derived from (job, file, line): a line applied
  twice finds its own earlier result instead of creating a duplicate.
A bad line (too long, not UTF-8, not JSON, not a resource, refused) is recorded with its file and line
number, and the import goes on.

Resuming: each file's position is committed to the ImportJob every `checkpoint_every` lines, at the
end of each file and at the end. Running the job again after a crash starts at the last committed
line; the lines between that checkpoint and the crash are applied a second time, which the two rules
above make harmless (the second time they count as skipped). A job must not run in two processes at
once.
"""

import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import mongoengine as me
import simplejson

from carnet_core.context import AccessContext
from carnet_core.errors import Conflict, FhirError
from fhir_server import jsonio
from fhir_server.interactions import Interactions
from ingestion.models import MAX_STORED_ERRORS, ImportJob, ImportSource, LineError, utcnow

MAX_LINE_BYTES = 64 * 1024 * 1024
# Fixed, so that the id derived for a line is the same in every run and every process.
_LINE_IDS = uuid.UUID("6f1c7b52-3d0e-4f4e-9a51-0c6b2b8e5d17")
_JOB_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LOADED, SKIPPED, BLANK = "loaded", "skipped", "blank"


class JobError(Exception):
    """The job cannot start or go on: unknown, already there, a file missing or changed."""


@dataclass(frozen=True)
class Source:
    """An NDJSON file to import; `type` restricts its lines to one resource type ($import)."""

    path: Path
    type: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Progress:
    """Where a job stands, for a progress display."""

    job_id: str
    lines: int
    loaded: int
    skipped: int
    failed: int
    bytes_done: int
    bytes_total: int
    seconds: float  # since this run started
    lines_this_run: int
    finished: bool

    @property
    def percent(self) -> float:
        return 100.0 if not self.bytes_total else 100.0 * self.bytes_done / self.bytes_total

    @property
    def rate(self) -> float:
        """Lines a second in this run (a resumed run does not count the lines done before)."""
        return self.lines_this_run / self.seconds if self.seconds > 0 else 0.0


ProgressCallback = Callable[[Progress], None]
ErrorCallback = Callable[[str, int, str], None]


class LineFailure(Exception):
    """A line that cannot be imported, with its OperationOutcome IssueType."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def progress_of(job: ImportJob, seconds: float = 0.0, lines_this_run: int = 0) -> Progress:
    sources = job.sources
    done = sum(s.size if s.done else s.offset for s in sources)
    lines, total = sum(s.line for s in sources), sum(s.size for s in sources)
    counts = job.total("loaded"), job.total("skipped"), job.total("failed")
    finished = job.status not in ("pending", "running")
    return Progress(job.job_id, lines, *counts, done, total, seconds, lines_this_run, finished)


def new_job(
    sources: Iterable[str | Path | Source],
    job_id: str | None = None,
    *,
    client_id: str | None = None,
    input_source: str | None = None,
) -> ImportJob:
    """Register a pending job over these files; JobError if the name is taken or a file missing."""
    items = [s if isinstance(s, Source) else Source(Path(s)) for s in sources]
    if not items:
        raise JobError("No NDJSON file to import")
    job_id = job_id or f"import-{utcnow():%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"
    if not _JOB_ID.match(job_id):
        raise JobError(f"'{job_id}' is not a job name (letters, digits, '.', '_', '-'; 64 at most)")
    for item in items:
        if not item.path.is_file():
            raise JobError(f"{item.path}: no such file")
    job = ImportJob(
        job_id=job_id,
        client_id=client_id,
        input_source=input_source,
        sources=[
            ImportSource(
                path=str(item.path.resolve()),
                url=item.url,
                type=item.type,
                size=item.path.stat().st_size,
            )
            for item in items
        ],
    )
    try:
        job.save(force_insert=True)
    except me.NotUniqueError as exc:
        raise JobError(f"An import job named '{job_id}' exists already: resume it") from exc
    return job


def find_job(job_id: str) -> ImportJob | None:
    return ImportJob.objects(job_id=job_id).first()


def _read_lines(stream: BinaryIO, limit: int) -> Iterator[tuple[int, bytes | None]]:
    """Each line's size in bytes and its content; None for a line over `limit` (never held whole)."""
    while raw := stream.readline(limit + 1):
        if len(raw) <= limit or raw.endswith(b"\n"):
            yield len(raw), raw
            continue
        size = len(raw)
        while not raw.endswith(b"\n") and (raw := stream.readline(1 << 20)):
            size += len(raw)
        yield size, None


def _content(resource: dict) -> str:
    """The resource without what the server sets on each version, for comparing content."""
    meta = {
        k: v
        for k, v in (resource.get("meta") or {}).items()
        if k not in ("versionId", "lastUpdated")
    }
    rest = {k: v for k, v in resource.items() if k != "meta"}
    # Decimals as written: "1.50" and "1.5" are different content in FHIR.
    return simplejson.dumps(
        {**rest, "meta": meta} if meta else rest, sort_keys=True, use_decimal=True
    )


def _message(error: FhirError) -> str:
    return "; ".join(issue.diagnostics for issue in error.issues[:3])[:1000]


class BulkImport:
    """Runs one ImportJob to its end, committing its position as it goes (see the module docstring)."""

    def __init__(
        self,
        interactions: Interactions,
        ctx: AccessContext,
        job: ImportJob,
        *,
        checkpoint_every: int = 100,
        progress: ProgressCallback | None = None,
        progress_every: int = 1000,
        on_error: ErrorCallback | None = None,
        max_line_bytes: int = MAX_LINE_BYTES,
    ):
        self.interactions = interactions
        self.ctx = ctx
        self.job = job
        self.checkpoint_every = max(1, checkpoint_every)
        self.progress = progress
        self.progress_every = max(1, progress_every)
        self.on_error = on_error
        self.max_line_bytes = max_line_bytes
        self._since_checkpoint = 0
        self._lines_this_run = 0
        self._started = time.monotonic()

    def run(self) -> ImportJob:
        """Import every line not yet committed; the job ends completed, cancelled or failed."""
        job = self.job
        if job.status in ("completed", "cancelled"):
            return job
        self._started = time.monotonic()
        job.status, job.message = "running", None
        self._commit()
        self._report()
        try:
            self._check_sources()
            for index, source in enumerate(job.sources):
                if not source.done and not self._import_source(index, source):
                    return job
        except BaseException as exc:
            # Only the status is written: the positions stay those of the last checkpoint, which
            # every line before it has reached.
            job.status = "failed"
            ImportJob.objects(job_id=job.job_id).update_one(
                set__status="failed", set__message=f"{type(exc).__name__}: {exc}"[:1000]
            )
            raise
        job.status, job.finished = "completed", utcnow()
        self._commit()
        self._report()
        return job

    def _check_sources(self) -> None:
        for source in self.job.sources:
            if source.done:
                continue
            path = Path(source.path)
            if not path.is_file():
                raise JobError(f"{source.path}: no such file")
            # Positions are byte offsets: resuming over a changed file would cut lines in two.
            if path.stat().st_size != source.size:
                raise JobError(f"{source.path} changed since the job started; start a new job")

    def _import_source(self, index: int, source: ImportSource) -> bool:
        """Import one file from its committed position; False when the job was cancelled."""
        with open(source.path, "rb") as stream:
            stream.seek(source.offset)
            for size, raw in _read_lines(stream, self.max_line_bytes):
                line = source.line + 1
                self._apply(index, source, line, raw)
                source.line, source.offset = line, source.offset + size
                self._since_checkpoint += 1
                self._lines_this_run += 1
                if self._since_checkpoint >= self.checkpoint_every:
                    if self._cancelled():
                        return False
                    self._commit()
                if self._lines_this_run % self.progress_every == 0:
                    self._report()
        source.done = True
        self._commit()
        return True

    def _apply(self, index: int, source: ImportSource, line: int, raw: bytes | None) -> None:
        try:
            outcome = self._import_line(index, source, line, raw)
        except LineFailure as failure:
            self._failed(index, source, line, failure.code, str(failure))
        except FhirError as error:
            self._failed(index, source, line, error.code, _message(error))
        except (ValueError, TypeError, KeyError, RecursionError) as exc:
            # Content the validators did not foresee: that line fails, the others go on.
            self._failed(index, source, line, "exception", f"{type(exc).__name__}: {exc}"[:1000])
        else:
            if outcome == LOADED:
                source.loaded += 1
            elif outcome == SKIPPED:
                source.skipped += 1

    def _failed(self, index: int, source: ImportSource, line: int, code: str, message: str) -> None:
        source.failed += 1
        if len(self.job.line_errors) < MAX_STORED_ERRORS:
            self.job.line_errors.append(
                LineError(source=index, line=line, code=code, message=message)
            )
        if self.on_error is not None:
            self.on_error(source.path, line, message)

    def _import_line(self, index: int, source: ImportSource, line: int, raw: bytes | None) -> str:
        resource = self._parse(source, line, raw)
        if resource is None:
            return BLANK
        resource_type, id = resource["resourceType"], resource.get("id")
        if id is not None:
            if not isinstance(id, str):
                raise LineFailure("invalid", "The resource's id must be a string")
            if self._unchanged(resource_type, id, resource):
                return SKIPPED
            self.interactions.update(self.ctx, resource_type, id, resource)
            return LOADED
        assigned = str(uuid.uuid5(_LINE_IDS, f"{self.job.job_id}/{index}/{line}"))
        try:
            self.interactions.create(self.ctx, resource_type, resource, assigned_id=assigned)
        except Conflict:
            # The id is this line's own: it was created by a run that crashed before its checkpoint.
            if self._unchanged(resource_type, assigned, {**resource, "id": assigned}):
                return SKIPPED
            raise
        return LOADED

    def _parse(self, source: ImportSource, line: int, raw: bytes | None) -> dict | None:
        """The line's resource; None for a blank line; LineFailure when it is not a resource."""
        if raw is None:
            raise LineFailure("too-costly", f"The line is longer than {self.max_line_bytes} bytes")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise LineFailure("structure", f"The line is not UTF-8 (byte {exc.start + 1})") from exc
        if line == 1:
            text = text.removeprefix("\ufeff")  # the byte order mark some exporters write
        if not text.strip():
            return None
        try:
            resource = jsonio.loads(text)
        except simplejson.JSONDecodeError as exc:
            raise LineFailure(
                "structure", f"Malformed JSON at column {exc.colno}: {exc.msg}"
            ) from exc
        except RecursionError as exc:
            raise LineFailure("structure", "The JSON is nested too deeply") from exc
        except ValueError as exc:
            raise LineFailure("structure", f"Not JSON: {exc}") from exc
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise LineFailure(
                "structure", "Not a FHIR resource (a JSON object with a resourceType)"
            )
        if source.type and resource["resourceType"] != source.type:
            raise LineFailure(
                "invalid", f"A {resource['resourceType']} in a file of {source.type} resources"
            )
        meta = resource.get("meta")
        if self.job.input_source and (meta is None or isinstance(meta, dict)):
            if not (meta or {}).get("source"):
                # Bulk import guidance: meta.source SHOULD carry the kick-off's inputSource.
                resource = {**resource, "meta": {**(meta or {}), "source": self.job.input_source}}
        return resource

    def _unchanged(self, resource_type: str, id: str, resource: dict) -> bool:
        try:
            current = self.interactions.read(self.ctx, resource_type, id).body
        except FhirError:
            return False  # unknown, deleted or not readable by this caller: the write decides
        return isinstance(current, dict) and _content(current) == _content(resource)

    def _cancelled(self) -> bool:
        """Asked between checkpoints: a DELETE on the status URL may come from another process."""
        if ImportJob.objects(job_id=self.job.job_id, status="cancelled").first() is None:
            return False
        self.job.status = "cancelled"
        self._commit()
        return True

    def _commit(self) -> None:
        self.job.updated = utcnow()
        self.job.save()
        self._since_checkpoint = 0

    def _report(self) -> None:
        if self.progress is not None:
            seconds = time.monotonic() - self._started
            self.progress(progress_of(self.job, seconds, self._lines_this_run))


def run_import(
    interactions: Interactions,
    ctx: AccessContext,
    sources: Iterable[str | Path | Source],
    *,
    job_id: str | None = None,
    resume: bool = False,
    **options,
) -> ImportJob:
    """Start a job over `sources` (with `resume`: continue job `job_id`) and run it to its end.

    `options` go to BulkImport (checkpoint_every, progress, progress_every, on_error).
    """
    if not resume:
        job = new_job(sources, job_id)
    else:
        job = find_job(job_id) if job_id else None
        if job is None:
            raise JobError(f"No import job named '{job_id}' to resume")
        named = [str(Path(s.path if isinstance(s, Source) else s).resolve()) for s in sources]
        if named and named != [source.path for source in job.sources]:
            raise JobError(f"Job '{job_id}' imports other files: resume it without naming files")
    return BulkImport(interactions, ctx, job, **options).run()
