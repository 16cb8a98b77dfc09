"""The HTTP adapter of the FHIR route table (fhir_server.route_table): https://hl7.org/fhir/R4/http.html

Thin: the Flask rules, and so the OpenAPI document, are generated from the table's rows, and
whichever rule receives a request, the table's `match` decides its route (404; 405 with Allow).
The adapter reads the HTTP inputs into a `Call`, builds the AccessContext once (smart_auth) and
calls the row's handler; the AuditEvent names the matched row's interaction.
"""

import logging
import re
from contextlib import ExitStack
from urllib.parse import urlencode

from flask import Response, current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest, FhirError, UnsupportedMediaType
from fhir_server import resources
from fhir_server.api import http, openapi
from fhir_server.route_table import ROUTES, Call, Match, Route, RouteTable
from fhir_server.store.unit_of_work import request_transaction
from smart_auth.bearer import context_from_headers

log = logging.getLogger("carnet.audit")

URL_PREFIX = "/fhir"
FORM = "application/x-www-form-urlencoded"
# Every method reaches `dispatch`, so that a wrong one is answered by the table (405 and Allow).
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# The table's path parameters as Flask rule parameters, named as the OpenAPI document names them.
_RULE_PARAMETERS = {
    "{type}": "<string:resource_type>",
    "{id}": "<string:id>",
    "{vid}": "<string:vid>",
    "{file}": "<string:file>",
}

blp = Blueprint("fhir", __name__, url_prefix=URL_PREFIX, description="FHIR R4 RESTful API")


def _path() -> str:
    """The request's path relative to the FHIR base."""
    return request.path.removeprefix(URL_PREFIX).strip("/")


def _ctx(found: Match) -> AccessContext:
    ctx = context_from_headers(request.headers, current_app.extensions["carnet"].auth.tokens)
    # Kept for this request's AuditEvents (_audit below), nothing else.
    g.carnet_ctx, g.carnet_route = ctx, found
    return ctx


def _body(route: Route):
    if route.body == "json":
        return http.read_json_body(request)
    if route.body == "patch":
        return http.read_patch_body(request)
    return None


def _pairs(values) -> list[tuple[str, str]]:
    """A query's or a form's parameters in the order sent, a repeated name once per value."""
    return [(k, v) for k, vs in values.lists() for v in vs]


def _form(route: Route) -> list[tuple[str, str]]:
    if route.body != "form":
        return []
    content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
    if content_type != FORM:
        raise UnsupportedMediaType(f"POST _search takes {FORM} parameters")
    return _pairs(request.form)


def _check_id(found: Match) -> None:
    """An id in the path that is not a FHIR id (datatypes.html#id) names nothing: 400."""
    id = found.params.get("id")
    if id is not None and not resources.is_valid_id(id):
        raise BadRequest(
            f"'{id}' is not a valid FHIR id ([A-Za-z0-9-.]{{1,64}})", expression=["id"]
        )


def _call(found: Match) -> Call:
    """The request's inputs, checked in this order: 400 for the id, 406, then 415 and 400
    (before 401)."""
    route = found.route
    _check_id(found)
    native = route.interaction == "read" and found.params.get("type") == "Binary"
    native = native and not http.wants_fhir(request)
    if route.method != "DELETE" and not native and not route.raw:
        http.response_type(request)  # a DELETE answers no body, a Binary its own content type
    form = _form(route)
    return Call(
        **found.params,
        query=request.query_string.decode("utf-8", errors="replace"),
        parameters=_pairs(request.args) + form,
        body=_body(route),
        prefer=http.prefer(request, "return"),
        strict=http.prefer(request, "handling") == "strict",
        if_match=request.headers.get("If-Match"),
        if_none_exist=request.headers.get("If-None-Exist"),
        respond_async=http.prefer(request, "respond-async") is not None,
        native=native,
    )


def dispatch(table: RouteTable = ROUTES) -> Response:
    """Every FHIR request, whichever Flask rule received it: the table finds its route."""
    if request.method == "OPTIONS":
        return Response(status=200, headers={"Allow": ", ".join(table.allowed_on(_path()))})
    found = table.match(request.method, _path())
    call = _call(found)
    ctx = None if found.route.public else _ctx(found)
    if ctx is not None and request.method not in ("GET", "HEAD") and found.route.body != "form":
        # A write and its AuditEvents in one transaction, committed once recorded (_audit).
        g.carnet_transaction = transaction = ExitStack()
        transaction.enter_context(
            request_transaction(current_app.extensions["carnet"].store.db.client)
        )
    reply = found.route.handler(current_app.extensions["carnet"], ctx, call)
    if found.route.interaction in ("read", "vread"):
        reply = http.not_modified(request, reply)
    return http.render(reply)


class _FhirView(MethodView):
    """A pattern's view: its methods document the pattern's routes, `dispatch` answers them all."""

    table: RouteTable = ROUTES

    def dispatch_request(self, **_rule_parameters):
        return dispatch(self.table)


def _documented(route: Route):
    def view(self, **_rule_parameters):
        return self.dispatch_request()

    view.__doc__ = f"{route.summary}\n\nrestful-interaction: {route.interaction}"
    if route.operation:
        view.__doc__ += f" (${route.operation})"
    return Blueprint.doc(**openapi.operation(route))(view)


def _endpoint(pattern: str) -> str:
    return re.sub(r"\W+", "_", pattern).strip("_") or "base"


def register(target: Blueprint, table: RouteTable = ROUTES) -> None:
    """One Flask rule and one view per path pattern of the table, documented per method; called
    once per process by the composition root, with the table it composed."""
    for pattern in table.patterns:
        methods = {r.method.lower(): _documented(r) for r in table if r.pattern == pattern}
        view = type(_endpoint(pattern), (_FhirView,), {"table": table, **methods})
        rule = "/".join(_RULE_PARAMETERS.get(s, s) for s in pattern.split("/") if s)
        target.add_url_rule(f"/{rule}" if rule else "", _endpoint(pattern), view, methods=METHODS)


@blp.after_request
def _audit(response):
    """Every access by someone other than the patient is recorded before it is answered."""
    ctx = g.pop("carnet_ctx", None)
    found = g.pop("carnet_route", None)
    transaction = g.pop("carnet_transaction", None)
    if ctx is None or found is None:
        if transaction is not None:
            transaction.close()
        return response
    try:
        with transaction or ExitStack():
            current_app.extensions["carnet"].audit.record(
                ctx,
                found.route.interaction,
                response.status_code,
                _sent_parameters(found.route),
                found.params.get("type"),
            )
    except Exception:
        # No access without its record: the answer is withheld when the audit cannot be written.
        log.exception("could not write the AuditEvent of %s %s", request.method, request.path)
        return http.render_error(
            FhirError(
                "The access could not be recorded, so it is refused", status=500, code="exception"
            )
        )
    return response


def _sent_parameters(route: Route) -> str | None:
    """The request's path and parameters as sent (POST _search: its form too), or None."""
    query = request.query_string.decode("utf-8", errors="replace")
    if route.body == "form" and request.mimetype == FORM:
        form = urlencode(_pairs(request.form))
        query = "&".join(part for part in (query, form) if part)
    return f"{request.path}?{query}" if query else None


@blp.teardown_request
def _abandon(error):
    """A request's transaction still open here (its answer was never made) is rolled back."""
    transaction = g.pop("carnet_transaction", None)
    if transaction is not None:
        failure = error or RuntimeError("the request ended without an answer")
        transaction.__exit__(type(failure), failure, failure.__traceback__)
