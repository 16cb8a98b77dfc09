"""Keyset paging cursors: https://hl7.org/fhir/R4/http.html#paging

A page link carries the sort key of the last (or first) row it showed, never an offset, so rows
written meanwhile do not shift pages. The token is opaque to clients and only ever becomes values
in a query; the consent predicate still applies to every page.
"""

import base64
import json
from datetime import datetime

from carnet_core.errors import BadRequest

MATCH_NOTHING = {"_id": {"$in": []}}


def _encode_value(value):
    return {"$d": value.isoformat()} if isinstance(value, datetime) else value


def _decode_value(value):
    if isinstance(value, dict) and "$d" in value:
        return datetime.fromisoformat(value["$d"])
    if isinstance(value, (str, int, float)) or value is None:
        return value
    raise ValueError("bad cursor value")


def encode(direction: str, keys: list) -> str:
    raw = json.dumps({"d": direction, "k": [_encode_value(v) for v in keys]}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(token: str) -> tuple[str, list]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        direction = data["d"]
        if direction not in ("next", "prev", "last"):
            raise ValueError(direction)
        return direction, [_decode_value(v) for v in data["k"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise BadRequest(
            "The paging cursor is not valid; start the search again", expression=["_cursor"]
        ) from exc


def _after(field: str, value, ascending: bool) -> dict:
    """Rows strictly after `value` in this key's order (MongoDB sorts missing values first)."""
    if ascending:
        return {field: {"$ne": None}} if value is None else {field: {"$gt": value}}
    if value is None:
        return MATCH_NOTHING
    return {"$or": [{field: {"$lt": value}}, {field: None}]}


def keyset(sort: list[tuple[str, int]], keys: list) -> dict:
    """The predicate for rows after `keys` in the order `sort` (the last sort key is unique)."""
    alternatives = []
    for i, (field, direction) in enumerate(sort):
        clause = [{f: keys[j]} for j, (f, _) in enumerate(sort[:i])]
        clause.append(_after(field, keys[i], direction == 1))
        alternatives.append(clause[0] if len(clause) == 1 else {"$and": clause})
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def row_keys(doc: dict, sort: list[tuple[str, int]]) -> list:
    out = []
    for field, _ in sort:
        value = doc
        for part in field.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        out.append(value)
    return out
