"""The elements of each R4B model as FHIR JSON names and types them: https://hl7.org/fhir/R4/json.html

Read from the field declarations of fhir.resources' models: each element's JSON name (`_given` for
the extensions of the primitive `given`), whether it repeats, and its JSON type: boolean, integer,
decimal (a number), any other primitive (a string), a data type or backbone element (an object of
its own model), or a resource (an object whose `resourceType` names its model).
"""

import decimal
import types
import typing
from dataclasses import dataclass
from functools import cache

from fhir.resources.R4B import get_fhir_model_class
from fhir_core.types import FhirBase, FhirElementOrResourceBase

BOOLEAN, INTEGER, DECIMAL, STRING, OBJECT, RESOURCE = (
    "boolean",
    "integer",
    "decimal",
    "string",
    "object",
    "resource",
)
PRIMITIVE_KINDS = frozenset({BOOLEAN, INTEGER, DECIMAL, STRING})
# Not FHIR R4 JSON: the models accept it for older versions' comments.
_NOT_ELEMENTS = frozenset({"fhir_comments"})
_ABSTRACT = frozenset({"Resource", "DomainResource"})


@dataclass(frozen=True)
class Element:
    name: str  # as in JSON: "given", "_given"
    kind: str
    many: bool
    model: type | None = None  # for OBJECT
    nested: bool = False  # a backbone element of its parent (or the parent itself, recursively)

    @property
    def primitive(self) -> bool:
        return self.kind in PRIMITIVE_KINDS

    @property
    def twin(self) -> str:
        """The other half of a primitive: `_given` for `given` and the reverse."""
        return self.name[1:] if self.name.startswith("_") else f"_{self.name}"


def _unwrap(annotation) -> tuple[typing.Any, bool]:
    """The element's type without Optional, and whether it is a list."""
    many = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin in (list, typing.List):  # noqa: UP006 - the models use typing.List
            many = True
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, many


def _primitive_kind(annotation) -> str:
    base = typing.get_args(annotation)[0] if typing.get_origin(annotation) else annotation
    if base is bool:
        return BOOLEAN
    if base is int:
        return INTEGER
    if base is decimal.Decimal:
        return DECIMAL
    return STRING  # str, dates and times, base64Binary, uri, uuid...


def _element(parent: type, name: str, annotation) -> Element:
    kind_type, many = _unwrap(annotation)
    if isinstance(kind_type, type) and issubclass(kind_type, FhirElementOrResourceBase):
        return Element(name, RESOURCE, many)
    if isinstance(kind_type, type) and issubclass(kind_type, FhirBase):
        model = kind_type.get_model_klass()
        own = parent.__resource_type__ + name[:1].upper() + name[1:]
        nested = model is parent or model.__resource_type__ == own
        return Element(name, OBJECT, many, model, nested)
    return Element(name, _primitive_kind(kind_type), many)


@cache
def elements(model: type) -> dict[str, Element]:
    """The JSON names a model's objects may hold, each with its element."""
    found = {}
    for field_name, field in model.model_fields.items():
        name = field.alias or field_name
        if name not in _NOT_ELEMENTS:
            found[name] = _element(model, name, field.annotation)
    return found


@cache
def resource_model(resource_type: str) -> type | None:
    """The model of a FHIR resource type; None for a name that is not one."""
    try:
        model = get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None
    concrete = model.has_resource_base() and resource_type not in _ABSTRACT
    return model if concrete else None
