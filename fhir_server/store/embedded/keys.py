"""Index keys of the embedded store: each BSON value as one SQLite value that sorts within its type.

An index entry only narrows a query to candidates; every candidate is then matched against the
whole filter (MongoDB's query language, evaluated by mongomock's matcher). So a key may be shared
by values that differ (a big integer and its float), but equal values always share a key.
Types are told apart by a one-letter prefix on text keys; numbers are SQLite REALs, which sort
before all text. https://www.mongodb.com/docs/manual/reference/bson-type-comparison-order/
"""

import datetime
import decimal
import hashlib
import math

import bson
from bson.decimal128 import Decimal128
from bson.objectid import ObjectId

NULL = "n"  # a missing field, null, or an empty array
NUMBERS = (float("-inf"), "")  # every REAL sorts below the empty text
_TAGS = {"string": "s", "date": "d", "bool": "b", "oid": "o", "other": "x"}


def encode(value) -> float | str | None:
    """The key of one scalar value; None when the value cannot be keyed (it is not narrowed on)."""
    if value is None:
        return NULL
    if isinstance(value, bool):
        return "b1" if value else "b0"
    if isinstance(value, Decimal128):
        value = value.to_decimal()
    if isinstance(value, int | float | decimal.Decimal):
        try:
            number = float(value)
        except (OverflowError, ValueError):
            return None
        return None if math.isnan(number) else number
    if isinstance(value, str):
        return "s" + value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(datetime.UTC).replace(tzinfo=None)
        # MongoDB keeps milliseconds: a key never separates what the store makes equal.
        value = value.replace(microsecond=value.microsecond // 1000 * 1000)
        return "d" + value.isoformat(timespec="milliseconds")
    if isinstance(value, ObjectId):
        return "o" + str(value)
    if isinstance(value, dict | bytes):
        blob = bson.encode({"v": value})
        return "x" + hashlib.sha1(blob, usedforsecurity=False).hexdigest()
    return None


def band(key: float | str) -> tuple[float | str, str]:
    """The [low, high) range of keys holding every value of `key`'s type."""
    if isinstance(key, float):
        return NUMBERS
    tag = key[0]
    return tag, chr(ord(tag) + 1)


def values_at(doc, path: str) -> list:
    """Every value a dotted path reaches in a document, arrays expanded (MongoDB multikey)."""
    nodes = [doc]
    for part in path.split("."):
        reached = []
        for node in nodes:
            if isinstance(node, dict):
                if part in node:
                    reached.append(node[part])
            elif isinstance(node, list):
                reached.extend(
                    item[part] for item in node if isinstance(item, dict) and part in item
                )
                if part.isdigit() and int(part) < len(node):
                    reached.append(node[int(part)])
        nodes = reached
    values = []
    for node in nodes:
        if isinstance(node, list):
            values.extend(node)
            if any(isinstance(item, list) for item in node):
                values.append(node)
        else:
            values.append(node)
    return values


def entry_keys(doc: dict, fields: list[str]) -> set[tuple]:
    """The index keys of a document for a compound index on `fields` (a superset of MongoDB's)."""
    rows: set[tuple] = {()}
    for field in fields:
        keys = {encode(v) for v in values_at(doc, field)}
        keys.discard(None)
        if not keys:
            keys = {NULL}
        rows = {row + (key,) for row in rows for key in keys}
    return rows
