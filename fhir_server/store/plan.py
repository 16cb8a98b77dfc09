"""Would a query be served by a declared index, the way MongoDB's planner uses a compound index?

https://www.mongodb.com/docs/manual/tutorial/equality-sort-range-guideline/ - an index serves a
query when its leading fields are bound by the query's equalities, then give the sort, then bound
one range. Checked here without a server, from the query and the declared indexes alone, so the
answer is the same on the embedded store and on MongoDB:
- the scan must be bounded: an equality on a leading field (a parameter-name field such as `dt.p`
  counts only with a condition on the field after it), or a range on the first unbound field;
- a sort must come from the index (after the equality prefix; an `$in` of at most MAX_EXPLODE
  values keeps the order by merging), or sort a bounded set (one record `pk`, listed ids), or be a
  top-k sort of at most SMALL_LIMIT documents behind a range, which no index can order past;
- negations (`$ne`, `$nin`, `$not`, `$nor`, `$exists: false`) and unanchored patterns only filter
  what an equality on an index prefix has bounded;
- an `$or` is served when the query is served without it, or when every branch (with the rest of
  the query) is.
`check` returns None when the query is served, else why not, naming what index it lacks.
"""

import re
from dataclasses import dataclass, field

MAX_EXPLODE = 200  # MongoDB merges at most this many point scans to keep an index's order
SMALL_LIMIT = 1001  # a page (200 + 1), a chain's or an include's sub-query (1000 + 1)
BOUNDING = frozenset({"_id", "pk", "id"})  # an equality on these bounds the set: ids, one record
# Fields holding a search parameter's name: their equality selects a parameter, not a value.
NAME_FIELDS = frozenset({"dt.p", "nq.p", "has"})

EQ, RANGE = "equality", "range"


@dataclass(frozen=True)
class Index:
    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False

    def __str__(self) -> str:
        return "(" + ", ".join(f + ("" if d == 1 else " desc") for f, d in self.keys) + ")"


ID_INDEX = Index("_id_", (("_id", 1),), unique=True)


@dataclass
class _Condition:
    kind: str  # EQ or RANGE
    points: int = 1  # how many values an equality ($in) names


@dataclass
class _Conjunction:
    fields: dict[str, _Condition] = field(default_factory=dict)
    negations: list[str] = field(default_factory=list)
    alternatives: list[int] = field(default_factory=list)  # positions of `$or` parts
    parts: list[dict] = field(default_factory=list)


def _anchored(pattern, options) -> bool:
    """Does the pattern fix the start of a value? (Search keys are `name=value`: a pattern fixing
    only `name=`, as `^name=.*needle`, selects a parameter, not a value.)"""
    if isinstance(pattern, re.Pattern):
        pattern, options = pattern.pattern, "i" if pattern.flags & re.IGNORECASE else ""
    if not isinstance(pattern, str) or not pattern.startswith("^") or "i" in (options or ""):
        return False
    literal = re.match(r"\^((?:\\.|[^.^$*+?{}\[\]|()\\])*)", pattern).group(1)
    return bool(literal) and not literal.endswith("=")


def _add(conj: _Conjunction, path: str, condition: _Condition) -> None:
    have = conj.fields.get(path)
    if have is None or (have.kind == RANGE and condition.kind == EQ):
        conj.fields[path] = condition
    elif have.kind == EQ and condition.kind == EQ and condition.points < have.points:
        conj.fields[path] = condition


def _operators(conj: _Conjunction, path: str, ops: dict) -> None:
    for op, value in ops.items():
        if op == "$eq" or op == "$all":
            _add(conj, path, _Condition(EQ))
        elif op == "$in":
            if any(isinstance(v, re.Pattern) and not _anchored(v, "") for v in value):
                conj.negations.append(f"an unanchored pattern on {path}")
            else:
                _add(conj, path, _Condition(EQ, len(value)))
        elif op in ("$gt", "$gte", "$lt", "$lte"):
            _add(conj, path, _Condition(RANGE))
        elif op == "$regex":
            if _anchored(value, ops.get("$options")):
                _add(conj, path, _Condition(RANGE))
            else:
                conj.negations.append(f"an unanchored pattern on {path}")
        elif op in ("$ne", "$nin", "$not") or (op == "$exists" and not value):
            conj.negations.append(f"{op} on {path}")
        elif op == "$elemMatch" and isinstance(value, dict):
            if all(k.startswith("$") for k in value):
                _operators(conj, path, value)
            else:
                _collect(conj, value, path + ".", top=False)
        # $options, $exists: true, $size, $type...: a filter on what the bounds read


def _collect(conj: _Conjunction, query: dict, prefix: str = "", top: bool = True) -> None:
    for key, value in query.items():
        if key == "$and":
            for part in value:
                _collect(conj, part, prefix, top)
        elif key == "$or":
            if top:
                conj.alternatives.append(len(conj.parts))
                conj.parts.append({key: value})
        elif key == "$comment":
            continue
        elif key.startswith("$"):
            conj.negations.append(f"{key}, which no index serves")
        else:
            if top:
                conj.parts.append({key: value})
            path = prefix + key
            if isinstance(value, re.Pattern):
                if _anchored(value, ""):
                    _add(conj, path, _Condition(RANGE))
                else:
                    conj.negations.append(f"an unanchored pattern on {path}")
            elif isinstance(value, dict) and value and all(k.startswith("$") for k in value):
                _operators(conj, path, value)
            else:
                _add(conj, path, _Condition(EQ))


def _rest(conj: _Conjunction, position: int) -> list[dict]:
    return [part for i, part in enumerate(conj.parts) if i != position]


def _with_index(
    index: Index, conj: _Conjunction, sort: list[tuple[str, int]], limit: int
) -> str | None:
    """None when `index` serves the conjunction (its `$or`s left as filters), else why not."""
    prefix, orderable = 0, True
    for name, _ in index.keys:
        condition = conj.fields.get(name)
        if condition is None or condition.kind != EQ:
            break
        prefix += 1
        orderable = orderable and condition.points <= MAX_EXPLODE
    bound = [name for name, _ in index.keys[:prefix]]
    selective = any(name not in NAME_FIELDS for name in bound)
    after = index.keys[prefix][0] if prefix < len(index.keys) else None
    ranged = after is not None and getattr(conj.fields.get(after), "kind", None) == RANGE
    if conj.negations and not selective:
        return f"nothing bounds a scan of {index} for its negation"
    if not (selective or ranged):
        if not conj.fields and not conj.negations and not conj.alternatives and not sort:
            return None if 0 < limit <= SMALL_LIMIT else "it reads the whole collection"
        if conj.fields or conj.negations or conj.alternatives or not _orders(index, 0, sort):
            return f"nothing bounds a scan of {index}"
        # An unfiltered read in index order stops after `limit` entries.
        return None if 0 < limit <= SMALL_LIMIT else "it reads the whole collection in order"
    fixed = {n for n, c in conj.fields.items() if c.kind == EQ and c.points == 1}
    wanted = [(f, d) for f, d in sort if f not in fixed]
    if not wanted or (orderable and _orders(index, prefix, wanted)):
        return None
    if any(_bounds(name, conj.fields[name]) for name in bound) or (
        index.unique and prefix == len(index.keys)
    ):
        return None  # a bounded set: listed ids, one record or a few
    if (ranged or not orderable) and 0 < limit <= SMALL_LIMIT:
        return None  # a top-k sort behind a range: nothing can order past one
    fields = ", ".join([*bound, *(f for f, _ in wanted)])
    return f"its sort {_sort_text(sort)} needs an index ({fields}) to page in order"


def _bounds(name: str, condition: _Condition) -> bool:
    """Does an equality on `name` bound the set a blocking sort sorts? Listed ids do; records
    (`pk`) only a few at a time (beyond, as many documents as their whole records hold)."""
    return name in BOUNDING and (name != "pk" or condition.points <= MAX_EXPLODE)


def _orders(index: Index, start: int, sort: list[tuple[str, int]]) -> bool:
    keys = index.keys[start : start + len(sort)]
    if [f for f, _ in keys] != [f for f, _ in sort]:
        return False
    same = [d1 == d2 for (_, d1), (_, d2) in zip(keys, sort, strict=True)]
    return all(same) or not any(same)


def _sort_text(sort: list[tuple[str, int]]) -> str:
    return ",".join(("-" if d < 0 else "") + f for f, d in sort)


def check(
    indexes: list[Index],
    query: dict | None,
    sort: list[tuple[str, int]] | None = None,
    limit: int = 0,
) -> str | None:
    """None when one of `indexes` (or `_id`'s) serves `query` sorted by `sort`, else why not."""
    conj = _Conjunction()
    _collect(conj, query or {})
    sort, limit = list(sort or []), abs(limit)
    reasons = []
    for index in [ID_INDEX, *indexes]:
        reason = _with_index(index, conj, sort, limit)
        if reason is None:
            return None
        reasons.append(reason)
    for position in conj.alternatives:
        branches = conj.parts[position]["$or"]
        why = [
            check(indexes, {"$and": [*_rest(conj, position), branch]}, sort, limit)
            for branch in branches
        ]
        if not any(why):
            return None
        reasons.insert(0, f"a branch of its $or: {next(w for w in why if w)}")
    return _best(reasons, conj, indexes, sort)


def _best(reasons: list[str], conj: _Conjunction, indexes: list[Index], sort: list) -> str:
    """The most telling reason: a sort's or a negation's before 'nothing bounds'."""
    for reason in reasons:
        if not reason.startswith("nothing bounds") and not reason.startswith("it reads"):
            return reason
    if conj.negations:
        return f"{conj.negations[0]} with no equality on an index prefix to bound it"
    if sort and not conj.fields:
        return f"nothing narrows it and no declared index is in the order {_sort_text(sort)}"
    if conj.fields:
        declared = ", ".join(str(index) for index in indexes) or "none"
        return (
            f"no declared index begins with a field it bounds ({', '.join(conj.fields)}); "
            f"declared: {declared}"
        )
    return reasons[-1]
