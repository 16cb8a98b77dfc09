"""The small FHIRPath subset that R4 SearchParameter expressions use: https://hl7.org/fhirpath/

Supported forms: `A.b.c`, unions `x | y`, `(A.b as Type)` and `A.b.as(Type)`, `.where(resolve() is Type)` and
`.where(field='value')`. Choice elements (`value[x]`) are navigated by their JSON names
(`valueQuantity`). An expression outside this subset raises `Unsupported` when compiled, so the
parameter is left out of the registry (and of the CapabilityStatement) instead of half-working.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

Path = Callable[[dict], list]


class Unsupported(ValueError):
    pass


_AS = re.compile(r"^\((?P<path>[A-Za-z.]+) as (?P<type>[A-Za-z]+)\)(?P<rest>(\.[A-Za-z]+)*)$")
_AS_FUNCTION = re.compile(r"^(?P<path>[A-Za-z.]+)\.as\((?P<type>[A-Za-z]+)\)$")
_WHERE_RESOLVE = re.compile(r"^(?P<path>[A-Za-z.]+)\.where\(resolve\(\) is (?P<type>[A-Za-z]+)\)$")
_WHERE_EQ = re.compile(r"^(?P<path>[A-Za-z.]+)\.where\((?P<field>[a-z]+)='(?P<value>[^']*)'\)$")
_PLAIN = re.compile(r"^[A-Za-z]+(\.[A-Za-z]+)*$")


@dataclass(frozen=True)
class Step:
    name: str
    choice_type: str | None = None  # only for the element that `as Type` applies to


def _children(node, name: str, choice_type: str | None) -> Iterable:
    if not isinstance(node, dict):
        return []
    if choice_type is not None:
        key = name + choice_type[0].upper() + choice_type[1:]
        values = node.get(key)
    elif name in node:
        values = node[name]
    else:
        # A choice element named without its type (Observation.effective): any value[x] key.
        values = [
            v
            for k, v in node.items()
            if k.startswith(name) and k[len(name) : len(name) + 1].isupper()
        ]
        return [x for v in values for x in (v if isinstance(v, list) else [v])]
    if values is None:
        return []
    return values if isinstance(values, list) else [values]


def _navigate(resource: dict, steps: list[Step]) -> list:
    nodes = [resource]
    for step in steps:
        nodes = [child for node in nodes for child in _children(node, step.name, step.choice_type)]
    return nodes


def _steps(dotted: str, resource_type: str) -> list[Step]:
    parts = dotted.split(".")
    if parts[0] not in (resource_type, "Resource", "DomainResource"):
        raise Unsupported(f"expression for another type: {dotted}")
    return [Step(p) for p in parts[1:]]


def _reference_type(ref) -> str | None:
    if not isinstance(ref, dict) or not isinstance(ref.get("reference"), str):
        return None
    parts = ref["reference"].split("/")
    if len(parts) >= 4 and parts[-2] == "_history":  # Type/id/_history/vid
        parts = parts[:-2]
    return parts[-2] if len(parts) >= 2 else None


def _compile_one(expr: str, resource_type: str) -> Path:
    expr = expr.strip()
    if m := _AS.match(expr):
        steps = _steps(m["path"], resource_type)
        steps[-1] = Step(steps[-1].name, m["type"])
        rest = [Step(p) for p in m["rest"].split(".") if p]
        return lambda r: _navigate(r, steps + rest)
    if m := _AS_FUNCTION.match(expr):  # Condition.onset.as(dateTime): the same choice
        steps = _steps(m["path"], resource_type)
        steps[-1] = Step(steps[-1].name, m["type"])
        return lambda r: _navigate(r, steps)
    if m := _WHERE_RESOLVE.match(expr):
        steps, target = _steps(m["path"], resource_type), m["type"]
        return lambda r: [v for v in _navigate(r, steps) if _reference_type(v) == target]
    if m := _WHERE_EQ.match(expr):
        steps, field, value = _steps(m["path"], resource_type), m["field"], m["value"]
        return lambda r: [
            v for v in _navigate(r, steps) if isinstance(v, dict) and v.get(field) == value
        ]
    if _PLAIN.match(expr):
        steps = _steps(expr, resource_type)
        return lambda r: _navigate(r, steps)
    raise Unsupported(expr)


def compile_expression(expression: str, resource_type: str) -> Path:
    """Compile a SearchParameter expression (restricted to `resource_type`) into a function."""
    parts = [
        p
        for p in _split_union(expression)
        if _root(p) in (resource_type, "Resource", "DomainResource")
    ]
    paths = [_compile_one(p, resource_type) for p in parts]
    if not paths:
        raise Unsupported(f"no expression for {resource_type}")
    return lambda r: [v for path in paths for v in path(r)]


def _root(part: str) -> str:
    return part.lstrip("(").split(".")[0].strip()


def _split_union(expression: str) -> list[str]:
    out, depth, current = [], 0, ""
    for ch in expression:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "|" and depth == 0:
            out.append(current.strip())
            current = ""
        else:
            current += ch
    out.append(current.strip())
    return out
