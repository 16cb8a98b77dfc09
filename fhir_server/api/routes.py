"""The FHIR REST routes, in one table: https://hl7.org/fhir/R4/http.html#summary

Thin: each view builds the AccessContext once (smart_auth), reads the HTTP inputs and calls one
framework-free interaction (fhir_server.interactions).
"""

import logging
from urllib.parse import urlencode

from flask import current_app, g, request
from flask.views import MethodView
from flask_smorest import Blueprint

from carnet_core.errors import BadRequest, FhirError, MethodNotAllowed, UnsupportedMediaType
from fhir_server.api import http
from fhir_server.interactions import Interactions
from smart_auth.bearer import context_from_headers

log = logging.getLogger("carnet.audit")

blp = Blueprint("fhir", __name__, url_prefix="/fhir", description="FHIR R4 RESTful API")


def _services() -> Interactions:
    return current_app.extensions["carnet"].interactions


def _ctx():
    ctx = context_from_headers(request.headers, current_app.extensions["carnet"].auth.tokens)
    g.carnet_ctx = ctx  # kept for this request's AuditEvents (_audit below), nothing else
    return ctx


# (view, method) -> the restful-interaction code an AuditEvent names.
_INTERACTIONS = {
    ("System", "POST"): "transaction",
    ("TypeLevel", "GET"): "search-type",
    ("TypeLevel", "POST"): "create",
    ("TypeLevel", "PUT"): "update",
    ("TypeLevel", "PATCH"): "patch",
    ("TypeLevel", "DELETE"): "delete",
    ("SearchPost", "POST"): "search-type",
    ("TypeHistory", "GET"): "history-type",
    ("Instance", "GET"): "read",
    ("Instance", "PUT"): "update",
    ("Instance", "PATCH"): "patch",
    ("Instance", "DELETE"): "delete",
    ("InstanceHistory", "GET"): "history-instance",
    ("Version", "GET"): "vread",
}


@blp.after_request
def _audit(response):
    """Every access by someone other than the patient is recorded before it is answered."""
    ctx = g.pop("carnet_ctx", None)
    if ctx is None:
        return response
    view = (request.endpoint or "").rpartition(".")[2]
    method = "GET" if request.method == "HEAD" else request.method
    interaction = _INTERACTIONS.get((view, method), "operation")
    resource_type = (request.view_args or {}).get("resource_type")
    try:
        current_app.extensions["carnet"].audit.record(
            ctx, interaction, response.status_code, _sent_parameters(view), resource_type
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


def _sent_parameters(view: str) -> str | None:
    """The request's path and parameters as sent (POST _search: its form too), or None."""
    query = request.query_string.decode("utf-8", errors="replace")
    if view == "SearchPost" and request.mimetype == "application/x-www-form-urlencoded":
        form = urlencode([(k, v) for k, values in request.form.lists() for v in values])
        query = "&".join(part for part in (query, form) if part)
    return f"{request.path}?{query}" if query else None


def _params() -> list[tuple[str, str]]:
    return [(k, v) for k, values in request.args.lists() for v in values]


def _query_string() -> str:
    return request.query_string.decode("utf-8", errors="replace")


def _strict() -> bool:
    return http.prefer(request, "handling") == "strict"


# Path segments that name an endpoint, not a type or an id: another method on them is a 405
# (with the methods they do allow), not a type called "metadata" or an id "_history".
_TYPE_ENDPOINTS = {"metadata": "GET, HEAD"}
_INSTANCE_ENDPOINTS = {"_history": "GET, HEAD", "_search": "POST"}


def _no_endpoint(resource_type: str, id: str | None = None) -> None:
    allow = _TYPE_ENDPOINTS.get(resource_type)
    if allow is None and id is not None:
        allow = _INSTANCE_ENDPOINTS.get(id)
    if allow is not None:
        raise MethodNotAllowed(
            f"{request.method} is not allowed on {request.path}", headers={"Allow": allow}
        )


def _summary_elements():
    summary = request.args.get("_summary")
    elements = request.args.get("_elements")
    if summary is not None and summary not in ("true", "false", "text", "data", "count"):
        raise BadRequest(
            "_summary must be true, false, text, data or count", expression=["_summary"]
        )
    return summary, [e.strip() for e in elements.split(",")] if elements else None


@blp.route("/metadata")
class Metadata(MethodView):
    def get(self):
        """Capabilities: the CapabilityStatement (http.html#capabilities)."""
        http.response_type(request)
        return http.render(current_app.extensions["carnet"].capabilities())


@blp.route("")
class System(MethodView):
    def post(self):
        """Batch or transaction Bundle (http.html#transaction); ITI-65 Provide Document Bundle."""
        http.response_type(request)
        bundle = http.read_json_body(request)
        return http.render(
            current_app.extensions["carnet"].ingestion.process(
                _ctx(), bundle, http.prefer(request, "return")
            )
        )


@blp.route("/<string:resource_type>")
class TypeLevel(MethodView):
    def get(self, resource_type):
        """Search (http.html#search)."""
        _no_endpoint(resource_type)
        http.response_type(request)
        return http.render(_services().search(_ctx(), resource_type, _params(), strict=_strict()))

    def post(self, resource_type):
        """Create, or conditional create with If-None-Exist (http.html#create)."""
        _no_endpoint(resource_type)
        http.response_type(request)
        body = http.read_json_body(request)
        reply = _services().create(
            _ctx(),
            resource_type,
            body,
            prefer=http.prefer(request, "return"),
            if_none_exist=request.headers.get("If-None-Exist"),
        )
        return http.render(reply)

    def put(self, resource_type):
        """Conditional update (http.html#cond-update)."""
        _no_endpoint(resource_type)
        http.response_type(request)
        body = http.read_json_body(request)
        reply = _services().conditional_update(
            _ctx(),
            resource_type,
            _query_string(),
            body,
            if_match=request.headers.get("If-Match"),
            prefer=http.prefer(request, "return"),
        )
        return http.render(reply)

    def patch(self, resource_type):
        """Conditional patch (http.html#patch)."""
        _no_endpoint(resource_type)
        http.response_type(request)
        ops = http.read_json_body(request, allowed=(http.PATCH_TYPE,))
        reply = _services().conditional_patch(
            _ctx(),
            resource_type,
            _query_string(),
            ops,
            if_match=request.headers.get("If-Match"),
            prefer=http.prefer(request, "return"),
        )
        return http.render(reply)

    def delete(self, resource_type):
        """Conditional delete (http.html#3.1.0.7.1)."""
        _no_endpoint(resource_type)
        return http.render(_services().conditional_delete(_ctx(), resource_type, _query_string()))


@blp.route("/<string:resource_type>/_search")
class SearchPost(MethodView):
    def post(self, resource_type):
        """Search by POST with form-encoded parameters (http.html#search)."""
        http.response_type(request)
        content_type = (request.headers.get("Content-Type") or "").split(";")[0].strip()
        if content_type != "application/x-www-form-urlencoded":
            raise UnsupportedMediaType(
                "POST _search takes application/x-www-form-urlencoded parameters"
            )
        params = _params() + [(k, v) for k, values in request.form.lists() for v in values]
        return http.render(_services().search(_ctx(), resource_type, params, strict=_strict()))


@blp.route("/<string:resource_type>/_history")
class TypeHistory(MethodView):
    def get(self, resource_type):
        """Type history (http.html#history)."""
        http.response_type(request)
        return http.render(_services().history(_ctx(), resource_type, None, _params()))


@blp.route("/<string:resource_type>/<string:id>")
class Instance(MethodView):
    def get(self, resource_type, id):
        """Read (http.html#read); a Binary answers its native content unless FHIR JSON is asked."""
        _no_endpoint(resource_type, id)
        if resource_type == "Binary" and not http.wants_fhir(request):
            return http.render(_services().binary_content(_ctx(), id))
        http.response_type(request)
        summary, elements = _summary_elements()
        return http.render(_services().read(_ctx(), resource_type, id, summary, elements))

    def put(self, resource_type, id):
        """Update, or create with a client id (http.html#update)."""
        _no_endpoint(resource_type, id)
        http.response_type(request)
        body = http.read_json_body(request)
        reply = _services().update(
            _ctx(),
            resource_type,
            id,
            body,
            if_match=request.headers.get("If-Match"),
            prefer=http.prefer(request, "return"),
        )
        return http.render(reply)

    def patch(self, resource_type, id):
        """Patch with JSON Patch (http.html#patch)."""
        _no_endpoint(resource_type, id)
        http.response_type(request)
        ops = http.read_json_body(request, allowed=(http.PATCH_TYPE,))
        reply = _services().patch(
            _ctx(),
            resource_type,
            id,
            ops,
            if_match=request.headers.get("If-Match"),
            prefer=http.prefer(request, "return"),
        )
        return http.render(reply)

    def delete(self, resource_type, id):
        """Logical delete (http.html#delete)."""
        _no_endpoint(resource_type, id)
        return http.render(
            _services().delete(_ctx(), resource_type, id, if_match=request.headers.get("If-Match"))
        )


@blp.route("/DocumentReference/<string:id>/$mask")
class Mask(MethodView):
    def post(self, id):
        """Mask a document from professionals (MASQUE_PS), keeping its other labels."""
        http.response_type(request)
        return http.render(
            _services().mask(_ctx(), id, True, prefer=http.prefer(request, "return"))
        )


@blp.route("/DocumentReference/<string:id>/$unmask")
class Unmask(MethodView):
    def post(self, id):
        """Lift MASQUE_PS from a document."""
        http.response_type(request)
        return http.render(
            _services().mask(_ctx(), id, False, prefer=http.prefer(request, "return"))
        )


@blp.route("/<string:resource_type>/<string:id>/_history")
class InstanceHistory(MethodView):
    def get(self, resource_type, id):
        """Instance history (http.html#history)."""
        http.response_type(request)
        return http.render(_services().history(_ctx(), resource_type, id, _params()))


@blp.route("/<string:resource_type>/<string:id>/_history/<string:vid>")
class Version(MethodView):
    def get(self, resource_type, id, vid):
        """Version read (http.html#vread)."""
        http.response_type(request)
        return http.render(_services().vread(_ctx(), resource_type, id, vid))
