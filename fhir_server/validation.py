"""Resource validation: R4B structure (fhir.resources) and required code bindings.

https://hl7.org/fhir/R4/validation.html, https://hl7.org/fhir/R4/terminologies.html#required
Profiles (profiles/) add JSON Schema checks on top through `extra_checks`.
"""

import json
from collections.abc import Callable
from importlib import resources as importlib_resources

from pydantic import ValidationError

from fhir_server import resources
from fhir_server.errors import BadRequest, InvalidResource, Issue, NotFound

_BINDINGS: dict[str, dict[str, dict]] = json.loads(
    importlib_resources.files("fhir_server.spec").joinpath("required-bindings.json").read_text()
)

ProfileCheck = Callable[[dict], list[Issue]]


def _location(loc: tuple, resource_type: str) -> str:
    path = resource_type
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif part != "__root__":
            path += f".{part}"
    return path


def _pydantic_issues(error: ValidationError, resource_type: str) -> list[Issue]:
    issues = []
    for err in error.errors():
        loc = tuple(p for p in err.get("loc", ()) if not str(p).startswith("function-"))
        expression = _location(loc, resource_type)
        kind = err.get("type", "")
        if kind == "extra_forbidden":
            code, text = "structure", f"Unknown element '{loc[-1] if loc else '?'}'"
        elif kind.endswith("missing"):
            code, text = "required", f"Missing required element '{loc[-1] if loc else '?'}'"
        else:
            code, text = "value", err.get("msg", "Invalid value")
        issues.append(Issue(code, f"{text} at {expression}", expression=[expression]))
    return issues


def _walk_codes(value, path: str, resource_type: str, expr: str, issues: list[Issue]):
    """Check every element at `path` (dotted, below the resource) against required bindings."""
    bindings = _BINDINGS.get(resource_type, {})
    if isinstance(value, dict):
        for key, child in value.items():
            child_path = f"{path}.{key}"
            child_expr = f"{expr}.{key}"
            binding = bindings.get(child_path)
            if binding is not None:
                values = child if isinstance(child, list) else [child]
                for i, code in enumerate(values):
                    if isinstance(code, str) and code not in binding["codes"]:
                        where = f"{child_expr}[{i}]" if isinstance(child, list) else child_expr
                        issues.append(
                            Issue(
                                "code-invalid",
                                f"Code '{code}' is not in the required value set "
                                f"{binding['valueSet'].split('|')[0]} at {where}",
                                expression=[where],
                            )
                        )
            elif isinstance(child, (dict, list)) and key not in ("contained", "extension"):
                _walk_codes(child, child_path, resource_type, child_expr, issues)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _walk_codes(item, path, resource_type, f"{expr}[{i}]", issues)


def validate(resource: dict, expected_type: str, extra_checks: list[ProfileCheck] = ()) -> None:
    """Raise InvalidResource (422) listing every problem; return None when `resource` is valid."""
    if not isinstance(resource, dict):
        raise BadRequest("The body must be a JSON object (a FHIR resource)")
    actual = resource.get("resourceType")
    if not isinstance(actual, str) or not actual:
        raise BadRequest("The resource has no resourceType", expression="resourceType")
    if actual != expected_type:
        raise BadRequest(
            f"resourceType '{actual}' does not match the endpoint's type '{expected_type}'",
            expression="resourceType",
        )
    if not resources.is_supported(actual):
        raise NotFound(f"Resource type '{actual}' is not supported by this server")
    issues: list[Issue] = []
    try:
        resources.model(actual).model_validate(resource)
    except ValidationError as exc:
        issues.extend(_pydantic_issues(exc, actual))
    except (ValueError, TypeError) as exc:
        issues.append(Issue("value", f"Invalid resource: {exc}", expression=[actual]))
    _walk_codes(resource, actual, actual, actual, issues)
    for check in extra_checks:
        issues.extend(check(resource))
    if issues:
        raise InvalidResource(issues[0].diagnostics, issues=issues)
