"""Search: parameters in, one policy-filtered MongoDB query out: https://hl7.org/fhir/R4/search.html

Parsing (modifiers, chains, `_has`, result parameters) and execution (keyset paging, totals,
`_include` / `_revinclude`). Every query goes through Store.find/count, which adds the policy.
"""

from dataclasses import dataclass, field

from carnet_core.compartment import implied_compartment
from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest, Issue, TooCostly
from fhir_server.indexing.registry import RESULT_PARAMETERS, SearchParam
from fhir_server.resources import is_supported
from fhir_server.search import compile, cursor
from fhir_server.search.parameters import ParameterCompiler
from fhir_server.store.repository import Store, Stored

SUMMARY_VALUES = ("true", "false", "text", "data", "count")
# Unless `_total=accurate` asks for more, a search's total is counted up to this many matches:
# beyond, Bundle.total is left out and an outcome entry says so (as HAPI FHIR and Google's
# Healthcare API do, a large total is not counted on every page).
TOTAL_COUNT_LIMIT = 1000
TOTAL_VALUES = ("none", "estimate", "accurate")


@dataclass
class Include:
    source_type: str
    param: str
    target_type: str | None
    iterate: bool


@dataclass
class SearchRequest:
    resource_type: str
    filters: list[dict] = field(default_factory=list)
    sort: list[tuple[str, int]] = field(default_factory=lambda: [("_id", 1)])
    count: int = 20
    total: str | None = None  # _total as asked (none, estimate, accurate), else None
    includes: list[Include] = field(default_factory=list)
    revincludes: list[Include] = field(default_factory=list)
    summary: str | None = None
    elements: list[str] | None = None
    cursor: tuple[str, list] | None = None
    link_params: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    path: str | None = None  # the links' path under the base, when not the type's own

    def query(self) -> dict:
        return (
            self.filters[0]
            if len(self.filters) == 1
            else ({"$and": self.filters} if self.filters else {})
        )


def last_cursor(req: SearchRequest) -> str:
    """The `_cursor` of a search's last page (its rows counted back from the end)."""
    return cursor.encode("last", [_signature(req.sort)])


@dataclass
class SearchResult:
    matches: list[Stored]
    included: list[Stored]
    total: int | None
    next_cursor: str | None
    prev_cursor: str | None
    notes: list[Issue] = field(default_factory=list)  # what the Bundle says of its total


class SearchEngine:
    def __init__(self, store: Store, parameters: ParameterCompiler, settings):
        self.store = store
        self.parameters = parameters
        self.registry = parameters.registry
        self.settings = settings

    # -- parsing --------------------------------------------------------------------------------
    def parse(
        self, ctx: AccessContext, resource_type: str, params: list[tuple[str, str]], strict: bool
    ) -> SearchRequest:
        req = SearchRequest(resource_type, count=self.settings.default_count)
        for name, raw in params:
            if name == "_cursor":
                req.cursor = cursor.decode(raw)
                continue
            if raw == "" and name not in ("_summary",):
                continue
            req.link_params.append((name, raw))
            base = name.split(":")[0].split(".")[0]
            if base in RESULT_PARAMETERS:
                self._result_param(req, name, raw)
            elif name.startswith("_has:"):
                req.filters.append(self._has(ctx, resource_type, name, raw))
            else:
                compiled = self._param(ctx, resource_type, name, raw, req)
                if compiled is not None:
                    req.filters.append(compiled)
        pk = implied_compartment(resource_type, params, self.settings.base_url)
        if pk:
            req.filters.append({"pk": pk})
        # The self link shows the parameters actually used (search.html#errors).
        req.link_params = [(n, v) for n, v in req.link_params if n not in req.unknown]
        if req.unknown and strict:
            raise BadRequest(
                f"Unknown search parameter(s) for {resource_type}: {', '.join(req.unknown)}",
                expression=req.unknown,
            )
        return req

    def _int(self, name: str, raw: str) -> int:
        if not raw.isdigit():
            raise BadRequest(
                f"{name} must be a non-negative whole number, not '{raw}'", expression=[name]
            )
        return int(raw)

    def _result_param(self, req: SearchRequest, name: str, raw: str) -> None:
        if name == "_count":
            req.count = min(self._int(name, raw), self.settings.max_count)
        elif name == "_total":
            if raw not in TOTAL_VALUES:
                raise BadRequest(
                    f"_total must be one of {', '.join(TOTAL_VALUES)}", expression=["_total"]
                )
            req.total = raw
        elif name == "_summary":
            if raw not in SUMMARY_VALUES:
                raise BadRequest(
                    f"_summary must be one of {', '.join(SUMMARY_VALUES)}", expression=["_summary"]
                )
            req.summary = raw
        elif name == "_elements":
            req.elements = [e.strip() for e in raw.split(",") if e.strip()]
        elif name == "_sort":
            req.sort = self._sort(req.resource_type, raw)
        elif name.startswith("_include") or name.startswith("_revinclude"):
            self._include(req, name, raw)
        elif name in ("_format", "_pretty"):
            return
        else:
            raise BadRequest(
                f"Search result parameter '{name}' is not supported",
                code="not-supported",
                expression=[name],
            )

    def _sort(self, resource_type: str, raw: str) -> list[tuple[str, int]]:
        sort = []
        for item in raw.split(","):
            descending = item.startswith("-")
            code = item.lstrip("-")
            if code == "_id":
                field_name = "_id"
            elif code == "_lastUpdated":
                field_name = "lu"
            elif self.registry.get(resource_type, code):
                field_name = f"so.{code}"
            else:
                raise BadRequest(
                    f"Cannot sort {resource_type} by unknown parameter '{code}'",
                    expression=["_sort"],
                )
            sort.append((field_name, -1 if descending else 1))
        if not sort or sort[-1][0] != "_id":
            sort.append(("_id", 1))
        return sort

    def _include(self, req: SearchRequest, name: str, raw: str) -> None:
        iterate = name.endswith(":iterate") or name.endswith(":recurse")
        parts = raw.split(":")
        if len(parts) not in (2, 3) or not is_supported(parts[0]):
            raise BadRequest(
                f"{name} takes Type:parameter[:targetType], not '{raw}'", expression=[name]
            )
        source, code = parts[0], parts[1]
        target = parts[2] if len(parts) == 3 else None
        param = self.registry.get(source, code)
        if param is None or param.type != "reference":
            raise BadRequest(
                f"{source} has no reference search parameter '{code}'", expression=[name]
            )
        include = Include(source, code, target, iterate)
        (req.revincludes if name.startswith("_revinclude") else req.includes).append(include)

    def _param(
        self, ctx, resource_type: str, name: str, raw: str, req: SearchRequest
    ) -> dict | None:
        head, _, chain = name.partition(".")
        code, _, modifier = head.partition(":")
        param = self.registry.get(resource_type, code)
        if param is None:
            req.unknown.append(name)
            return None
        modifier = modifier or None
        if chain:
            return self._chain(ctx, param, modifier, chain, raw)
        return self.parameters.plain(param, modifier, name, raw)

    def _ids(self, ctx, resource_type: str, query: dict) -> list[str]:
        docs = self._sub_query(ctx, resource_type, query, {"_id": 1}, "chained or _has")
        return [d["_id"] for d in docs]

    def _sub_query(
        self, ctx, resource_type: str, query: dict, projection: dict, search: str
    ) -> list[dict]:
        """A chain's or `_has`'s inner matches, in id order: beyond max_chain_ids, too costly."""
        limit = self.settings.max_chain_ids
        self.store.check_plan(ctx, resource_type, query, [("_id", 1)], limit + 1)
        docs = self.store.find(
            ctx, resource_type, query, projection=projection, limit=limit + 1, sort=[("_id", 1)]
        )
        if len(docs) > limit:
            raise TooCostly(
                f"The {search} search matches more than {limit} {resource_type} resources; narrow it"
            )
        return docs

    def _chain(self, ctx, param: SearchParam, modifier: str | None, chain: str, raw: str) -> dict:
        """Chaining: `patient.identifier=...`, `subject:Patient.name=...` (search.html#chaining)."""
        if param.type != "reference":
            raise BadRequest(
                f"'{param.code}' is not a reference parameter and cannot be chained",
                expression=[param.code],
            )
        chained_code = chain.split(".")[0].split(":")[0]
        targets = [modifier] if modifier else list(param.targets)
        targets = [t for t in targets if is_supported(t) and self.registry.get(t, chained_code)]
        if not targets:
            raise BadRequest(
                f"Cannot chain '{param.code}.{chain}': no target type has '{chained_code}'",
                expression=[param.code],
            )
        keys = []
        for target in targets:
            inner = self._param(ctx, target, chain, raw, SearchRequest(target))
            for i in self._ids(ctx, target, inner):
                keys += compile.local_keys(param.code, f"{target}/{i}", self.settings.base_url)
        if chain == "identifier":
            # A reference's own identifier names the same target (references.html#logical):
            # `patient.identifier` also finds the documents whose subject carries it, whether or
            # not the caller may read the Patient (a hospital finds what it deposited, by INS).
            keys += [
                compile.reference(param, "identifier", value, self.settings.base_url)["rf"]
                for value in compile.split_or(raw)
            ]
        return {"rf": {"$in": keys}}

    def _has(self, ctx, resource_type: str, name: str, raw: str) -> dict:
        """Reverse chaining: `_has:Type:reference:parameter=value` (search.html#has)."""
        parts = name.split(":", 3)
        if len(parts) != 4 or not is_supported(parts[1]):
            raise BadRequest(
                f"'{name}' is not of the form _has:Type:reference:parameter", expression=[name]
            )
        _, source, ref_code, inner_name = parts
        ref_param = self.registry.get(source, ref_code)
        if ref_param is None or ref_param.type != "reference":
            raise BadRequest(f"{source} has no reference parameter '{ref_code}'", expression=[name])
        inner = SearchRequest(source)
        compiled = self._param(ctx, source, inner_name, raw, inner)
        if inner.unknown or compiled is None:
            raise BadRequest(f"{source} has no search parameter '{inner_name}'", expression=[name])
        prefixes = [f"{ref_code}={resource_type}/"]
        prefixes.append(f"{ref_code}={self.settings.base_url}/{resource_type}/")
        docs = self._sub_query(ctx, source, compiled, {"rf": 1}, "_has")
        ids = sorted(
            {
                k[len(prefix) :]
                for d in docs
                for k in d.get("rf", [])
                for prefix in prefixes
                if k.startswith(prefix) and "/" not in k[len(prefix) :]
            }
        )
        return {"_id": {"$in": ids}}

    # -- execution ------------------------------------------------------------------------------
    def _check_plan(self, ctx, req: SearchRequest, sort: list[tuple[str, int]] | None) -> None:
        """The store's refusal of a search no index serves, told in the terms of the request."""
        query, limit = req.query(), req.count + 1
        try:
            self.store.check_plan(ctx, req.resource_type, query, sort, limit)
        except TooCostly as refused:
            raise _too_costly(req, self._served_in_id_order(ctx, req, sort)) from refused

    def _served_in_id_order(self, ctx, req: SearchRequest, sort) -> bool:
        """Would the search be served were it not for its `_sort`?"""
        if not sort or sort == [("_id", 1)]:
            return False
        try:
            self.store.check_plan(ctx, req.resource_type, req.query(), [("_id", 1)], req.count + 1)
        except TooCostly:
            return False
        return True

    def execute(self, ctx: AccessContext, req: SearchRequest) -> SearchResult:
        query = req.query()
        paging = req.summary != "count" and req.count != 0
        self._check_plan(ctx, req, req.sort if paging else None)
        if req.summary == "count" or req.count == 0:  # the count is what was asked
            total = None
            if req.total != "none" or req.summary == "count":
                total = self.store.count(ctx, req.resource_type, query)
            return SearchResult([], [], total, None, None)
        sort = req.sort
        page_query = query
        direction = "next"
        limit = req.count
        last_total: int | None = None
        if req.cursor:
            direction, keys = req.cursor
            if len(keys) != len(sort) + 1 or keys[-1] != _signature(sort):
                if not (direction == "last" and keys == [_signature(sort)]):
                    raise BadRequest(
                        "The paging cursor belongs to another search order; start the search again",
                        expression=["_cursor"],
                    )
            keys = keys[:-1]
            order = sort if direction == "next" else [(f, -d) for f, d in sort]
            if direction == "last":
                # The last page holds what is left after full pages, as paging forward would:
                # its size needs the count (the link is offered only where the total was known).
                last_total = self.store.count(ctx, req.resource_type, query)
                limit = (last_total - 1) % req.count + 1 if last_total else req.count
            else:
                condition = cursor.keyset(order, keys)
                page_query = {"$and": [query, condition]} if query else condition
            sort = order
        one_record = _one_record(query)
        counted = last_total
        if one_record and req.total != "none" and not req.cursor:
            # One patient's record: its matches are read once, for the page and for the total.
            # Every match if asked, else up to the limit (and at least the page): fewer than
            # that many read means all of them were.
            fetch = 0 if req.total == "accurate" else max(TOTAL_COUNT_LIMIT, req.count) + 1
            docs, matched = self.store.find_counted(
                ctx, req.resource_type, query, sort=sort, page=req.count + 1, limit=fetch
            )
            counted = matched if not fetch or matched < fetch else None
        else:
            docs = self.store.find(ctx, req.resource_type, page_query, sort=sort, limit=limit + 1)
        more = len(docs) > limit
        docs = docs[:limit]
        total, notes = self._total(ctx, req, query, len(docs), more, counted, one_record)
        if direction != "next":
            docs.reverse()
        has_next = more if direction == "next" else direction == "prev"
        has_prev = bool(req.cursor) and (direction == "next" or more)
        sig = [_signature(req.sort)]
        next_cursor = (
            cursor.encode("next", cursor.row_keys(docs[-1], req.sort) + sig)
            if docs and has_next
            else None
        )
        prev_cursor = (
            cursor.encode("prev", cursor.row_keys(docs[0], req.sort) + sig)
            if docs and has_prev
            else None
        )
        matches = [Stored.of_current(req.resource_type, d) for d in docs]
        included = self._includes(ctx, req, docs)
        return SearchResult(matches, included, total, next_cursor, prev_cursor, notes)

    def _total(
        self,
        ctx: AccessContext,
        req: SearchRequest,
        query: dict,
        returned: int,
        more: bool,
        counted: int | None,
        one_record: bool,
    ) -> tuple[int | None, list[Issue]]:
        """Bundle.total, and what the Bundle says when it was not counted (see TOTAL_COUNT_LIMIT).

        Counted only where the caller may see (Store.count applies the policy): never a hint of
        what is hidden.
        """
        if req.total == "none":
            return None, []
        if counted is not None:
            return counted, []
        if not req.cursor and not more:  # the first page holds every match
            return returned, []
        if req.total == "accurate":
            return self.store.count(ctx, req.resource_type, query), []
        if not (one_record and not req.cursor):  # (else its one read went past the limit)
            found = self.store.count(ctx, req.resource_type, query, limit=TOTAL_COUNT_LIMIT + 1)
            if found <= TOTAL_COUNT_LIMIT:
                return found, []
        note = Issue(
            "informational",
            f"Bundle.total is left out: this search matches more than {TOTAL_COUNT_LIMIT} "
            "resources, which are not counted unless asked (_total=accurate)",
            severity="information",
            expression=["_total"],
        )
        return None, [note]

    def _includes(self, ctx, req: SearchRequest, docs: list[dict]) -> list[Stored]:
        seen = {(req.resource_type, d["_id"]) for d in docs}
        out: list[Stored] = []
        frontier = [(req.resource_type, d) for d in docs]
        for depth in range(3):
            found: list[tuple[str, dict]] = []
            for inc in req.includes:
                if depth > 0 and not inc.iterate:
                    continue
                prefix = f"{inc.param}="
                local = f"{inc.param}={self.settings.base_url}/"
                wanted: dict[str, set[str]] = {}
                for source_type, doc in frontier:
                    if source_type != inc.source_type:
                        continue
                    for key in doc.get("rf", []):
                        key = prefix + key[len(local) :] if key.startswith(local) else key
                        if key.startswith(prefix) and key.count("/") == 1:
                            target, _, id = key[len(prefix) :].partition("/")
                            if (
                                is_supported(target)
                                and (inc.target_type in (None, target))
                                and (target, id) not in seen
                            ):
                                wanted.setdefault(target, set()).add(id)
                for target, ids in wanted.items():
                    for d in self.store.find(
                        ctx,
                        target,
                        {"_id": {"$in": sorted(ids)}},
                        limit=self.settings.include_limit,
                    ):
                        if (target, d["_id"]) not in seen:
                            seen.add((target, d["_id"]))
                            found.append((target, d))
            for rev in req.revincludes:
                if depth == 0 or rev.iterate:
                    keys = [
                        k
                        for t, d in frontier
                        for k in compile.local_keys(
                            rev.param, f"{t}/{d['_id']}", self.settings.base_url
                        )
                    ]
                    for d in self.store.find(
                        ctx,
                        rev.source_type,
                        {"rf": {"$in": keys}},
                        sort=[("_id", 1)],
                        limit=self.settings.include_limit,
                    ):
                        if (rev.source_type, d["_id"]) not in seen:
                            seen.add((rev.source_type, d["_id"]))
                            found.append((rev.source_type, d))
            out += [Stored.of_current(t, d) for t, d in found]
            frontier = found
            if not found:
                break
        return out


def _signature(sort: list[tuple[str, int]]) -> str:
    """The search order a cursor was made for, so a cursor cannot be replayed on another."""
    return ",".join(f"{f}:{d}" for f, d in sort)


def unknown_outcome(resource_type: str, names: list[str]) -> Issue:
    return Issue(
        "not-supported",
        f"Search parameter(s) ignored, unknown for {resource_type}: {', '.join(names)}",
        severity="warning",
        expression=names,
    )


def _one_record(query: dict) -> bool:
    """Whether `query` keeps to one patient's record (`pk` equal to one value): a bounded set."""
    parts = query.get("$and", []) if isinstance(query, dict) else []
    return any(
        isinstance(part, dict) and isinstance(part.get("pk"), str) for part in [query, *parts]
    )


NEGATING_MODIFIERS = (":not", ":missing")


def _too_costly(req: SearchRequest, sort_only: bool) -> TooCostly:
    """Why a search is refused, naming its own parameters (never the store's fields or the
    policy's conditions), and what to add."""
    narrow = "add a parameter that narrows it to a few resources (patient, subject, identifier...)"
    if sort_only:
        asked = ",".join(v for n, v in req.link_params if n == "_sort")
        return TooCostly(
            f"Sorting {req.resource_type} by '{asked}' across records cannot be served by an "
            "index: add patient or subject to sort within one record, or leave _sort out "
            "(results then come in the server's order)",
            expression=["_sort"],
        )
    negating = [n for n, _ in req.link_params if n.endswith(NEGATING_MODIFIERS)]
    if negating:
        return TooCostly(
            f"'{', '.join(negating)}' can only filter a search that another parameter narrows: "
            + narrow,
            expression=negating,
        )
    return TooCostly(f"This {req.resource_type} search cannot be served by an index: " + narrow)
