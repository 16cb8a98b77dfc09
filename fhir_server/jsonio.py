"""FHIR JSON in and out, decimals kept exactly: https://hl7.org/fhir/R4/json.html#primitive

FHIR decimals carry their precision ("1.50" is not "1.5"), so numbers with a fraction or an
exponent are read as decimal.Decimal and written back from it unchanged (simplejson's
`use_decimal`); the store keeps them as BSON Decimal128 (fhir_server.store.repository).

What is read is bounded: integers longer than 18 digits are read as Decimal (Python refuses to
convert more than 4,300 digits to an int, and no FHIR integer is that long: validation refuses
them where an integer is expected), nesting deeper than MAX_DEPTH is refused (every walk over
a resource is recursive; no FHIR resource comes near it), and so are escaped lone surrogates.
"""

import re
from collections.abc import Callable
from decimal import Decimal

import simplejson
from bson.decimal128 import Decimal128

MAX_DEPTH = 64
# "\udc80" is valid JSON text but not Unicode (half a surrogate pair): it cannot be stored or sent.
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_UNICODE = "The JSON holds a lone UTF-16 surrogate (U+D800 to U+DFFF), which is not Unicode"
_INT_DIGITS = 18  # every int64 of this many digits fits BSON's int64


class NotJson(ValueError):
    """JSON this server does not read: NaN / Infinity (not JSON), nesting beyond MAX_DEPTH, lone
    surrogates (not Unicode)."""


def _no_constant(name: str):
    raise NotJson(f"'{name}' is not a JSON value")


def _integer(literal: str) -> int | Decimal:
    return int(literal) if len(literal.lstrip("-")) <= _INT_DIGITS else Decimal(literal)


def _lone_surrogate(text: str) -> bool:
    return _SURROGATE.search(text) is not None


def _check(root) -> None:
    """Nesting at most MAX_DEPTH; no string or name holding half a surrogate pair."""
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, dict):
            if any(_lone_surrogate(key) for key in node):
                raise NotJson(_NOT_UNICODE)
            children = node.values()
        else:
            children = node
        for child in children:
            if isinstance(child, (dict, list)):
                if depth + 1 > MAX_DEPTH:
                    raise NotJson(f"The JSON is nested more than {MAX_DEPTH} levels deep")
                stack.append((child, depth + 1))
            elif isinstance(child, str) and _lone_surrogate(child):
                raise NotJson(_NOT_UNICODE)


def loads(raw: bytes | str):
    """Parse FHIR JSON; raises ValueError (JSONDecodeError, NotJson) or RecursionError."""
    value = simplejson.loads(
        raw, parse_float=Decimal, parse_int=_integer, parse_constant=_no_constant
    )
    if isinstance(value, (dict, list)):
        _check(value)
    elif isinstance(value, str) and _lone_surrogate(value):
        raise NotJson(_NOT_UNICODE)
    return value


def _default(value):
    if isinstance(value, Decimal128):
        return value.to_decimal()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def dumps(body, pretty: bool = False) -> str:
    if pretty:
        return simplejson.dumps(
            body, ensure_ascii=False, indent=2, use_decimal=True, default=_default
        )
    return simplejson.dumps(
        body, ensure_ascii=False, separators=(",", ":"), use_decimal=True, default=_default
    )


def canonical(body) -> str:
    """One text for equal JSON: keys sorted, decimals as written (72.50 is not 72.5)."""
    return simplejson.dumps(
        body, sort_keys=True, separators=(",", ":"), use_decimal=True, default=_default
    )


def _map_leaves(node, leaf: Callable):
    """A copy of a JSON tree (dicts and lists) with every other value passed through `leaf`."""
    if isinstance(node, dict):
        return {k: _map_leaves(v, leaf) for k, v in node.items()}
    if isinstance(node, list):
        return [_map_leaves(v, leaf) for v in node]
    return leaf(node)


def _to_decimal128(value):
    return Decimal128(value) if isinstance(value, Decimal) else value


def _from_decimal128(value):
    return value.to_decimal() if isinstance(value, Decimal128) else value


def to_bson(node):
    """Decimals to Decimal128 (BSON has no arbitrary-precision type of its own)."""
    return _map_leaves(node, _to_decimal128)


def from_bson(node):
    """Decimal128 back to the decimals they were (to_bson's inverse)."""
    return _map_leaves(node, _from_decimal128)
