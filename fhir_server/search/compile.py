"""Compilation of search parameters into MongoDB predicates: https://hl7.org/fhir/R4/search.html

Input values only ever become values in a query (escaped when they go into a regular expression),
never keys or operators. One function per parameter type; prefixes and modifiers per the spec.
"""

import re
from collections.abc import Callable
from datetime import UTC, datetime

from fhir_server.errors import BadRequest
from fhir_server.search import values as V
from fhir_server.search.registry import SearchParam

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


def _any(alternatives: list[dict]) -> dict:
    return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def _bad(param: SearchParam, value: str, why: str) -> BadRequest:
    return BadRequest(
        f"Invalid value '{value}' for search parameter '{param.code}': {why}",
        expression=[param.code],
    )


def token(param: SearchParam, modifier: str | None, value: str) -> dict:
    code = param.code
    if modifier == "text":
        needle = V.key(code, V.normalize(unescape(value)))
        return {"tt": {"$regex": "^" + re.escape(needle)}}
    parts = split_pipes(value)
    if modifier == "of-type":
        if len(parts) != 3 or not parts[1] or not parts[2]:
            raise _bad(param, value, ":of-type takes system|code|value")
        return {"tk": V.key(f"{code}:of-type", V.joined(*parts))}
    if param.code == "_id":
        id = "|".join(parts)
        return {"_id": {"$ne": id}} if modifier == "not" else {"_id": id}
    if len(parts) > 2:
        raise _bad(param, value, "a token is [system|]code; escape a literal '|' as '\\|'")
    if len(parts) == 2:
        if not parts[0] and not parts[1]:
            raise _bad(param, value, "empty system and code")
        key = V.key(code, V.joined(parts[0], parts[1]))
    else:
        key = V.key(code, V.part(parts[0]))
    if modifier == "not":
        return {"tk": {"$ne": key}}
    return {"tk": key}


def uri(param: SearchParam, modifier: str | None, value: str) -> dict:
    return {"tk": V.key(param.code, unescape(value))}


def string(param: SearchParam, modifier: str | None, value: str) -> dict:
    value = unescape(value)
    if modifier == "exact":
        return {"se": V.key(param.code, value)}
    prefix = re.escape(V.key(param.code, ""))
    needle = re.escape(V.normalize(value))
    if modifier == "contains":
        return {"st": {"$regex": f"^{prefix}.*{needle}"}}
    return {"st": {"$regex": f"^{prefix}{needle}"}}


def _earlier(moment: datetime, step) -> datetime:
    try:
        return moment - step
    except OverflowError:
        return V.MIN_DATE


def _date_condition(prefix: str, lo: datetime, hi: datetime) -> dict:
    if prefix == "eq":
        return {"lo": {"$gte": lo}, "hi": {"$lte": hi}}
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
        return {"lo": {"$lt": V._later(hi, margin)}, "hi": {"$gt": _earlier(lo, margin)}}
    raise ValueError(prefix)


def date(param: SearchParam, modifier: str | None, value: str) -> dict:
    value = unescape(value)
    prefix, text = _split_prefix(value)
    try:
        lo, hi = V.date_range(text)
    except ValueError as exc:
        raise _bad(
            param, value, "not a date, dateTime or instant (YYYY[-MM[-DD[Thh:mm[:ss]]]])"
        ) from exc
    field = {"p": param.code}
    if prefix == "ne":  # a resource without the value is not "not equal" to it
        eq = {"$elemMatch": {**field, **_date_condition("eq", lo, hi)}}
        return {"has": param.code, "dt": {"$not": eq}}
    if prefix in ("ge", "le"):
        strict = "gt" if prefix == "ge" else "lt"
        return _any(
            [
                {"dt": {"$elemMatch": {**field, **_date_condition(strict, lo, hi)}}},
                {"dt": {"$elemMatch": {**field, **_date_condition("eq", lo, hi)}}},
            ]
        )
    return {"dt": {"$elemMatch": {**field, **_date_condition(prefix, lo, hi)}}}


def quantity(param: SearchParam, modifier: str | None, value: str) -> dict:
    prefix, text = _split_prefix(value, ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"))
    parts = split_pipes(text)
    if len(parts) not in (1, 3):
        raise _bad(param, value, "a quantity is number or number|system|code")
    number_text, system, code = parts if len(parts) == 3 else (text, "", "")
    try:
        v, lo, hi = V.number_range(number_text)
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
    if prefix == "ne":  # a resource without the value is not "not equal" to it
        return {"has": param.code, "nq": {"$not": {"$elemMatch": {**cond, "v": ranges["eq"]}}}}
    return {"nq": {"$elemMatch": {**cond, "v": ranges[prefix]}}}


number = quantity


def local_keys(code: str, relative: str, base_url: str) -> list[str]:
    """Keys of a reference to `Type/id` on this server, written relative or absolute."""
    return [V.key(code, relative), V.key(code, f"{base_url}/{relative}")]


def reference(param: SearchParam, modifier: str | None, value: str, base_url: str) -> dict:
    if modifier == "identifier":
        parts = split_pipes(value)
        if len(parts) > 2:
            raise _bad(param, value, ":identifier takes [system|]value")
        return {"rf": V.key(f"{param.code}:identifier", V.joined(*parts))}
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
    return {"rf": V.key(param.code, value)}


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
