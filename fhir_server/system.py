"""Interactions across every type: system history (http.html#history) and system search
(https://hl7.org/fhir/R4/http.html#search, search.html#all with `_type`).

Each type is read through Store.find and Store.history, so under the consent policy and the
scopes, as a type-level interaction would: a hidden resource is in no page, total nor link.
"""

from datetime import datetime

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest, Forbidden
from fhir_server import multitype, resources
from fhir_server.bundles import history_page, history_params, page_bundle
from fhir_server.indexing.registry import RESULT_PARAMETERS
from fhir_server.interactions import Interactions, Reply
from fhir_server.search import cursor
from fhir_server.search.engine import unknown_outcome

# The result parameters a search across types takes (no _sort, _include nor _revinclude: its
# order is fixed, by type then id).
SYSTEM_RESULT_PARAMETERS = ("_count", "_total", "_summary", "_elements", "_format", "_pretty")


def _granted(ctx: AccessContext, interaction: str) -> list[str]:
    """The types some scope grants `interaction` on; 403 when there is none."""
    types = [t for t in resources.SUPPORTED_TYPES if ctx.scopes.grants(t, interaction)]
    if not types:
        raise Forbidden(f"The access token has no scope allowing {interaction} on any type")
    return types


def _history_start(token: str, types: list[str]) -> tuple[datetime, str, str]:
    _, keys = cursor.decode(token)
    valid = (
        len(keys) == 3
        and isinstance(keys[0], datetime)
        and keys[1] in types
        and isinstance(keys[2], str)
    )
    if not valid:
        raise BadRequest(
            "The paging cursor is not valid; start the history again", expression=["_cursor"]
        )
    return keys[0], keys[1], keys[2]


def history(interactions: Interactions, ctx: AccessContext, params: list[tuple[str, str]]) -> Reply:
    """`GET [base]/_history`: every version the caller may see, newest first, ordered by
    (lastUpdated, type, version key) and paged by that key."""
    types = _granted(ctx, "history-type")
    since, _, count = history_params(params, interactions.engine.settings)
    token = next((v for k, v in params if k == "_cursor"), None)
    start = _history_start(token, types) if token else None
    rows = []
    for resource_type in types:
        before = None
        if start is not None:
            lu, last_type, key = start
            # Same instant: the types after the cursor's (descending) show all their rows.
            before = (lu, key if resource_type == last_type else "")
            if resource_type < last_type:
                before = (lu, "\uffff")
        rows += interactions.store.history(
            ctx, resource_type, None, since=since, before=before, limit=count + 1
        )
    rows.sort(key=lambda s: (s.last_updated, s.resource_type, s.doc["_id"]), reverse=True)
    bundle = history_page(
        interactions,
        "_history",
        params,
        rows[: count + 1],
        count,
        lambda s: [s.last_updated, s.resource_type, s.doc["_id"]],
    )
    return Reply(200, bundle)


def _types(value: str) -> list[str]:
    types = list(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    unknown = [t for t in types if not resources.is_supported(t)]
    if not types or unknown:
        raise BadRequest(
            f"_type must list resource types this server supports; not {', '.join(unknown)}",
            expression=["_type"],
        )
    return types


def search(
    interactions: Interactions,
    ctx: AccessContext,
    params: list[tuple[str, str]],
    *,
    strict: bool = False,
) -> Reply:
    """`GET [base]?_type=A,B&...`: the parameters every listed type defines, on each of them."""
    type_value = next((v for k, v in params if k == "_type"), None)
    if type_value is None:
        raise BadRequest("A search of the whole server needs _type", expression=["_type"])
    types = _types(type_value)
    for resource_type in types:
        interactions.check_type(ctx, resource_type, "search-type")
    registry = interactions.engine.registry
    kept, unknown = [], []
    for name, value in params:
        code = name.split(":")[0].split(".")[0]
        if name in ("_type", "_cursor"):
            continue
        if code in RESULT_PARAMETERS and code not in SYSTEM_RESULT_PARAMETERS:
            raise BadRequest(f"{code} is not supported in a search across types", expression=[name])
        common = code in RESULT_PARAMETERS or all(registry.get(t, code) for t in types)
        (kept if common else unknown).append((name, value))
    if unknown and strict:
        names = [n for n, _ in unknown]
        raise BadRequest(
            f"Search parameter(s) not defined on every type of _type: {', '.join(names)}",
            expression=names,
        )
    requests = [interactions.engine.parse(ctx, t, kept, strict) for t in types]
    first = requests[0]
    parts = [multitype.Part(r.resource_type, r.query()) for r in requests]
    token = next((v for k, v in params if k == "_cursor"), None)
    total = first.total != "none" or first.summary == "count"
    count = 0 if first.summary == "count" else first.count
    found = multitype.page(interactions.store, ctx, parts, count, token, total)
    link_params = [("_type", ",".join(types)), *first.link_params]
    warnings = [unknown_outcome(", ".join(types), [n for n, _ in unknown])] if unknown else []
    bundle = page_bundle(
        interactions,
        "",
        link_params,
        [("match", stored) for stored in found.rows],
        total=found.total,
        cursors=(token, found.next_cursor, None),
        shape=(first.summary, first.elements),
        warnings=warnings,
    )
    return Reply(200, bundle)
