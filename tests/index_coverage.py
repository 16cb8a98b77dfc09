"""Is a MongoDB query served by one of the indexes the server declares?

A static reading of the query, valid on the embedded store too: a query is served when one of its
conditions can bound an index scan on the leading field of a declared index (or `_id`), or, for an
`$or`, when every branch is served. On a real MongoDB (MONGODB_URI set) `explain()` confirms it.
"""

from fhir_server.store.claims import COLLECTION as CLAIMS
from fhir_server.store.indexes import CLAIM_INDEXES, CURRENT_INDEXES, HISTORY_INDEXES

SARGABLE_OPERATORS = {"$eq", "$in", "$gt", "$gte", "$lt", "$lte", "$ne", "$nin", "$all"}


def leading_fields(collection: str) -> set[str]:
    if collection == CLAIMS:
        declared = CLAIM_INDEXES
    elif collection.endswith("_history"):
        declared = HISTORY_INDEXES
    else:
        declared = CURRENT_INDEXES
    return {keys[0][0] for keys in declared.values()} | {"_id"}


def _bounded_fields(field: str, condition) -> set[str]:
    """The index fields a condition on `field` can bound."""
    if not isinstance(condition, dict) or not any(k.startswith("$") for k in condition):
        return {field}
    out: set[str] = set()
    for op, value in condition.items():
        if op in SARGABLE_OPERATORS:
            out.add(field)
        elif op == "$regex" and isinstance(value, str) and value.startswith("^"):
            out.add(field)
        elif op == "$elemMatch" and isinstance(value, dict):
            out |= {f"{field}.{sub}" for sub in value if not sub.startswith("$")}
    return out


def served(query: dict, leading: set[str]) -> bool:
    fields: set[str] = set()
    for key, value in query.items():
        if key == "$and":
            if any(served(part, leading) for part in value):
                return True
        elif key == "$or":
            if value and all(served(part, leading) for part in value):
                return True
        elif not key.startswith("$"):
            fields |= _bounded_fields(key, value)
    return bool(fields & leading)


def unserved(queries: list[tuple[str, dict, list | None]]) -> list[tuple[str, dict, list | None]]:
    bad = []
    for collection, query, sort in queries:
        leading = leading_fields(collection)
        if query:
            ok = served(query, leading)
        else:
            ok = bool(sort) and sort[0][0] in leading
        if not ok:
            bad.append((collection, query, sort))
    return bad


def collscans(db, queries) -> list:
    """On a real MongoDB: the queries whose winning plan scans the collection."""
    bad = []
    for collection, query, sort in queries:
        cursor = db[collection].find(query)
        if sort:
            cursor = cursor.sort(sort)
        plan = cursor.explain().get("queryPlanner", {}).get("winningPlan", {})
        if "COLLSCAN" in repr(plan):
            bad.append((collection, query, sort))
    return bad
