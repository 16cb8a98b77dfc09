"""Pages of a search over several resource types at once: https://hl7.org/fhir/R4/http.html#paging

System search (`GET [base]?_type=A,B`, search.html#all) and `Patient/[id]/$everything` read one
query per type, each through Store.find and so under the consent policy and the scopes. Their
results are ordered by type (in the order given) then by id, and paged by a keyset cursor naming
the last row shown: its type's position and its id, with the list of types it was made for.
"""

from dataclasses import dataclass

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest
from fhir_server.search import cursor
from fhir_server.store.repository import Store, Stored


@dataclass(frozen=True)
class Part:
    """One type's share of the search: its query (without the policy, which the store adds)."""

    resource_type: str
    query: dict


@dataclass
class Page:
    rows: list[Stored]
    next_cursor: str | None
    total: int | None


def _signature(parts: list[Part]) -> str:
    return ",".join(p.resource_type for p in parts)


def _start(parts: list[Part], token: str | None) -> tuple[int, str | None]:
    """Where a page starts: the type's position and the last id shown of it."""
    if not token:
        return 0, None
    direction, keys = cursor.decode(token)
    valid = (
        direction == "next"
        and len(keys) == 3
        and keys[2] == _signature(parts)
        and isinstance(keys[0], int)
        and 0 <= keys[0] < len(parts)
        and isinstance(keys[1], str)
    )
    if not valid:
        raise BadRequest(
            "The paging cursor belongs to another search; start the search again",
            expression=["_cursor"],
        )
    return keys[0], keys[1]


def page(
    store: Store,
    ctx: AccessContext,
    parts: list[Part],
    count: int,
    token: str | None = None,
    total: bool = True,
) -> Page:
    """One page of `count` rows of `parts` after the cursor `token`, and the next page's cursor."""
    sum_ = sum(store.count(ctx, p.resource_type, p.query) for p in parts) if total else None
    if count == 0:
        return Page([], None, sum_)
    first, after = _start(parts, token)
    found: list[tuple[int, Stored]] = []
    for index in range(first, len(parts)):
        part = parts[index]
        query = part.query
        if index == first and after is not None:
            beyond = {"_id": {"$gt": after}}
            query = {"$and": [query, beyond]} if query else beyond
        docs = store.find(
            ctx, part.resource_type, query, sort=[("_id", 1)], limit=count + 1 - len(found)
        )
        found += [(index, Stored.of_current(part.resource_type, d)) for d in docs]
        if len(found) > count:
            break
    more = len(found) > count
    found = found[:count]
    next_cursor = None
    if more:
        index, last = found[-1]
        next_cursor = cursor.encode("next", [index, last.id, _signature(parts)])
    return Page([stored for _, stored in found], next_cursor, sum_)
