"""The FHIR REST routes, each declared once: https://hl7.org/fhir/R4/http.html#summary

A row names an HTTP method and a path pattern relative to the FHIR base, the restful-interaction
code it performs (http://hl7.org/fhir/R4/valueset-restful-interaction.html: the code its
AuditEvent names), the operation a `$` route runs, the body it reads, and the handler that answers
it. Three consumers read the same rows:

- the HTTP adapter (fhir_server.api.routes) registers its Flask routes from them (and so the
  OpenAPI document) and dispatches every request through `ROUTES.match`;
- the Bundle processor (fhir_server.transaction) resolves each entry's method and url through the
  same `match` and calls the same handler (http.html#transaction);
- the CapabilityStatement (fhir_server.capability) lists their interactions and operations.

Adding an operation is one row below plus its handler. Framework-free: a handler takes the
services, the caller's AccessContext and a `Call` (the path's type, id and version, and the
inputs the HTTP adapter or the Bundle processor read), and returns a Reply.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest, MethodNotAllowed, NotFound
from consent import notice_choices
from fhir_server import everything as everything_op
from fhir_server import system
from fhir_server.bulk_export.operation import EXPORT, PATIENT_EXPORT, BulkExport
from fhir_server.interactions import Interactions, Reply, parse_query_string
from fhir_server.store.unit_of_work import UnitOfWork
from fhir_server.validate_op import DEFINITION as VALIDATE
from fhir_server.validate_op import validate_resource

# What a route reads from the request body: a FHIR JSON resource or Bundle, a JSON Patch
# (http.html#patch), or form-encoded search parameters (POST [type]/_search).
Body = Literal["json", "patch", "form"]

# The restful-interaction codes that change a resource (refused on read-only types).
WRITES = frozenset({"create", "update", "patch", "delete"})

SUMMARY_VALUES = ("true", "false", "text", "data", "count")


class Services(Protocol):
    """What a handler reaches; inside a Bundle, the interactions only (fhir_server.transaction)."""

    interactions: Interactions


class BundleIntake(Protocol):
    def process(self, ctx: AccessContext, bundle: Any, prefer: str | None) -> Reply: ...


class RecordLife(Protocol):
    """The patient's operations on their whole record (ingestion.lifecycle)."""

    def close(self, ctx: AccessContext, id: str, mode: str | None) -> Reply: ...

    def reopen(self, ctx: AccessContext, id: str) -> Reply: ...

    def erase(self, ctx: AccessContext, id: str) -> Reply: ...


class Server(Services, Protocol):
    """The app's services (carnet.app.Carnet), for the routes a Bundle may not carry."""

    ingestion: BundleIntake
    exports: BulkExport
    lifecycle: RecordLife

    def capabilities(self) -> Reply: ...


@dataclass
class Call:
    """One request to a route: what its path named and what the request brought."""

    type: str = ""
    id: str = ""
    vid: str = ""
    query: str = ""  # as sent: a conditional write names its search by it
    parameters: list[tuple[str, str]] | None = None  # None: parsed from `query` when asked
    body: Any = None
    prefer: str | None = None  # Prefer: return=
    strict: bool = False  # Prefer: handling=strict
    if_match: str | None = None
    if_none_exist: str | None = None
    respond_async: bool = False  # Prefer: respond-async (async.html)
    native: bool = False  # a Binary's own content is asked for, not its FHIR JSON
    uow: UnitOfWork | None = None  # a transaction's unit of work
    assigned_id: str | None = None  # a transaction's create: the id its references were given
    file: str = ""  # a bulk export's output file, by name

    def search_parameters(self) -> list[tuple[str, str]]:
        """The query's parameters (and a POST _search's form), as the adapter read them."""
        if self.parameters is None:
            return parse_query_string(self.query)
        return self.parameters


Handler = Callable[[Any, AccessContext | None, Call], Reply]


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str  # relative to the base: literal segments and {type}, {id}, {vid}, {file}
    interaction: str
    handler: Handler
    summary: str
    operation: str | None = None  # an operation's name, without its `$`
    definition: str | None = None  # the operation's OperationDefinition, where one is standard
    body: Body | None = None
    in_bundle: bool = True  # False: a Bundle entry may not name this route
    public: bool = False  # answered without an access token
    raw: bool = False  # answers a content of its own (NDJSON), whatever Accept says

    @property
    def segments(self) -> tuple[str, ...]:
        return _segments(self.pattern)


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]  # type, id, vid as the path gave them


# What a resource type never begins with: FHIR's own path words (`_history`, `$everything`).
RESERVED = ("_", "$")


def _segments(pattern: str) -> tuple[str, ...]:
    return tuple(s for s in pattern.split("/") if s)


def _bind(segments: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    if len(segments) != len(parts):
        return None
    params = {}
    for segment, part in zip(segments, parts, strict=True):
        if segment == "{type}" and part[:1] in RESERVED or segment == "{id}" and part[:1] == "_":
            return None  # `_history`, `$export`: FHIR's own words, never a type (nor an id)
        if segment.startswith("{"):
            params[segment[1:-1]] = part
        elif segment != part:
            return None
    return params


def _specificity(segments: tuple[str, ...]) -> tuple[bool, ...]:
    """Literal segments win over parameters, leftmost first: `metadata` is not a type,
    `Patient/_history` not an id."""
    return tuple(s.startswith("{") for s in segments)


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


class RouteTable:
    def __init__(self, routes: Iterable[Route]):
        self.routes = tuple(routes)
        self._by_key: dict[tuple[str, str], Route] = {}
        for route in self.routes:
            if route.method == "HEAD":
                raise ValueError(f"HEAD {route.pattern!r}: HEAD is answered by the GET route")
            if (route.method, route.pattern) in self._by_key:
                raise ValueError(f"{route.method} {route.pattern!r} is declared twice")
            self._by_key[route.method, route.pattern] = route
        self._segments = {route.pattern: route.segments for route in self.routes}
        self.patterns = tuple(self._segments)  # in the table's order

    def __iter__(self):
        return iter(self.routes)

    def allowed(self, pattern: str) -> list[str]:
        """The methods a pattern answers, HEAD with GET."""
        methods = {method for method, p in self._by_key if p == pattern}
        if "GET" in methods:
            methods.add("HEAD")
        return [m for m in _METHOD_ORDER if m in methods]

    def allowed_on(self, path: str) -> list[str]:
        return self.allowed(self._pattern_of(path)[0])

    def match(self, method: str, path: str) -> Match:
        """The route of `method` on `path`, relative to the base (HEAD is GET).

        404 when no pattern has this path, 405 with Allow when its pattern has not this method.
        """
        pattern, params = self._pattern_of(path)
        route = self._by_key.get(("GET" if method == "HEAD" else method, pattern))
        if route is None:
            allow = ", ".join(self.allowed(pattern))
            shown = "/".join(["[base]", *(p for p in path.split("/") if p)])
            raise MethodNotAllowed(
                f"{method} is not allowed on {shown}; it allows {allow}", headers={"Allow": allow}
            )
        return Match(route, params)

    def _pattern_of(self, path: str) -> tuple[str, dict[str, str]]:
        """The most literal pattern having this path (empty segments ignored, as in a Bundle
        entry's url) and the parameters it binds; 404 when none has it."""
        parts = [part for part in path.split("/") if part]
        bound = [
            (pattern, params)
            for pattern, segments in self._segments.items()
            if (params := _bind(segments, parts)) is not None
        ]
        if not bound:
            raise NotFound("No such URL on this FHIR server")
        return min(bound, key=lambda found: _specificity(self._segments[found[0]]))


# -- handlers: one per row, each a thin call of the framework-free interactions -------------------
def capabilities(s: Server, ctx: AccessContext | None, call: Call) -> Reply:
    return s.capabilities()


def bundle(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return s.ingestion.process(ctx, call.body, call.prefer)


def search(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.search(ctx, call.type, call.search_parameters(), strict=call.strict)


def create(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.create(
        ctx,
        call.type,
        call.body,
        prefer=call.prefer,
        if_none_exist=call.if_none_exist,
        uow=call.uow,
        assigned_id=call.assigned_id,
    )


def _edit(call: Call) -> dict[str, Any]:
    """What an update or a patch takes besides its target and body: If-Match, Prefer, the
    transaction's unit of work."""
    return {"if_match": call.if_match, "prefer": call.prefer, "uow": call.uow}


def conditional_update(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.conditional_update(ctx, call.type, call.query, call.body, **_edit(call))


def conditional_patch(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.conditional_patch(ctx, call.type, call.query, call.body, **_edit(call))


def conditional_delete(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.conditional_delete(ctx, call.type, call.query, uow=call.uow)


def history_type(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.history(ctx, call.type, None, call.search_parameters())


def _summary_elements(parameters: list[tuple[str, str]]) -> tuple[str | None, list[str] | None]:
    """_summary and _elements of a read (search.html#summary, search.html#elements)."""
    summary = next((v for k, v in parameters if k == "_summary"), None)
    elements = next((v for k, v in parameters if k == "_elements"), None)
    if summary is not None and summary not in SUMMARY_VALUES:
        raise BadRequest(
            "_summary must be true, false, text, data or count", expression=["_summary"]
        )
    return summary, [e.strip() for e in elements.split(",")] if elements else None


def read(s: Services, ctx: AccessContext, call: Call) -> Reply:
    if call.native:
        return s.interactions.binary_content(ctx, call.id)
    summary, elements = _summary_elements(call.search_parameters())
    return s.interactions.read(ctx, call.type, call.id, summary, elements)


def update(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.update(ctx, call.type, call.id, call.body, **_edit(call))


def patch(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.patch(ctx, call.type, call.id, call.body, **_edit(call))


def delete(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.delete(ctx, call.type, call.id, if_match=call.if_match, uow=call.uow)


def history_instance(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.history(ctx, call.type, call.id, call.search_parameters())


def vread(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.vread(ctx, call.type, call.id, call.vid)


def search_system(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return system.search(s.interactions, ctx, call.search_parameters(), strict=call.strict)


def history_system(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return system.history(s.interactions, ctx, call.search_parameters())


def search_compartment(s: Services, ctx: AccessContext, call: Call) -> Reply:
    parameters = call.search_parameters()
    return s.interactions.search(
        ctx, call.type, parameters, strict=call.strict, compartment=call.id
    )


def everything(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return everything_op.everything(s.interactions, ctx, call.id, call.search_parameters())


def validate_type(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return validate_resource(
        s.interactions, ctx, call.type, None, call.body, call.search_parameters()
    )


def validate_instance(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return validate_resource(
        s.interactions, ctx, call.type, call.id, call.body, call.search_parameters()
    )


def _export(s: Server, ctx: AccessContext, call: Call, level: str, patient: str | None) -> Reply:
    path = {"system": "$export", "patients": "Patient/$export"}.get(
        level, f"Patient/{patient}/$export"
    )
    request = f"{s.interactions.base_url}/{path}" + (f"?{call.query}" if call.query else "")
    parameters = call.search_parameters()
    return s.exports.kick_off(ctx, level, patient, parameters, request, call.respond_async)


def export_system(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return _export(s, ctx, call, "system", None)


def export_patients(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return _export(s, ctx, call, "patients", None)


def export_patient(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return _export(s, ctx, call, "patient", call.id)


def export_status(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return s.exports.status(ctx, call.id)


def export_cancel(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return s.exports.cancel(ctx, call.id)


def export_file(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return s.exports.file(ctx, call.id, call.file)


def mask(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.mask(ctx, call.id, True, prefer=call.prefer, uow=call.uow)


def unmask(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.mask(ctx, call.id, False, prefer=call.prefer, uow=call.uow)


# The patient's profile (fhir_server.profile): its summary, and masking a whole record.
def patient_summary(s: Services, ctx: AccessContext, call: Call) -> Reply:
    return s.interactions.patient_summary(ctx, call.id)


def mask_record(s: Services, ctx: AccessContext, call: Call) -> Reply:
    params = call.search_parameters()
    return s.interactions.mask_record(ctx, call.id, True, params, uow=call.uow)


def unmask_record(s: Services, ctx: AccessContext, call: Call) -> Reply:
    params = call.search_parameters()
    return s.interactions.mask_record(ctx, call.id, False, params, uow=call.uow)


def close_record(s: Server, ctx: AccessContext, call: Call) -> Reply:
    mode = next((v for k, v in call.search_parameters() if k == "mode"), None)
    return s.lifecycle.close(ctx, call.id, mode)


def reopen_record(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return s.lifecycle.reopen(ctx, call.id)


def erase_record(s: Server, ctx: AccessContext, call: Call) -> Reply:
    return s.lifecycle.erase(ctx, call.id)


def notifications(s: Services, ctx: AccessContext, call: Call) -> Reply:
    store = s.interactions.store
    store.policy.notice_chooser(ctx, f"Patient/{call.id}")  # 403 before anything is read
    store.enforcer.require(ctx, "Patient", "read")
    store.read(ctx, "Patient", call.id)  # 404 as its read; audited as an access to the record
    return Reply(200, notice_choices.read(store.policy, ctx, call.id))


def choose_notifications(s: Services, ctx: AccessContext, call: Call) -> Reply:
    store = s.interactions.store
    store.policy.notice_chooser(ctx, f"Patient/{call.id}")
    store.enforcer.require(ctx, "Patient", "update")
    store.read(ctx, "Patient", call.id)
    return Reply(200, notice_choices.change(store.policy, ctx, call.id, call.body))


# -- the table --------------------------------------------------------------------------------
# One row per route; adding an operation is one row plus its handler.
# fmt: off
ROUTES = RouteTable([
    Route("GET", "metadata", "capabilities", capabilities, "Capabilities: the CapabilityStatement (http.html#capabilities).", in_bundle=False, public=True),
    Route("GET", "", "search-system", search_system, "Search across the types of _type, with the parameters they all define (http.html#search)."),
    Route("GET", "_history", "history-system", history_system, "System history: every version the caller may see (http.html#history)."),
    Route("POST", "", "transaction", bundle, "Batch or transaction Bundle (http.html#transaction); ITI-65 Provide Document Bundle.", body="json", in_bundle=False),
    Route("GET", "{type}", "search-type", search, "Search (http.html#search)."),
    Route("POST", "{type}", "create", create, "Create, or conditional create with If-None-Exist (http.html#create).", body="json"),
    Route("PUT", "{type}", "update", conditional_update, "Conditional update (http.html#cond-update).", body="json"),
    Route("PATCH", "{type}", "patch", conditional_patch, "Conditional patch (http.html#patch).", body="patch"),
    Route("DELETE", "{type}", "delete", conditional_delete, "Conditional delete (http.html#3.1.0.7.1)."),
    Route("POST", "{type}/_search", "search-type", search, "Search by POST with form-encoded parameters (http.html#search).", body="form"),
    Route("GET", "{type}/_history", "history-type", history_type, "Type history (http.html#history)."),
    Route("GET", "{type}/{id}", "read", read, "Read (http.html#read); a Binary answers its native content unless FHIR JSON is asked."),
    Route("PUT", "{type}/{id}", "update", update, "Update, or create with a client id (http.html#update).", body="json"),
    Route("PATCH", "{type}/{id}", "patch", patch, "Patch with JSON Patch (http.html#patch).", body="patch"),
    Route("DELETE", "{type}/{id}", "delete", delete, "Logical delete (http.html#delete)."),
    Route("GET", "{type}/{id}/_history", "history-instance", history_instance, "Instance history (http.html#history)."),
    Route("GET", "{type}/{id}/_history/{vid}", "vread", vread, "Version read (http.html#vread)."),
    Route("GET", "Patient/{id}/{type}", "search-type", search_compartment, "Search in a patient's compartment (http.html#search, compartmentdefinition.html)."),
    Route("GET", "Patient/{id}/$everything", "operation", everything, "The Patient and what the caller may see of its record (patient-operation-everything.html).", operation="everything", definition=everything_op.DEFINITION),
    Route("POST", "{type}/$validate", "operation", validate_type, "Validate a resource without storing it (resource-operation-validate.html).", operation="validate", definition=VALIDATE, body="json"),
    Route("POST", "{type}/{id}/$validate", "operation", validate_instance, "Validate a new version of a resource without storing it (resource-operation-validate.html).", operation="validate", definition=VALIDATE, body="json"),
    Route("GET", "$export", "operation", export_system, "Bulk Data export of what the caller may read (bulkdata export.html); Prefer: respond-async.", operation="export", definition=EXPORT, in_bundle=False),
    Route("GET", "Patient/$export", "operation", export_patients, "Bulk Data export of every patient's record the caller may read.", operation="export", definition=PATIENT_EXPORT, in_bundle=False),
    Route("GET", "Patient/{id}/$export", "operation", export_patient, "Bulk Data export of one patient's record (a patient's own: their right to portability).", operation="export", definition=PATIENT_EXPORT, in_bundle=False),
    Route("GET", "$export-status/{id}", "operation", export_status, "Bulk Data export status: 202 with X-Progress while running, 200 with the manifest when done.", in_bundle=False),
    Route("DELETE", "$export-status/{id}", "operation", export_cancel, "Cancel a Bulk Data export and delete its files.", in_bundle=False),
    Route("GET", "$export-file/{id}/{file}", "operation", export_file, "One NDJSON file of a completed Bulk Data export, to its requester only.", in_bundle=False, raw=True),
    Route("POST", "DocumentReference/{id}/$mask", "operation", mask, "Mask a document from professionals (MASQUE_PS), keeping its other labels.", operation="mask"),
    Route("POST", "DocumentReference/{id}/$unmask", "operation", unmask, "Lift MASQUE_PS from a document.", operation="unmask"),
    # The patient's profile: keep these rows together.
    Route("GET", "Patient/{id}/$summary", "operation", patient_summary, "The patient's profile in one collection Bundle, as the caller may read it.", operation="summary"),
    Route("POST", "Patient/{id}/$mask", "operation", mask_record, "Mask every document of the record, or of the categories named (?category=).", operation="mask"),
    Route("POST", "Patient/{id}/$unmask", "operation", unmask_record, "Lift MASQUE_PS from every document of the record, or of the categories named.", operation="unmask"),
    Route("GET", "Patient/{id}/$notifications", "operation", notifications, "The notices the caller (the patient, or their legal representative) receives: each kind on or off.", operation="notifications", in_bundle=False),
    Route("POST", "Patient/{id}/$notifications", "operation", choose_notifications, "Turn kinds of notice (document-added, first-access) on or off for the caller.", operation="notifications", body="json", in_bundle=False),
    # The record's life (ingestion.lifecycle, CSP R1111-36): its patient closes, reopens or erases it.
    Route("POST", "Patient/{id}/$close", "operation", close_record, "The patient closes their record: archived, or erased with mode=erase (CSP R1111-36).", operation="close", in_bundle=False),
    Route("POST", "Patient/{id}/$reopen", "operation", reopen_record, "The patient reopens their closed record within its archive period.", operation="reopen", in_bundle=False),
    Route("POST", "Patient/{id}/$erase", "operation", erase_record, "The patient erases their record: every version, history and content.", operation="erase", in_bundle=False),
])
# fmt: on
