"""FHIR JSON in and out, decimals kept exactly: https://hl7.org/fhir/R4/json.html#primitive

FHIR decimals carry their precision ("1.50" is not "1.5"), so numbers with a fraction or an
exponent are read as decimal.Decimal and written back from it unchanged (simplejson's
`use_decimal`); the store keeps them as BSON Decimal128 (fhir_server.store.repository).
"""

from decimal import Decimal

import simplejson
from bson.decimal128 import Decimal128


class NotJson(ValueError):
    """NaN / Infinity: accepted by Python's parser, not JSON."""


def _no_constant(name: str):
    raise NotJson(f"'{name}' is not a JSON value")


def loads(raw: bytes | str):
    """Parse FHIR JSON; raises ValueError (JSONDecodeError, NotJson) or RecursionError."""
    return simplejson.loads(raw, parse_float=Decimal, parse_constant=_no_constant)


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


def to_bson(node):
    """Decimals to Decimal128 (BSON has no arbitrary-precision type of its own)."""
    if isinstance(node, dict):
        return {k: to_bson(v) for k, v in node.items()}
    if isinstance(node, list):
        return [to_bson(v) for v in node]
    if isinstance(node, Decimal):
        return Decimal128(node)
    return node


def from_bson(node):
    if isinstance(node, dict):
        return {k: from_bson(v) for k, v in node.items()}
    if isinstance(node, list):
        return [from_bson(v) for v in node]
    if isinstance(node, Decimal128):
        return node.to_decimal()
    return node
