"""Heights and weights in the units the BMI needs: https://ucum.org/ucum (UCUM codes).

A body height or weight Observation carries a UCUM Quantity (observation-vitalsigns.html asks for
`cm` or `[in_i]`, `kg`, `g` or `[lb_av]`); the BMI is computed in kg/m². Exact decimal factors, so
a conversion never loses what the client sent.
"""

from decimal import Decimal, InvalidOperation

from fhir_server.profile.codes import HEIGHT, UCUM

# UCUM code -> how many metres (heights) or kilograms (weights) one unit is.
METRES = {
    "m": Decimal(1),
    "cm": Decimal("0.01"),
    "mm": Decimal("0.001"),
    "[in_i]": Decimal("0.0254"),
    "[ft_i]": Decimal("0.3048"),
}
KILOGRAMS = {"kg": Decimal(1), "g": Decimal("0.001"), "[lb_av]": Decimal("0.45359237")}


class UnknownUnit(ValueError):
    pass


def factors(sign: str) -> dict[str, Decimal]:
    return METRES if sign == HEIGHT else KILOGRAMS


def is_ucum(quantity) -> bool:
    return isinstance(quantity, dict) and quantity.get("system") == UCUM


def standard_value(quantity: dict, sign: str) -> Decimal:
    """The quantity in metres (a height) or kilograms (a weight); UnknownUnit when it cannot be
    converted (not UCUM, a unit of another dimension, no value, or not above zero)."""
    if not is_ucum(quantity):
        raise UnknownUnit("it must be a UCUM quantity (system http://unitsofmeasure.org)")
    table = factors(sign)
    code = quantity.get("code")
    if code not in table:
        raise UnknownUnit(f"its UCUM code must be one of {', '.join(table)}")
    try:
        value = Decimal(str(quantity.get("value")))
    except InvalidOperation as exc:
        raise UnknownUnit("it has no numeric value") from exc
    if not value.is_finite() or value <= 0:
        raise UnknownUnit("its value must be above zero")
    return value * table[code]
