"""The $import routes (Bulk Data Import proposal): https://github.com/smart-on-fhir/bulk-import/blob/master/import.md

Thin, like fhir_server.api.routes: each view builds the AccessContext once, reads the HTTP inputs
and calls one framework-free function of ingestion.bulk_import_op. Registered by the composition
root (carnet.app) with the interactions and token service it built.
"""

from pathlib import Path

from flask import Blueprint, Flask, request

from carnet_core.context import AccessContext
from carnet_core.errors import NotFound
from fhir_server.api import http
from fhir_server.interactions import Interactions
from ingestion import bulk_import_op
from smart_auth.bearer import context_from_headers
from smart_auth.tokens import TokenService

JSON_BODIES = ("application/json", "application/fhir+json")


def register_bulk_routes(
    target: Flask | Blueprint,
    interactions: Interactions,
    tokens: TokenService,
    base_url: str,
    import_dir: str | Path | None,
    url_prefix: str = "/fhir",
) -> None:
    """Add POST $import and the status, cancel and error-file URLs to an app or a blueprint.

    `tokens` verifies the bearer tokens; `base_url` starts the status URLs. `url_prefix`: the FHIR
    base's path; "" on a blueprint that already has it. `import_dir`: the only directory inputs
    are read from; None answers $import 400 (not enabled).
    """

    def ctx() -> AccessContext:
        return context_from_headers(request.headers, tokens)

    def kick_off():
        """Bulk Data Import kick-off: 202 with the status URL in Content-Location."""
        http.response_type(request)
        caller = ctx()
        body = http.read_json_body(request, allowed=JSON_BODIES)
        job = bulk_import_op.kick_off(interactions, caller, body, import_dir)
        return http.render(bulk_import_op.accepted(job, base_url))

    def status(job_id: str):
        """Status: 202 and X-Progress while running, 200 and the output manifest when done."""
        caller = ctx()
        return http.render(bulk_import_op.status(caller, job_id, base_url))

    def cancel(job_id: str):
        """Cancel: the job stops at its next checkpoint."""
        return http.render(bulk_import_op.cancel(ctx(), job_id))

    def error_file(job_id: str, name: str):
        """One input's failed lines as OperationOutcome NDJSON."""
        caller = ctx()
        index, _, extension = name.partition(".")
        if not index.isdigit() or extension != "ndjson":
            raise NotFound(f"No error file '{name}'")
        return http.render(bulk_import_op.error_file(caller, job_id, int(index)))

    status_path = f"{url_prefix}/$import-status/<string:job_id>"
    target.add_url_rule(f"{url_prefix}/$import", "bulk_import", kick_off, methods=["POST"])
    target.add_url_rule(status_path, "bulk_import_status", status, methods=["GET"])
    target.add_url_rule(status_path, "bulk_import_cancel", cancel, methods=["DELETE"])
    target.add_url_rule(
        f"{status_path}/error/<string:name>", "bulk_import_errors", error_file, methods=["GET"]
    )
