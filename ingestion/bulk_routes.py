"""The $import rows of the route table (Bulk Data Import proposal): https://github.com/smart-on-fhir/bulk-import/blob/master/import.md

The kick-off, its status, cancellation and error files, as rows the composition root adds to the
FHIR route table (fhir_server.route_table), so the HTTP adapter, the AuditEvents, the
CapabilityStatement and the OpenAPI document see them as any other route. Each handler is a thin
call of one framework-free function of ingestion.bulk_import_op.
"""

from typing import Any

from carnet_core.context import AccessContext
from carnet_core.errors import NotFound
from fhir_server.interactions import Reply
from fhir_server.route_table import Call, Route
from ingestion import bulk_import_op


def kick_off(s: Any, ctx: AccessContext, call: Call) -> Reply:
    """Bulk Data Import kick-off: 202 with the status URL in Content-Location."""
    job = bulk_import_op.kick_off(s.interactions, ctx, call.body, s.settings.import_dir)
    return bulk_import_op.accepted(job, s.interactions.base_url)


def status(s: Any, ctx: AccessContext, call: Call) -> Reply:
    """Status: 202 and X-Progress while running, 200 and the output manifest when done."""
    return bulk_import_op.status(ctx, call.id, s.interactions.base_url)


def cancel(s: Any, ctx: AccessContext, call: Call) -> Reply:
    """Cancel: the job stops at its next checkpoint."""
    return bulk_import_op.cancel(ctx, call.id)


def error_file(s: Any, ctx: AccessContext, call: Call) -> Reply:
    """One input's failed lines as OperationOutcome NDJSON (`<n>.ndjson`)."""
    index, _, extension = call.file.partition(".")
    if not index.isdigit() or extension != "ndjson":
        raise NotFound(f"No error file '{call.file}'")
    return bulk_import_op.error_file(ctx, call.id, int(index))


# fmt: off
IMPORT_ROUTES = (
    Route("POST", "$import", "operation", kick_off, "Bulk Data Import kick-off from files of the server's import directory (backend services).", operation="import", body="json", in_bundle=False),
    Route("GET", "$import-status/{id}", "operation", status, "Bulk Data Import status: 202 with X-Progress while running, 200 with the manifest when done.", in_bundle=False),
    Route("DELETE", "$import-status/{id}", "operation", cancel, "Cancel a Bulk Data Import at its next checkpoint.", in_bundle=False),
    Route("GET", "$import-status/{id}/error/{file}", "operation", error_file, "One input's failed lines, as OperationOutcome NDJSON.", in_bundle=False, raw=True),
)
# fmt: on
