"""Compilation of search parameters into MongoDB predicates: https://hl7.org/fhir/R4/search.html

Input values only ever become values in a query (escaped when they go into a regular expression),
never keys or operators. One function per parameter type; prefixes and modifiers per the spec.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime

from carnet_core import dates
from carnet_core.errors import BadRequest, TooCostly
from fhir_server.indexing import values
from fhir_server.indexing.registry import SearchParam

DATE_PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
MODIFIERS = {
    "token": {"not", "text", "of-type", "missing"},
    "reference": {"missing", "identifier"},
    "date": {"missing"},
    "string": {"exact", "contains", "missing"},
    "quantity": {"missing"},
    "number": {"missing"},
    "uri": {"missing"},
}


def split_or(raw: str) -> list[str]:
    """Split on unescaped commas (search.html#escaping).

    `\\,` becomes a plain comma; the other escapes (`\\|` `\\$` `\\\\`) are kept for
    `split_pipes` / `unescape`, so an escaped pipe is never taken for a system separator.
    """
    return _split(raw, ",", ",")


def split_pipes(value: str) -> list[str]:
    """Split one value on unescaped `|`, resolving the escapes `\\|` `\\$` `\\\\`."""
    return _split(value, "|", "|$\\,")


def _split(raw: str, separator: str, resolved: str) -> list[str]:
    """Split on unescaped `separator`; escapes of the characters in `resolved` are resolved,
    other escapes kept as written for a later step."""
    parts, current, escaped = [], "", False
    for ch in raw:
        if escaped:
            current += ch if ch in resolved else "\\" + ch
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == separator:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current + ("\\" if escaped else ""))
    return parts


def unescape(value: str) -> str:
    """The value with its escapes resolved, for types where `|` has no meaning."""
    return "|".join(split_pipes(value))


def _split_prefix(value: str, allowed=DATE_PREFIXES) -> tuple[str, str]:
    if len(value) > 2 and value[:2] in allowed and not value[:2].isdigit():
        return value[:2], value[2:]
    return "eq", value


def any_of(alternatives: list[dict]) -> dict:
    """The predicate matching any of `alternatives` (a parameter's comma-separated values)."""
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def _bad(param: SearchParam, value: str, why: str) -> BadRequest:
    return BadRequest(
        f"Invalid value '{value}' for search parameter '{param.code}': {why}",
        expression=[param.code],
    )


def token(param: SearchParam, modifier: str | None, value: str) -> dict:
    code = param.code
    if modifier == "text":
        needle = values.key(code, values.normalize(unescape(value)))
        return {"tt": {"$regex": "^" + re.escape(needle)}}
    parts = split_pipes(value)
    if modifier == "of-type":
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise _bad(param, value, ":of-type takes system|code|value")
        return {"tk": values.key(f"{code}:of-type", values.joined(*parts))}
    if param.code == "_id":
        id = "|".join(parts)
        return {"_id": {"$ne": id}} if modifier == "not" else {"_id": id}
    if len(parts) > 2:
        raise _bad(param, value, "a token is [system|]code; escape a literal '|' as '\\|'")
    if len(parts) == 2:
        if not parts[0] and not parts[1]:
            raise _bad(param, value, "empty system and code")
        key = values.key(code, values.joined(parts[0], parts[1]))
    else:
        key = values.key(code, values.part(parts[0]))
    if modifier == "not":
        return {"tk": {"$ne": key}}
    return {"tk": key}


def uri(param: SearchParam, modifier: str | None, value: str) -> dict:
    return {"tk": values.key(param.code, unescape(value))}


def string(param: SearchParam, modifier: str | None, value: str) -> dict:
    value = unescape(value)
    if modifier == "exact":
        return {"se": values.key(param.code, value)}
    if modifier == "contains":
        # A substring can start anywhere: no index on the values serves it (only a scan of every
        # value of the parameter would), so it is refused rather than run (README, "Strings").
        raise TooCostly(
            f"'{param.code}:contains' is not supported: it cannot be served by an index; "
            f"search '{param.code}' by its start (the default) or with ':exact'",
            expression=[f"{param.code}:contains"],
        )
    prefix = re.escape(values.key(param.code, ""))
    needle = re.escape(values.normalize(value))
    return {"st": {"$regex": f"^{prefix}{needle}"}}


def _date_condition(prefix: str, lo: datetime, hi: datetime) -> dict:
    """A stored value's range [lo, hi] against the searched one, each as a range on the field an
    index orders (fhir_server.store.indexes: `dt` on the start, `dt_hi` on the end)."""
    if prefix == "eq":  # within [lo, hi]: its start too, so the start is bounded on both sides
        return {"lo": {"$gte": lo, "$lte": hi}, "hi": {"$lte": hi}}
    if prefix == "gt":
        return {"hi": {"$gt": hi}}
    if prefix == "lt":
        return {"lo": {"$lt": lo}}
    if prefix == "sa":
        return {"lo": {"$gte": hi}}
    if prefix == "eb":
        return {"hi": {"$lte": lo}}
    if prefix == "ap":
        margin = abs(datetime.now(UTC) - lo) * 0.1
        return {"lo": {"$lt": dates.later(hi, margin)}, "hi": {"$gt": dates.earlier(lo, margin)}}
    raise ValueError(prefix)


def date(param: SearchParam, modifier: str | None, value: str) -> dict:
    value = unescape(value)
    prefix, text = _split_prefix(value)
    try:
        lo, hi = dates.date_range(text)
    except ValueError as exc:
        raise _bad(
            param, value, "not a date, dateTime or instant (YYYY[-MM[-DD[Thh:mm[:ss]]]])"
        ) from exc
    field = {"p": param.code}
    if prefix in ("ne", "ge", "le"):
        # ne: a value starting before or ending after the range (a resource without the value is
        # not "not equal" to it); ge / le: after or within, before or within. Each a range an
        # index bounds, as one would be.
        parts = {"ne": ("lt", "gt"), "ge": ("gt", "eq"), "le": ("lt", "eq")}[prefix]
        return any_of(
            [{"dt": {"$elemMatch": {**field, **_date_condition(p, lo, hi)}}} for p in parts]
        )
    return {"dt": {"$elemMatch": {**field, **_date_condition(prefix, lo, hi)}}}


def quantity(param: SearchParam, modifier: str | None, value: str) -> dict:
    prefix, text = _split_prefix(value, ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"))
    parts = split_pipes(text)
    if len(parts) not in (1, 3):
        raise _bad(param, value, "a quantity is number or number|system|code")
    number_text, system, code = parts if len(parts) == 3 else (text, "", "")
    try:
        v, lo, hi = values.number_range(number_text)
    except ValueError as exc:
        raise _bad(param, value, "not a number") from exc
    cond: dict = {"p": param.code}
    if system:
        cond["s"] = system
    if code:
        cond["c"] = code
    ranges = {
        "eq": {"$gte": lo, "$lt": hi},
        "gt": {"$gt": v},
        "lt": {"$lt": v},
        "ge": {"$gte": v},
        "le": {"$lte": v},
        "sa": {"$gt": v},
        "eb": {"$lt": v},
        "ap": {"$gte": v - abs(v) * 0.1, "$lte": v + abs(v) * 0.1},
    }
    if prefix == "ne":  # below or above the range (a resource without the value is not "not
        # equal" to it): two ranges an index bounds
        below, above = {"$lt": lo}, {"$gte": hi}
        return any_of([{"nq": {"$elemMatch": {**cond, "v": v}}} for v in (below, above)])
    return {"nq": {"$elemMatch": {**cond, "v": ranges[prefix]}}}


number = quantity


def local_keys(code: str, relative: str, base_url: str) -> list[str]:
    """Keys of a reference to `Type/id` on this server, written relative or absolute."""
    return [values.key(code, relative), values.key(code, f"{base_url}/{relative}")]


def reference(param: SearchParam, modifier: str | None, value: str, base_url: str) -> dict:
    if modifier == "identifier":
        parts = split_pipes(value)
        if len(parts) > 2:
            raise _bad(param, value, ":identifier takes [system|]value")
        return {"rf": values.key(f"{param.code}:identifier", values.joined(*parts))}
    value = unescape(value)
    if value.startswith(base_url + "/"):
        value = value[len(base_url) + 1 :]
    if "/" in value and not value.startswith(("http://", "https://", "urn:")):
        parts = value.split("/")
        if len(parts) != 2 and not (len(parts) == 4 and parts[2] == "_history"):
            raise _bad(param, value, "a reference is Type/id, id or an absolute URL")
        if not all(parts[:2]):
            raise _bad(param, value, "a reference is Type/id, id or an absolute URL")
        value = "/".join(parts[:2])
        if modifier and modifier != parts[0]:
            return {"rf": {"$in": []}}
        return {"rf": {"$in": local_keys(param.code, value, base_url)}}
    if "/" not in value:
        targets = [modifier] if modifier else list(param.targets) or []
        if not targets:
            raise _bad(param, value, "give the type as Type/id for this parameter")
        keys = [k for t in targets for k in local_keys(param.code, f"{t}/{value}", base_url)]
        return {"rf": {"$in": keys}}
    return {"rf": values.key(param.code, value)}


def missing(param: SearchParam, value: str) -> dict:
    if value not in ("true", "false"):
        raise _bad(param, value, ":missing takes true or false")
    if param.code == "_id":
        return {"_id": {"$in": []}} if value == "true" else {}
    return {"has": {"$ne": param.code}} if value == "true" else {"has": param.code}


COMPILERS: dict[str, Callable] = {
    "token": token,
    "uri": uri,
    "string": string,
    "date": date,
    "quantity": quantity,
    "number": number,
}
