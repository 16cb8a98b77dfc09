"""The $import operation: https://github.com/smart-on-fhir/bulk-import/blob/master/import.md

Kick-off (`POST [base]/$import`), status (`GET` the Content-Location: 202 with X-Progress while
running, 200 with the output manifest when done), cancellation (`DELETE` it) and the error files
(OperationOutcome NDJSON, one per failed line). Framework-free: the Flask routes are in
ingestion/bulk_routes.py.

Inputs are read only from `file://` URLs naming files under the server's import directory: the
server never fetches a URL a client names (no request forgery) nor reads a file outside that
directory. Only backend services (system/ scopes allowing create and update on every input type)
may start an import; each line is then written under their AccessContext, and the job is answered
only to the client that started it.
"""

import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest, FhirError, Forbidden, Issue, NotFound, NotSupported
from carnet_core.outcome import information, operation_outcome
from fhir_server import jsonio, resources
from fhir_server.interactions import Interactions, Reply
from fhir_server.store.unit_of_work import when_committed
from ingestion.bulk import BulkImport, JobError, Source, find_job, new_job, progress_of
from ingestion.models import MAX_STORED_ERRORS, ImportJob

log = logging.getLogger("carnet.import")

NDJSON = "application/fhir+ndjson"
FORMATS = (NDJSON, "application/ndjson", "ndjson")
MAX_INPUTS = 1000
RETRY_AFTER = "2"

Starter = Callable[[Callable[[], None]], None]


def start_thread(work: Callable[[], None]) -> None:
    """Run the job beside the request: the kick-off answers 202 at once (Prefer: respond-async)."""
    thread = threading.Thread(target=work, name="bulk-import", daemon=True)
    when_committed(thread.start)  # after the request that registered the job commits


def _value(parameter: dict):
    """The value[x] of a Parameters.parameter (or of one of its parts)."""
    return next((v for k, v in parameter.items() if k.startswith("value")), None)


def _from_parameters(body: dict) -> dict:
    """A Parameters resource as the proposal's plain JSON body (inputFormat, inputSource, input)."""
    plain: dict = {"input": []}
    for parameter in body.get("parameter") or []:
        if not isinstance(parameter, dict):
            continue
        name = parameter.get("name")
        if name == "input":
            parts = [p for p in parameter.get("part") or [] if isinstance(p, dict)]
            plain["input"].append({p.get("name"): _value(p) for p in parts})
        elif name in ("inputFormat", "inputSource"):
            plain[name] = _value(parameter)
    return plain


def _allowed_path(url: object, import_dir: Path, where: str) -> Path:
    """The file a `file://` URL names, if it lies under the import directory (else 400)."""
    refused = BadRequest(
        f"{where}: only file:// URLs of files under the server's import directory are accepted",
        expression=[where],
    )
    if not isinstance(url, str):
        raise refused
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or parts.query:
        raise refused
    try:
        path = Path(url2pathname(parts.path))
        # resolve() follows '..' and symbolic links: neither can lead outside the directory.
        resolved = path.resolve()
        inside = path.is_absolute() and resolved.is_relative_to(import_dir.resolve())
        is_file = inside and resolved.is_file()
    except (OSError, ValueError) as exc:
        raise refused from exc
    if not inside:
        raise refused
    if not is_file:
        raise BadRequest(f"{where}: no such file in the import directory", expression=[where])
    return resolved


def parse_request(body: dict, import_dir: Path) -> tuple[list[Source], str | None]:
    """The sources and inputSource of a kick-off body, the proposal's JSON or a Parameters."""
    if not isinstance(body, dict):
        raise BadRequest("The $import body is a JSON object or a Parameters resource")
    if body.get("resourceType") == "Parameters":
        body = _from_parameters(body)
    elif "resourceType" in body:
        raise BadRequest("The $import body is a JSON object or a Parameters resource")
    input_format = body.get("inputFormat") or NDJSON
    if input_format not in FORMATS:
        raise BadRequest(
            f"inputFormat '{input_format}' is not supported; send {NDJSON}",
            expression=["inputFormat"],
        )
    input_source = body.get("inputSource")
    if input_source is not None and not isinstance(input_source, str):
        raise BadRequest("inputSource must be a URI", expression=["inputSource"])
    inputs = body.get("input")
    if not isinstance(inputs, list) or not inputs or len(inputs) > MAX_INPUTS:
        raise BadRequest(f"input must list 1 to {MAX_INPUTS} files", expression=["input"])
    sources = []
    for n, item in enumerate(inputs):
        item = item if isinstance(item, dict) else {}
        resource_type = item.get("type")
        if not isinstance(resource_type, str) or not resources.is_supported(resource_type):
            raise BadRequest(
                f"input[{n}].type must be a resource type this server supports",
                expression=[f"input[{n}].type"],
            )
        if resource_type in resources.READ_ONLY_TYPES:
            raise BadRequest(f"input[{n}]: {resource_type} is written by the server only")
        where = f"input[{n}].url"
        sources.append(
            Source(_allowed_path(item.get("url"), import_dir, where), resource_type, item["url"])
        )
    return sources, input_source


def _check_actor(ctx: AccessContext) -> None:
    if ctx.actor_kind not in ("system", "operator"):
        raise Forbidden("$import is for backend services: it needs a system/ access token")


def _check_scopes(ctx: AccessContext, types: set[str]) -> None:
    for resource_type in sorted(types):
        for interaction in ("create", "update"):
            # Lines without an id are created, lines with one updated: both may occur in a file.
            if not any(
                s.context == "system" for s in ctx.scopes.grants(resource_type, interaction)
            ):
                raise Forbidden(
                    f"The access token has no system/ scope allowing {interaction} on "
                    f"{resource_type} (needs e.g. system/{resource_type}.cu)"
                )


def kick_off(
    interactions: Interactions,
    ctx: AccessContext,
    parameters: dict,
    import_dir: str | Path | None,
    *,
    start: Starter | None = None,
) -> ImportJob:
    """Check the request, register the job and start it; the route answers 202 (see `accepted`)."""
    if import_dir is None:
        raise NotSupported("$import is not enabled on this server (no import directory)")
    _check_actor(ctx)
    sources, input_source = parse_request(parameters, Path(import_dir))
    _check_scopes(ctx, {source.type for source in sources if source.type})
    try:
        job = new_job(sources, uuid.uuid4().hex, client_id=ctx.client_id, input_source=input_source)
    except JobError as error:  # a file removed since it was checked
        raise BadRequest(str(error)) from error
    (start or start_thread)(lambda: run_job(interactions, ctx, job.job_id))
    return job


def run_job(interactions: Interactions, ctx: AccessContext, job_id: str) -> None:
    """Run a job in the background: its outcome is in its ImportJob, failures in the log."""
    job = find_job(job_id)
    if job is None:
        return
    try:
        BulkImport(interactions, ctx, job).run()
    except Exception:
        log.exception("import job %s stopped", job_id)


def status_url(base_url: str, job_id: str) -> str:
    return f"{base_url}/$import-status/{job_id}"


def accepted(job: ImportJob, base_url: str) -> Reply:
    url = status_url(base_url, job.job_id)
    return Reply(
        202, information(f"Import job {job.job_id} started: poll {url}"), {"Content-Location": url}
    )


def own_job(ctx: AccessContext, job_id: str) -> ImportJob:
    """The caller's job; another client's is answered as unknown (its existence is not theirs)."""
    job = find_job(job_id)
    mine = job is not None and (
        ctx.actor_kind == "operator" or (bool(job.client_id) and job.client_id == ctx.client_id)
    )
    if not mine:
        raise NotFound(f"No import job '{job_id}'")
    return job


def _instant(moment: datetime) -> str:
    moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def manifest(job: ImportJob, base_url: str) -> dict:
    """The completion body: counts of resources imported, and error files, per input."""
    url = status_url(base_url, job.job_id)
    return {
        "transactionTime": _instant(job.created),
        "request": f"{base_url}/$import",
        "requiresAccessToken": True,
        "output": [
            {"type": "OperationOutcome", "inputUrl": s.url, "count": s.loaded + s.skipped}
            for s in job.sources
        ],
        "error": [
            {
                "type": "OperationOutcome",
                "inputUrl": s.url,
                "count": s.failed,
                "url": f"{url}/error/{n}.ndjson",
            }
            for n, s in enumerate(job.sources)
            if s.failed
        ],
    }


def status(ctx: AccessContext, job_id: str, base_url: str) -> Reply:
    """202 with X-Progress while the job runs, 200 with the manifest when it is complete."""
    job = own_job(ctx, job_id)
    if job.status in ("pending", "running"):
        p = progress_of(job)
        text = f"{p.percent:.0f}% ({p.lines} lines: {p.loaded + p.skipped} imported, {p.failed} failed)"
        return Reply(202, None, {"X-Progress": text[:99], "Retry-After": RETRY_AFTER})
    if job.status == "cancelled":
        raise NotFound(f"Import job '{job_id}' was cancelled")
    if job.status == "failed":
        # The cause stays in the server's log: it may name hosts or paths.
        raise FhirError(
            f"Import job '{job_id}' stopped before its end; an operator can resume it "
            f"(fhir-server import --job {job_id} --resume)",
            status=500,
            code="exception",
        )
    body = jsonio.dumps(manifest(job, base_url)).encode()
    return Reply(200, body, {}, "application/json")


def error_file(ctx: AccessContext, job_id: str, index: int) -> Reply:
    """One input's failed lines, an OperationOutcome per line (NDJSON)."""
    job = own_job(ctx, job_id)
    if not 0 <= index < len(job.sources):
        raise NotFound(f"Import job '{job_id}' has no input {index}")
    source = job.sources[index]
    issues = [
        [Issue(e.code, f"{source.url} line {e.line}: {e.message}")]
        for e in job.line_errors
        if e.source == index
    ]
    if len(issues) < source.failed:
        unlisted = source.failed - len(issues)
        issues.append(
            [
                Issue(
                    "too-costly",
                    f"{unlisted} more failed lines are not listed (a job keeps its first "
                    f"{MAX_STORED_ERRORS} errors)",
                    severity="warning",
                )
            ]
        )
    body = "".join(jsonio.dumps(operation_outcome(i)) + "\n" for i in issues)
    return Reply(200, body.encode(), {}, NDJSON)


def cancel(ctx: AccessContext, job_id: str) -> Reply:
    """DELETE on the status URL: the job stops at its next checkpoint; its status is then 404."""
    job = own_job(ctx, job_id)
    ImportJob.objects(job_id=job.job_id).update_one(set__status="cancelled")
    return Reply(202, information(f"Import job {job_id} cancelled"))
