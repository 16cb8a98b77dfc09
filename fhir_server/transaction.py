"""Batch and transaction Bundles: https://hl7.org/fhir/R4/http.html#transaction

A transaction is all-or-nothing: processed in the specification's order (DELETE, POST, PUT/PATCH,
GET), `urn:uuid:` full URLs of created resources and conditional references (`Patient?identifier=`)
rewritten to the ids they resolve to, inside one unit of work; any failure rolls every write back.
A batch processes each entry on its own. Each entry's method and url are resolved through the
route table (fhir_server.route_table), as an HTTP request's are, and run by the same handler.
"""

import copy
from http import HTTPStatus
from urllib.parse import urlsplit

from carnet_core.errors import (
    BadRequest,
    FhirError,
    Issue,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
    TooLarge,
)
from carnet_core.outcome import from_error
from fhir_server.interactions import Interactions, Reply
from fhir_server.resources import is_valid_id
from fhir_server.route_table import ROUTES, Call, Match, RouteTable
from fhir_server.store.claims import retrying
from fhir_server.store.repository import new_id

ORDER = {"DELETE": 0, "POST": 1, "PUT": 2, "PATCH": 2, "GET": 3, "HEAD": 3}


def status_text(code: int) -> str:
    """Bundle.entry.response.status: the 3-digit code and its reason phrase (e.g. "201 Created")."""
    try:
        return f"{code} {HTTPStatus(code).phrase}"
    except ValueError:
        return str(code)


class Entry:
    def __init__(self, index: int, raw: dict, base_url: str, routes: RouteTable):
        self.index = index
        where = f"Bundle.entry[{index}]"
        if not isinstance(raw, dict):
            raise BadRequest(f"{where} is not an object", expression=[where])
        request = raw.get("request")
        if not isinstance(request, dict) or not request.get("method") or not request.get("url"):
            raise BadRequest(
                f"{where}.request needs a method and a url", expression=[f"{where}.request"]
            )
        for key in ("method", "url", "ifNoneExist", "ifMatch", "ifNoneMatch", "ifModifiedSince"):
            if key in request and not isinstance(request[key], str):
                raise BadRequest(
                    f"{where}.request.{key} must be a string",
                    expression=[f"{where}.request.{key}"],
                )
        if "fullUrl" in raw and not isinstance(raw["fullUrl"], str):
            raise BadRequest(f"{where}.fullUrl must be a string", expression=[f"{where}.fullUrl"])
        self.method = request["method"].upper()
        if self.method not in ORDER:
            raise BadRequest(
                f"{where}.request.method '{self.method}' is not supported",
                expression=[f"{where}.request.method"],
            )
        url = request["url"]
        if url.startswith(base_url + "/"):
            url = url[len(base_url) + 1 :]
        self.url = url
        self.request = request
        self.full_url = raw.get("fullUrl")
        self.resource = raw.get("resource")
        self.where = where
        path, _, self.query = url.partition("?")
        self.parts = [p for p in urlsplit(path).path.split("/") if p]
        # The entry's route, found as an HTTP request's is; an entry no route answers is refused
        # when it is run, so that a transaction reports its other entries' errors first.
        self.outside_bundles = False
        self.found, self.refusal = self._route(routes)
        if self.found is not None:
            takes_resource = self.found.route.body == "json"
        elif self.outside_bundles:
            takes_resource = False  # a route no Bundle may name is refused as such, body or not
        else:
            takes_resource = self.method in ("POST", "PUT")
        if takes_resource and not isinstance(self.resource, dict):
            raise BadRequest(
                f"{where} ({self.method}) needs a resource", expression=[f"{where}.resource"]
            )

    def _route(self, routes: RouteTable) -> tuple[Match | None, BadRequest | None]:
        try:
            found = routes.match(self.method, "/".join(self.parts))
        except (NotFound, MethodNotAllowed) as error:
            allow = error.headers.get("Allow")
            return None, self._cannot(f"(it allows {allow})" if allow else "")
        if not found.route.in_bundle:
            self.outside_bundles = True
            return None, self._cannot("inside a Bundle")
        return found, None

    def _cannot(self, why: str) -> BadRequest:
        return BadRequest(
            " ".join(filter(None, [f"{self.where}: cannot {self.method} {self.url}", why])),
            expression=[f"{self.where}.request.url"],
        )

    def route(self) -> Match:
        """The entry's route and the parameters its url gave, or the entry's refusal (400)."""
        if self.found is None:
            raise self.refusal
        return self.found

    @property
    def interaction(self) -> str | None:
        """The restful-interaction of the entry's route; None when no route answers it."""
        return self.found.route.interaction if self.found else None

    @property
    def resource_type(self) -> str:
        if self.found is not None and "type" in self.found.params:
            return self.found.params["type"]
        return self.parts[0] if self.parts else ""

    @property
    def id(self) -> str | None:
        """The id its url names (an instance-level route), else None."""
        return self.found.params.get("id") if self.found else None


def _rewrite(node, mapping: dict[str, str]):
    """Replace every string equal to a mapped full URL (references, attachment URLs)."""
    if isinstance(node, dict):
        return {k: _rewrite(v, mapping) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite(v, mapping) for v in node]
    if isinstance(node, str) and node in mapping:
        return mapping[node]
    return node


def _conditional_references(node, found: set[str]):
    if isinstance(node, dict):
        ref = node.get("reference")
        if (
            isinstance(ref, str)
            and "?" in ref
            and not ref.startswith(("http://", "https://", "urn:"))
        ):
            found.add(ref)
        for v in node.values():
            _conditional_references(v, found)
    elif isinstance(node, list):
        for v in node:
            _conditional_references(v, found)


class BundleProcessor:
    def __init__(self, interactions: Interactions, max_entries: int, routes: RouteTable = ROUTES):
        self.interactions = interactions  # what the routes' handlers reach (route_table.Services)
        self.max_entries = max_entries
        self.routes = routes

    @property
    def base_url(self) -> str:
        return self.interactions.base_url

    def process(self, ctx, bundle, prefer: str | None, uow=None) -> Reply:
        """Run a batch or transaction Bundle; a transaction joins `uow` when given (ingestion)."""
        if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
            raise BadRequest(
                "POST to the base takes a Bundle of type batch or transaction",
                expression=["Bundle"],
            )
        kind = bundle.get("type")
        if kind not in ("batch", "transaction"):
            raise BadRequest(
                f"Bundle.type must be batch or transaction, not '{kind}'",
                expression=["Bundle.type"],
            )
        raw_entries = bundle.get("entry", [])
        if not isinstance(raw_entries, list):
            raise BadRequest("Bundle.entry must be an array", expression=["Bundle.entry"])
        if len(raw_entries) > self.max_entries:
            raise TooLarge(
                f"The Bundle has {len(raw_entries)} entries; the limit is {self.max_entries}"
            )
        if kind == "batch":
            return self._batch(ctx, raw_entries, prefer)
        if uow is not None:  # its owner runs it again if a conditional create loses its claim
            return self._transaction(ctx, raw_entries, prefer, uow)
        return retrying(lambda: self._transaction(ctx, raw_entries, prefer))

    # -- one entry ------------------------------------------------------------------------------
    def _run(self, ctx, entry: Entry, prefer, uow, resource=None, assigned_id=None) -> Reply:
        """The entry's route's handler, as an HTTP request to the same method and url reaches it."""
        found = entry.route()
        kind = found.route.body
        body = self._patch_ops(entry) if kind == "patch" else resource if kind == "json" else None
        call = Call(
            **found.params,
            query=entry.query,
            body=body,
            prefer=prefer,
            if_match=entry.request.get("ifMatch"),
            if_none_exist=entry.request.get("ifNoneExist"),
            uow=uow,
            assigned_id=assigned_id,
        )
        return found.route.handler(self, ctx, call)

    def _patch_ops(self, entry: Entry):
        """A PATCH entry carries its JSON Patch as a Binary, or a FHIRPath Patch's Parameters
        (http.html#patch)."""
        import base64
        import json

        binary = entry.resource
        if isinstance(binary, dict) and binary.get("resourceType") == "Parameters":
            return binary
        if (
            isinstance(binary, dict)
            and binary.get("resourceType") == "Binary"
            and binary.get("data")
        ):
            try:
                return json.loads(base64.b64decode(binary["data"]))
            except ValueError as exc:
                raise BadRequest(f"{entry.where}: the Binary does not hold a JSON Patch") from exc
        raise BadRequest(
            f"{entry.where}: a PATCH entry carries a Binary holding a JSON Patch, or a Parameters",
            expression=[f"{entry.where}.resource"],
        )

    def _response(self, reply: Reply) -> dict:
        response: dict = {"status": status_text(reply.status)}
        if "Location" in reply.headers:
            response["location"] = reply.headers["Location"]
        if "ETag" in reply.headers:
            response["etag"] = reply.headers["ETag"]
        meta = reply.body.get("meta") if isinstance(reply.body, dict) else None
        if isinstance(meta, dict) and meta.get("lastUpdated"):
            response["lastModified"] = meta["lastUpdated"]
        elif "Last-Modified" in reply.headers:
            from email.utils import parsedate_to_datetime

            from fhir_server.store.repository import instant

            response["lastModified"] = instant(
                parsedate_to_datetime(reply.headers["Last-Modified"])
            )
        entry: dict = {"response": response}
        if isinstance(reply.body, dict):
            if reply.body.get("resourceType") == "OperationOutcome":
                response["outcome"] = reply.body
            else:
                entry["resource"] = reply.body
        return entry

    # -- batch ----------------------------------------------------------------------------------
    def _batch(self, ctx, raw_entries: list, prefer) -> Reply:
        out = []
        for index, raw in enumerate(raw_entries):
            try:
                entry = Entry(index, raw, self.base_url, self.routes)
                # Entries are independent: no urn:uuid between them, but conditional references
                # resolve, and a dangling urn:uuid reference is refused rather than stored.
                resource = (
                    self._resolve(ctx, entry, {}) if isinstance(entry.resource, dict) else None
                )
                reply = self._run(ctx, entry, prefer, None, resource)
                out.append(self._response(reply))
            except FhirError as error:
                out.append(
                    {
                        "response": {
                            "status": status_text(error.status),
                            "outcome": from_error(error),
                        }
                    }
                )
        return Reply(200, {"resourceType": "Bundle", "type": "batch-response", "entry": out})

    # -- transaction ----------------------------------------------------------------------------
    def _transaction(self, ctx, raw_entries: list, prefer, outer=None) -> Reply:
        entries = [Entry(i, raw, self.base_url, self.routes) for i, raw in enumerate(raw_entries)]
        mapping: dict[str, str] = {}
        assigned: dict[int, str] = {}
        seen_full_urls: set[str] = set()
        for e in entries:
            if e.full_url:
                if e.full_url in seen_full_urls:
                    raise BadRequest(
                        f"{e.where}: fullUrl {e.full_url} appears twice",
                        expression=[f"{e.where}.fullUrl"],
                    )
                seen_full_urls.add(e.full_url)
            if e.interaction == "create":
                id = new_id()
                assigned[e.index] = id
                if e.full_url:
                    mapping[e.full_url] = f"{e.resource_type}/{id}"
            elif (
                e.interaction == "update" and e.id and e.full_url and e.full_url.startswith("urn:")
            ):
                mapping[e.full_url] = f"{e.resource_type}/{e.id}"
        _check_overlap(entries)
        preset: dict[int, str] = {}
        with self.interactions.store.unit_of_work(outer) as uow:
            # Conditional updates named by a urn:uuid fullUrl: the urn becomes the matched id, or
            # the id the resource will be created with when nothing matches.
            for e in entries:
                if e.interaction == "update" and not e.id and e.query and e.full_url:
                    found = self._match(ctx, e, e.resource_type, e.query, "conditional update")
                    if found:
                        target = found["_id"]
                    else:
                        target = e.resource.get("id") or new_id()
                        preset[e.index] = target
                    mapping[e.full_url] = f"{e.resource_type}/{target}"
            # Conditional creates that find their match point references at the existing resource.
            for e in entries:
                if e.index in assigned and e.request.get("ifNoneExist"):
                    found = self._match(
                        ctx, e, e.resource_type, e.request["ifNoneExist"], "ifNoneExist"
                    )
                    if found and e.full_url:
                        mapping[e.full_url] = f"{e.resource_type}/{found['_id']}"
            resources = {
                e.index: self._resolve(ctx, e, mapping)
                for e in entries
                if isinstance(e.resource, dict)
            }
            for index, id in preset.items():
                resources[index] = {**resources[index], "id": id}
            results: dict[int, dict] = {}
            touched: dict[str, Entry] = {}
            # Binaries before the other writes of their group: a DocumentReference written after its
            # Binary takes it into the patient's record, under its labels (Store._adopt_binaries).
            for e in sorted(
                entries, key=lambda x: (ORDER[x.method], x.resource_type != "Binary", x.index)
            ):
                try:
                    reply = self._run(
                        ctx, e, prefer, uow, resources.get(e.index), assigned.get(e.index)
                    )
                except FhirError as error:
                    for issue in error.issues:
                        if not issue.diagnostics.startswith(e.where):
                            issue.diagnostics = (
                                f"{e.where} ({e.method} {e.url}): {issue.diagnostics}"
                            )
                    raise
                if e.method != "GET" and e.method != "HEAD":
                    _claim(touched, e, reply)
                results[e.index] = self._response(reply)
        out = [results[e.index] for e in entries]
        return Reply(200, {"resourceType": "Bundle", "type": "transaction-response", "entry": out})

    def _match(self, ctx, entry: Entry, resource_type: str, query: str, what: str) -> dict | None:
        """conditional_match, its errors naming the entry."""
        try:
            return self.interactions.conditional_match(ctx, resource_type, query, what)
        except FhirError as error:
            for issue in error.issues:
                issue.diagnostics = f"{entry.where}: {issue.diagnostics}"
                issue.expression = issue.expression or [f"{entry.where}.request"]
            raise

    def _resolve(self, ctx, entry: Entry, mapping: dict[str, str]) -> dict:
        resource = _rewrite(copy.deepcopy(entry.resource), mapping)
        conditional: set[str] = set()
        _conditional_references(resource, conditional)
        resolved = {}
        for ref in conditional:
            rtype, _, query = ref.partition("?")
            found = self._match(ctx, entry, rtype, query, f"conditional reference {ref}")
            if found is None:
                raise PreconditionFailed(
                    f"{entry.where}: the conditional reference {ref} matches no resource; it must match exactly one",
                    expression=[f"{entry.where}.resource"],
                )
            resolved[ref] = f"{rtype}/{found['_id']}"
        resource = _rewrite(resource, resolved) if resolved else resource
        _check_local_references(resource, entry)
        return resource


def _overlap_error(entry: Entry, other: Entry, identity: str) -> BadRequest:
    return BadRequest(
        f"{entry.where} and {other.where} both change {identity}; a transaction may change "
        "each resource once",
        expression=[f"{entry.where}.request.url"],
    )


def _check_overlap(entries: list[Entry]) -> None:
    """http.html#trules: resource identities of the write entries SHALL NOT overlap."""
    seen: dict[str, Entry] = {}
    for e in entries:
        if e.interaction in ("update", "patch", "delete") and e.id:
            identity = f"{e.resource_type}/{e.id}"
            if identity in seen:
                raise _overlap_error(e, seen[identity], identity)
            seen[identity] = e


def _claim(touched: dict[str, Entry], entry: Entry, reply: Reply) -> None:
    """The same rule for identities known only once processed (conditional writes)."""
    location = reply.headers.get("Content-Location")
    if not location:
        return
    parts = location.split("/_history/")[0].rsplit("/", 2)
    identity = f"{parts[-2]}/{parts[-1]}"
    if identity in touched and touched[identity] is not entry:
        raise _overlap_error(entry, touched[identity], identity)
    touched[identity] = entry


def _check_local_references(resource: dict, entry: Entry) -> None:
    unresolved: set[str] = set()

    def walk(node):
        if isinstance(node, dict):
            ref = node.get("reference")
            if isinstance(ref, str) and ref.startswith("urn:uuid:"):
                unresolved.add(ref)
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(resource)
    if unresolved:
        raise BadRequest(
            f"{entry.where}: reference(s) {', '.join(sorted(unresolved))} name no entry of this transaction",
            expression=[f"{entry.where}.resource"],
            code="not-found",
            issues=[
                Issue(
                    "not-found",
                    f"{entry.where}: reference {r} names no entry of this transaction",
                    expression=[f"{entry.where}.resource"],
                )
                for r in sorted(unresolved)
            ],
        )


__all__ = ["BundleProcessor", "is_valid_id"]
