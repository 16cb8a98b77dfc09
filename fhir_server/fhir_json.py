"""FHIR JSON as the specification writes it, checked element by element: https://hl7.org/fhir/R4/json.html

The models of fhir.resources coerce what they are given ("yes" and 1 become true, "5" becomes 5),
and the store keeps the JSON that was sent, so this walk refuses what the models would have had to
change: each element must have its JSON type (boolean, integer, number for decimals, string for
every other primitive, object, array when it repeats and only then); null appears only in a
primitive's array where the `_element` array beside it carries the extensions of that item; no
object or array is empty, no string either; every element is known, every contained resource is of
a known type. Decimals must fit the store's Decimal128 exactly (precision kept). Codes and
CodeableConcepts are checked against their required bindings (fhir_server.bindings) on the way.
"""

from decimal import Decimal, DecimalException

from bson.decimal128 import Decimal128

from carnet_core.errors import Issue
from fhir_server.bindings import code_issue, concept_issue
from fhir_server.elements import (
    BOOLEAN,
    DECIMAL,
    INTEGER,
    OBJECT,
    RESOURCE,
    STRING,
    Element,
    elements,
    resource_model,
)

_JSON_TYPE = {
    BOOLEAN: "true or false",
    INTEGER: "a JSON integer",
    DECIMAL: "a JSON number",
    STRING: "a JSON string",
    OBJECT: "a JSON object",
    RESOURCE: "a resource (a JSON object with a resourceType)",
}


def _keeps_precision(value: int | Decimal) -> bool:
    if isinstance(value, int):
        return True
    try:
        return str(Decimal128(value).to_decimal()) == str(value)
    except (DecimalException, ValueError):
        return False


def _shown(text: str) -> str:
    """A name from the request, cut short for the OperationOutcome."""
    return text if len(text) <= 64 else text[:64] + "..."


def _is_integral(value) -> bool:
    """A JSON integer too long for an int (jsonio reads those as Decimal)."""
    return isinstance(value, Decimal) and value.as_tuple().exponent == 0


class _Walk:
    def __init__(self):
        self.issues: list[Issue] = []

    def _issue(self, code: str, text: str, expression: str) -> None:
        self.issues.append(Issue(code, f"{text} at {expression}", expression=[expression]))

    def resource(self, node, expression: str) -> None:
        rtype = node.get("resourceType") if isinstance(node, dict) else None
        model = resource_model(rtype) if isinstance(rtype, str) else None
        if not isinstance(node, dict) or not isinstance(rtype, str):
            self._issue("value", f"Expected {_JSON_TYPE[RESOURCE]}", expression)
        elif model is None:
            self._issue("structure", f"'{_shown(rtype)}' is not a FHIR resource type", expression)
        else:
            self.object(node, model, expression, rtype)

    def object(self, node: dict, model: type, expression: str, path: str) -> None:
        if not node:
            self._issue("value", "An object may not be empty", expression)
        known = elements(model)
        for key, value in node.items():
            if key == "resourceType" and model.has_resource_base():
                continue
            element = known.get(key)
            where = f"{expression}.{key.removeprefix('_')}"
            if element is None:
                name = _shown(key)
                self._issue("structure", f"Unknown element '{name}'", f"{expression}.{name}")
            elif value is None:
                self._issue("value", "null is not a value", where)
            elif element.many:
                self.array(node, element, value, where, path, model)
            elif isinstance(value, list):
                self._issue("value", f"Expected {_JSON_TYPE[element.kind]}, not an array", where)
            else:
                self.value(element, value, where, path, model)

    def array(self, node: dict, element: Element, items, where: str, path: str, model) -> None:
        if not isinstance(items, list):
            self._issue("value", "Expected an array (the element repeats)", where)
            return
        if not items:
            self._issue("value", "An array may not be empty", where)
        twin = node.get(element.twin) if element.primitive or element.name.startswith("_") else None
        if isinstance(twin, list) and element.name.startswith("_") and len(twin) != len(items):
            self._issue("value", f"'{element.name}' must align with '{element.twin}'", where)
        for index, item in enumerate(items):
            if item is None:
                aligned = isinstance(twin, list) and index < len(twin) and twin[index] is not None
                if not aligned:
                    self._issue("value", "null is not a value", f"{where}[{index}]")
            else:
                self.value(element, item, f"{where}[{index}]", path, model)

    def value(self, element: Element, value, where: str, path: str, parent: type) -> None:
        kind = element.kind
        if kind == RESOURCE:
            self.resource(value, where)
            return
        expected = {
            BOOLEAN: type(value) is bool,
            INTEGER: type(value) is int,
            DECIMAL: type(value) is int or isinstance(value, Decimal),
            STRING: isinstance(value, str),
            OBJECT: isinstance(value, dict),
        }[kind]
        if not expected and kind == INTEGER and _is_integral(value):
            self._issue("value", "The integer is out of range (32 bits)", where)
        elif not expected:
            self._issue("value", f"Expected {_JSON_TYPE[kind]}", where)
        elif kind == STRING and not value:
            self._issue("value", "A string may not be empty", where)
        elif kind == DECIMAL and not _keeps_precision(value):
            self._issue("value", "The number cannot be kept with all its digits", where)
        elif kind == OBJECT:
            # Paths as the bindings name them: a backbone element under its parent's path (one
            # holding itself, as Consent.provision.provision, under its own), a data type alone.
            if element.model is parent:
                child = path
            elif element.nested:
                child = f"{path}.{element.name}"
            else:
                child = element.model.__resource_type__
            found = concept_issue(f"{path}.{element.name}", value, where)
            if found:
                self.issues.append(found)
            self.object(value, element.model, where, child)
        elif kind == STRING:
            found = code_issue(f"{path}.{element.name}", value, where)
            if found:
                self.issues.append(found)


def issues(resource: dict) -> list[Issue]:
    """What in `resource` is not FHIR JSON as written by the specification; [] when it is."""
    walk = _Walk()
    rtype = resource.get("resourceType")
    walk.resource(resource, _shown(rtype) if isinstance(rtype, str) else "Resource")
    return walk.issues
