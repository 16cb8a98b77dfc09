"""FHIRPath Patch: a `Parameters` resource of operations, https://hl7.org/fhir/R4/fhirpatch.html

Each `operation` parameter has parts `type` (add, insert, delete, replace, move), `path`, and as
its type needs `name`, `value[x]` (or a `value` of nested parts for a backbone element), `index`,
`source`, `destination`. Paths are the FHIRPath subset patches use: the resource type, element
names (a choice element by its name, `Observation.value`), indexers `[n]`, `first()`, `last()`
and `where(...)` comparing child paths to literals with `=`, `!=` and `and`. The project's own
FHIRPath (fhir_server.indexing.fhirpath) returns values for search; a patch needs to know where
each value sits, so paths are resolved here to locations (the holding object, the element's
name, its position in a list).

A Parameters that is not a patch is 400; a patch that cannot be applied to this resource (a path
matching nothing or several elements, an index out of range, an element already there) is 422.
"""

import re
from dataclasses import dataclass
from typing import Any

from carnet_core.errors import BadRequest, InvalidResource
from fhir_server.elements import OBJECT, elements, resource_model

TYPES = ("add", "insert", "delete", "replace", "move")
_ROOT = "$resource"
_TOKEN = re.compile(
    r"\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<string>'(?:[^'\\]|\\.)*')"
    r"|(?P<number>-?\d+(?:\.\d+)?)|(?P<op>!=|=|\(|\)|\[|\]|\.))"
)


@dataclass
class Location:
    """Where an element sits: `holder[name]`, or `holder[name][index]` in a repeating element."""

    holder: dict
    name: str
    index: int | None
    model: type | None  # the element's model, when known (a data type or backbone element)

    @property
    def value(self) -> Any:
        found = self.holder[self.name]
        return found if self.index is None else found[self.index]

    def set(self, value: Any) -> None:
        if self.index is None:
            self.holder[self.name] = value
        else:
            self.holder[self.name][self.index] = value

    def remove(self) -> None:
        if self.index is None:
            del self.holder[self.name]
            return
        del self.holder[self.name][self.index]
        if not self.holder[self.name]:
            del self.holder[self.name]


def _unprocessable(message: str) -> InvalidResource:
    return InvalidResource(f"The FHIRPath Patch cannot be applied: {message}", code="processing")


# -- paths ------------------------------------------------------------------------------------
def _tokens(path: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    path = path.strip()
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or m.end() == pos:
            raise BadRequest(f"The patch path '{path}' is not a FHIRPath this server reads")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(path) and path[pos].isspace():
            pos += 1
    return out


class _Path:
    """A cursor over a path's tokens; `locations` walks it over a resource."""

    def __init__(self, path: str):
        self.text = path
        self.tokens = _tokens(path)
        self.pos = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self, kind: str, value: str | None = None) -> str:
        token = self._peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise BadRequest(f"The patch path '{self.text}' is not a FHIRPath this server reads")
        self.pos += 1
        return token[1]

    def _at(self, kind: str, value: str | None = None) -> bool:
        token = self._peek()
        return token is not None and token[0] == kind and (value is None or token[1] == value)

    def locations(self, resource: dict, resource_type: str) -> list[Location]:
        if self._take("name") != resource_type:
            raise BadRequest(f"The patch path '{self.text}' must start with {resource_type}")
        found = [Location({_ROOT: resource}, _ROOT, None, resource_model(resource_type))]
        while self._peek() is not None:
            found = self._step(found)
        return found

    def _step(self, found: list[Location]) -> list[Location]:
        if self._at("op", "["):
            self._take("op", "[")
            index = self._take("number")
            self._take("op", "]")
            if not index.isdigit():
                raise BadRequest(f"The patch path '{self.text}' has an index that is not 0 or more")
            index = int(index)
            return [found[index]] if 0 <= index < len(found) else []
        self._take("op", ".")
        name = self._take("name")
        if self._at("op", "("):
            return self._function(name, found)
        return [child for loc in found for child in _children(loc, name)]

    def _function(self, name: str, found: list[Location]) -> list[Location]:
        self._take("op", "(")
        if name in ("first", "last"):
            self._take("op", ")")
            return found[:1] if name == "first" else found[-1:]
        if name != "where":
            raise BadRequest(f"The patch path '{self.text}' uses {name}(), which is not supported")
        conditions = [self._condition()]
        while self._at("name", "and"):
            self._take("name", "and")
            conditions.append(self._condition())
        self._take("op", ")")
        return [loc for loc in found if all(_holds(loc, *c) for c in conditions)]

    def _condition(self) -> tuple[list[str], str, Any]:
        names = [self._take("name")]
        while self._at("op", "."):
            self._take("op", ".")
            names.append(self._take("name"))
        operator = self._take("op")
        if operator not in ("=", "!="):
            raise BadRequest(f"The patch path '{self.text}' compares with '{operator}'")
        return names, operator, self._literal()

    def _literal(self) -> Any:
        token = self._peek()
        if token and token[0] == "string":
            self.pos += 1
            return re.sub(r"\\(.)", r"\1", token[1][1:-1])
        if token and token[0] == "number":
            self.pos += 1
            return float(token[1]) if "." in token[1] else int(token[1])
        if token and token[0] == "name" and token[1] in ("true", "false"):
            self.pos += 1
            return token[1] == "true"
        raise BadRequest(f"The patch path '{self.text}' compares with something not a literal")


def _element_key(node: dict, name: str) -> str | None:
    """The JSON key of element `name` in `node`: itself, or a choice element's typed name."""
    if name in node:
        return name
    typed = [k for k in node if k.startswith(name) and k[len(name) : len(name) + 1].isupper()]
    return typed[0] if len(typed) == 1 else None


def _model_of(model: type | None, key: str) -> type | None:
    element = elements(model).get(key) if model is not None else None
    return element.model if element is not None and element.kind == OBJECT else None


def _children(loc: Location, name: str) -> list[Location]:
    node = loc.value
    if not isinstance(node, dict):
        return []
    key = _element_key(node, name)
    if key is None:
        return []
    model = _model_of(loc.model, key)
    if isinstance(node[key], list):
        return [Location(node, key, i, model) for i in range(len(node[key]))]
    return [Location(node, key, None, model)]


def _holds(loc: Location, names: list[str], operator: str, literal: Any) -> bool:
    values = [loc]
    for name in names:
        values = [child for v in values for child in _children(v, name)]
    equal = any(v.value == literal for v in values)
    return equal if operator == "=" else bool(values) and not equal


# -- operations --------------------------------------------------------------------------------
def _parts(operation: dict, number: int) -> dict[str, Any]:
    """An operation's parts by name; `value` is the JSON value of its value[x] or nested parts."""
    found: dict[str, Any] = {}
    parts = operation.get("part")
    if not isinstance(parts, list):
        raise BadRequest(f"Operation {number} of the patch has no parts")
    for part in parts:
        if not isinstance(part, dict) or not isinstance(part.get("name"), str):
            raise BadRequest(f"Operation {number} of the patch has a part without a name")
        value_keys = [k for k in part if k.startswith("value")]
        if part["name"] == "value" and not value_keys and isinstance(part.get("part"), list):
            found["value"] = _nested(part["part"])
        elif value_keys:
            found[part["name"]] = part[value_keys[0]]
        else:
            raise BadRequest(f"Operation {number}'s part '{part['name']}' has no value")
    return found


def _nested(parts: list) -> dict:
    """A backbone element given as parts (fhirpatch.html: complex values without a data type)."""
    out: dict[str, Any] = {}
    for part in parts:
        name = part.get("name") if isinstance(part, dict) else None
        if not isinstance(name, str):
            raise BadRequest("A nested part of the patch has no name")
        value_keys = [k for k in part if k.startswith("value")]
        nested = part.get("part")
        if not value_keys and not isinstance(nested, list):
            raise BadRequest(f"The nested part '{name}' of the patch has no value")
        value = part[value_keys[0]] if value_keys else _nested(nested)
        out[name] = value
    return out


def _index(parts: dict, name: str, number: int) -> int:
    value = parts.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise BadRequest(f"Operation {number} of the patch needs a non-negative integer '{name}'")
    return value


def _one(found: list[Location], path: str) -> Location:
    if len(found) != 1:
        what = "no element" if not found else f"{len(found)} elements"
        raise _unprocessable(f"'{path}' matches {what}; it must match exactly one")
    return found[0]


def _list_at(resource: dict, resource_type: str, path: str) -> tuple[dict, str, list]:
    """The repeating element a path names (insert, move): its holder, key and items."""
    head, dot, name = path.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z][A-Za-z0-9]*", name):
        raise BadRequest(f"The patch path '{path}' must end with a repeating element's name")
    holder = _one(_Path(head).locations(resource, resource_type), head).value
    if not isinstance(holder, dict):
        raise _unprocessable(f"'{head}' is not an element that holds others")
    items = holder.get(name, [])
    if not isinstance(items, list):
        raise _unprocessable(f"'{path}' is not a repeating element")
    return holder, name, items


def _apply(resource: dict, resource_type: str, parts: dict, number: int) -> None:
    kind, path = parts.get("type"), parts.get("path")
    if kind not in TYPES:
        raise BadRequest(f"Operation {number} of the patch has type {kind!r}; use one of {TYPES}")
    if not isinstance(path, str) or not path.strip():
        raise BadRequest(f"Operation {number} of the patch has no path")
    needs_value = kind in ("add", "insert", "replace")
    if needs_value and "value" not in parts:
        raise BadRequest(f"Operation {number} of the patch ({kind}) has no value")
    if kind == "add":
        name = parts.get("name")
        if not isinstance(name, str) or not name:
            raise BadRequest(f"Operation {number} of the patch (add) has no name")
        target = _one(_Path(path).locations(resource, resource_type), path)
        _add(target, name, parts["value"], path)
    elif kind == "insert":
        holder, name, items = _list_at(resource, resource_type, path)
        index = _index(parts, "index", number)
        if index > len(items):
            raise _unprocessable(f"index {index} is beyond the {len(items)} items of '{path}'")
        holder[name] = items[:index] + [parts["value"]] + items[index:]
    elif kind == "move":
        holder, name, items = _list_at(resource, resource_type, path)
        source, destination = _index(parts, "source", number), _index(parts, "destination", number)
        if source >= len(items) or destination >= len(items):
            raise _unprocessable(
                f"'{path}' has {len(items)} items: cannot move {source} to {destination}"
            )
        items = list(items)
        items.insert(destination, items.pop(source))
        holder[name] = items
    else:
        found = _Path(path).locations(resource, resource_type)
        if kind == "delete":
            if len(found) > 1:
                raise _unprocessable(f"'{path}' matches {len(found)} elements; delete takes one")
            if found:
                _not_the_resource(found[0], path).remove()
        else:
            _not_the_resource(_one(found, path), path).set(parts["value"])


def _not_the_resource(loc: Location, path: str) -> Location:
    if loc.name == _ROOT:
        raise _unprocessable(f"'{path}' is the resource itself")
    return loc


def _add(target: Location, name: str, value: Any, path: str) -> None:
    node = target.value
    if not isinstance(node, dict):
        raise _unprocessable(f"'{path}' is not an element that holds others")
    element = elements(target.model).get(name) if target.model is not None else None
    existing = node.get(name)
    if isinstance(existing, list) or (existing is None and element is not None and element.many):
        node[name] = [*(existing or []), value]
    elif existing is None:
        node[name] = value
    else:
        raise _unprocessable(f"'{path}.{name}' is already there and does not repeat; use replace")


def apply(resource: dict, resource_type: str, parameters: dict) -> dict:
    """`resource` (changed in place) after the patch's operations, in order."""
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise BadRequest("A FHIRPath Patch is a Parameters resource")
    operations = parameters.get("parameter")
    if not isinstance(operations, list) or not operations:
        raise BadRequest("The FHIRPath Patch has no operation")
    for number, operation in enumerate(operations, start=1):
        if not isinstance(operation, dict) or operation.get("name") != "operation":
            raise BadRequest(f"Parameter {number} of the patch is not an 'operation'")
        _apply(resource, resource_type, _parts(operation, number), number)
    return resource
