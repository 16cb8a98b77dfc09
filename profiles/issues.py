"""Schema errors as profile issues with a FHIRPath-like location: https://hl7.org/fhirpath/N1/"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from jsonschema.exceptions import ValidationError, best_match

MESSAGES = {
    "not": "{label} must not be present",
    "const": "{label} must be {value!r}",
    "enum": "{label} must be one of {choices}",
    "minItems": "{label} must have at least {value} item(s)",
    "maxItems": "{label} must have at most {value} item(s)",
    "minimum": "{label} must be at least {value}",
    "type": "{label} must be a JSON {value}",
}


@dataclass(frozen=True)
class ProfileIssue:
    """One way a resource fails a profile: what, and where (e.g. `Bundle.entry[2].resource.status`)."""

    message: str
    expression: str


def expression(root: str, path: Iterable[str | int]) -> str:
    """`root` followed by the path: keys as `.key`, list positions as `[n]`."""
    return root + "".join(f"[{step}]" if isinstance(step, int) else f".{step}" for step in path)


def label(path: Sequence[str | int]) -> str:
    """The last two element names within the innermost resource: `attachment.hash`, `author[0].reference`."""
    inner = [i for i, step in enumerate(path) if step == "resource"]
    path = path[inner[-1] + 1 :] if inner and inner[-1] + 1 < len(path) else path
    names = [i for i, step in enumerate(path) if isinstance(step, str)]
    if not names:
        return "the resource"
    start = names[-2] if len(names) > 1 else names[-1]
    return expression("", path[start:]).lstrip(".")


def in_order(found: Iterable[ProfileIssue]) -> list[ProfileIssue]:
    """Deduplicated, ordered by location (`entry[2]` before `entry[10]`), then message."""

    def key(issue: ProfileIssue) -> tuple[list[str | int], str]:
        parts = re.split(r"\[(\d+)\]", issue.expression)
        return [int(part) if i % 2 else part for i, part in enumerate(parts)], issue.message

    return sorted(dict.fromkeys(found), key=key)


def issues(errors: Iterable[ValidationError], root: str) -> list[ProfileIssue]:
    """One issue per schema error."""
    return [_issue(error, root) for error in errors]


def _issue(error: ValidationError, root: str) -> ProfileIssue:
    if error.validator in ("anyOf", "oneOf") and not _schema(error).get("errorMessage"):
        inner = best_match(error.context) if error.context else None
        if inner is not None:
            return _issue(inner, root)
    path = list(error.absolute_path)
    schema = _schema(error)
    comment = schema.get("$comment")
    if error.validator == "required":
        missing = next(
            name
            for name in error.validator_value
            if name not in error.instance and error.message == f"{name!r} is a required property"
        )
        path.append(missing)
        comment = schema.get("properties", {}).get(missing, {}).get("$comment")
        message = f"{label(path)} is required"
    elif schema.get("errorMessage"):
        message = schema["errorMessage"]
        if message.startswith("must"):
            message = f"{label(path)} {message}"
    elif error.validator in MESSAGES:
        value = error.validator_value
        choices = ", ".join(map(repr, value)) if isinstance(value, list) else value
        message = MESSAGES[error.validator].format(label=label(path), value=value, choices=choices)
    else:
        message = f"{label(path)}: {error.message}"
    if comment:
        message = f"{message} ({comment})"
    return ProfileIssue(message=message, expression=expression(root, path))


def _schema(error: ValidationError) -> dict:
    return error.schema if isinstance(error.schema, dict) else {}
