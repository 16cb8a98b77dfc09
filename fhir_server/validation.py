"""Resource validation: FHIR JSON, R4B structure (fhir.resources) and required code bindings.

https://hl7.org/fhir/R4/validation.html, https://hl7.org/fhir/R4/terminologies.html#required
First the JSON itself, element by element (fhir_server.fhir_json, which also checks the required
bindings), so that what is stored is exactly what was validated; then the models (cardinalities,
required elements, the formats of primitives). Profiles (profiles/) add JSON Schema checks on top
through `extra_checks`.
"""

from collections.abc import Callable

from pydantic import ValidationError

from carnet_core.errors import BadRequest, InvalidResource, Issue, NotFound
from fhir_server import fhir_json, resources

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
    # The models only see JSON the walk accepted: they would coerce, or fail, on the rest.
    issues = fhir_json.issues(resource)
    if not issues:
        try:
            resources.model(actual).model_validate(resource)
        except ValidationError as exc:
            issues.extend(_pydantic_issues(exc, actual))
        except (ValueError, TypeError) as exc:
            issues.append(Issue("value", f"Invalid resource: {exc}", expression=[actual]))
    for check in extra_checks:
        issues.extend(check(resource))
    if issues:
        raise InvalidResource(issues[0].diagnostics, issues=issues)
