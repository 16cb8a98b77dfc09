"""From a MongoDB filter to the index lookup that narrows it, as MongoDB's planner would choose.

https://www.mongodb.com/docs/manual/core/query-plans/ - equality fields first, then one range;
`$or` is the union of its branches when every branch has an index. Whatever a lookup cannot
express (negations, `$exists`, unanchored patterns) is left to the matcher that checks every
candidate, so a plan only ever returns a superset of the answer.
"""

import re
from dataclasses import dataclass, field

from fhir_server.store.embedded.keys import band, encode

_META = set(".^$*+?{}[]|()\\")


@dataclass
class Condition:
    """What one field must satisfy: one of `keys` (equality), or within [low, high]."""

    keys: list | None = None
    low: object = None
    high: object = None
    high_open: bool = False  # high excluded (a prefix's end), else included


@dataclass
class Conjunction:
    fields: dict[str, Condition] = field(default_factory=dict)
    alternatives: list[list["Conjunction"]] = field(default_factory=list)  # each an $or


@dataclass
class Lookup:
    """One index lookup: the index, then per key column its condition, in index order."""

    index: object  # an IndexDef, or None for the primary key
    columns: list[Condition]


def conjunction(query: dict, prefix: str = "") -> Conjunction:
    out = Conjunction()
    _collect(query, prefix, out)
    return out


def _collect(query: dict, prefix: str, out: Conjunction) -> None:
    if not isinstance(query, dict):
        return
    for key, value in query.items():
        if key == "$and" and isinstance(value, list):
            for part in value:
                _collect(part, prefix, out)
        elif key == "$or" and isinstance(value, list):
            out.alternatives.append([conjunction(part, prefix) for part in value])
        elif key.startswith("$"):
            continue  # $nor, $expr, $text...: left to the matcher
        else:
            _field(prefix + key, value, out)


def _field(path: str, value, out: Conjunction) -> None:
    if isinstance(value, re.Pattern):
        condition = _prefix(value.pattern, value.flags)
    elif isinstance(value, dict) and value and all(k.startswith("$") for k in value):
        condition = _operators(path, value, out)
    elif isinstance(value, dict | list):
        condition = None  # a whole sub-document or array: left to the matcher
    else:
        key = encode(value)
        condition = Condition(keys=[key]) if key is not None else None
    if condition is not None and path not in out.fields:
        out.fields[path] = condition


def _operators(path: str, ops: dict, out: Conjunction) -> Condition | None:
    if "$eq" in ops and not isinstance(ops["$eq"], dict | list):
        key = encode(ops["$eq"])
        return Condition(keys=[key]) if key is not None else None
    if "$in" in ops and isinstance(ops["$in"], list):
        keys = [encode(v) for v in ops["$in"]]
        if all(k is not None for k in keys) and not any(
            isinstance(v, dict | list | re.Pattern) for v in ops["$in"]
        ):
            return Condition(keys=keys)
    if "$elemMatch" in ops and isinstance(ops["$elemMatch"], dict):
        match = ops["$elemMatch"]
        if all(k.startswith("$") for k in match):
            return _operators(path, match, out)
        inner = conjunction(match, path + ".")
        for sub, condition in inner.fields.items():
            out.fields.setdefault(sub, condition)
        return None
    if "$regex" in ops:
        return _prefix(ops["$regex"], ops.get("$options", ""))
    return _range(ops)


def _range(ops: dict) -> Condition | None:
    low = next((encode(ops[op]) for op in ("$gt", "$gte") if op in ops), None)
    high = next((encode(ops[op]) for op in ("$lt", "$lte") if op in ops), None)
    if low is None and high is None:
        return None
    lo_band, hi_band = band(low if low is not None else high)
    # Bounds are kept inclusive: a key may stand for several values (see keys.encode).
    if high is None:
        return Condition(low=low, high=hi_band, high_open=True)
    return Condition(low=low if low is not None else lo_band, high=high)


def _prefix(pattern, flags) -> Condition | None:
    """An anchored pattern's literal start as a range of string keys."""
    if isinstance(pattern, re.Pattern):
        pattern, flags = pattern.pattern, pattern.flags
    if not isinstance(pattern, str) or not pattern.startswith("^"):
        return None
    if isinstance(flags, str):
        if set(flags) & set("imx"):
            return None
    elif flags & (re.IGNORECASE | re.MULTILINE | re.VERBOSE):
        return None
    literal, i = [], 1
    while i < len(pattern):
        char = pattern[i]
        if char == "\\" and i + 1 < len(pattern) and not pattern[i + 1].isalnum():
            literal.append(pattern[i + 1])
            i += 2
            continue
        if char in _META:
            if char in "*?{" and literal:
                literal.pop()  # the previous character is optional or repeated
            break
        literal.append(char)
        i += 1
    if not literal:
        return None
    text = "".join(literal)
    end = text[:-1] + chr(ord(text[-1]) + 1)
    return Condition(low="s" + text, high="s" + end, high_open=True)


def plan(query: dict, indexes: list) -> list[Lookup] | None:
    """The lookups whose union holds every match of `query`, or None: read the whole collection."""
    return _plan(conjunction(query), indexes)


def _plan(conj: Conjunction, indexes: list) -> list[Lookup] | None:
    best = _best(conj.fields, indexes)
    if best is not None and (best[0] >= 2 or not conj.alternatives):
        return [best[1]]
    for branches in conj.alternatives:
        union = []
        for branch in branches:
            inner = Conjunction(dict(conj.fields), [*branch.alternatives])
            inner.fields.update(branch.fields)
            lookups = _plan(inner, indexes)
            if lookups is None:
                break
            union.extend(lookups)
        else:
            return union
    return [best[1]] if best is not None else None


def _best(fields: dict[str, Condition], indexes: list) -> tuple[int, Lookup] | None:
    if "_id" in fields and fields["_id"].keys is not None:
        return 100, Lookup(None, [fields["_id"]])
    best = None
    for index in indexes:
        columns: list[Condition] = []
        score = 0
        for name in index.fields:
            condition = fields.get(name)
            if condition is None:
                break
            columns.append(condition)
            if condition.keys is None:
                score += 1
                break
            score += 2
        if columns and (best is None or score > best[0]):
            best = score, Lookup(index, columns)
    return best


def plan_order(query: dict, indexes: list, sort_field: str) -> Lookup | None:
    """An index lookup giving `query`'s candidates in `sort_field` order: the index's fields are
    equality conditions of the query, then `sort_field` (MongoDB's equality-sort prefix)."""
    fields = conjunction(query).fields
    best = None
    for index in indexes:
        if len(index.fields) < 2 or index.fields[-1] != sort_field:
            continue
        columns = [fields.get(name) for name in index.fields[:-1]]
        if all(c is not None and c.keys is not None and len(c.keys) == 1 for c in columns):
            if best is None or len(columns) > len(best.columns):
                best = Lookup(index, columns)
    return best
