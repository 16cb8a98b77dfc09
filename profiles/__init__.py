"""JSON Schemas for the French MHD profiles (PDSm, ans.fhir.fr.pdsm): https://interop.esante.gouv.fr/ig/fhir/pdsm/

Each schema says what a PDSm profile adds to base FHIR R4 (see README.md for the source of each rule);
the base structure itself is checked by fhir.resources. `validate` also runs the ITI-65 rules that
cross entries (profiles/bundle_rules.py).
"""

import json
from collections.abc import Mapping
from functools import cache
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from profiles.bundle_rules import bundle_issues, contained_issues
from profiles.issues import ProfileIssue, in_order, issues
from profiles.terminology import DOCUMENT_TYPES

__all__ = [
    "DOCUMENT_REFERENCE",
    "DOCUMENT_TYPES",
    "PROFILE_BASE",
    "PROFILES",
    "PROVIDE_BUNDLE",
    "SUBMISSION_SET",
    "ProfileIssue",
    "schema_for",
    "validate",
]

PROFILE_BASE = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
PROVIDE_BUNDLE = PROFILE_BASE + "pdsm-comprehensive-provide-document-bundle"
DOCUMENT_REFERENCE = PROFILE_BASE + "pdsm-comprehensive-document-reference"
SUBMISSION_SET = PROFILE_BASE + "pdsm-submissionset-comprehensive"
PROFILES = (PROVIDE_BUNDLE, DOCUMENT_REFERENCE, SUBMISSION_SET)


def _name(profile_url: str) -> str | None:
    """The profile's id, from its canonical URL (a `|version` suffix is ignored)."""
    url = profile_url.partition("|")[0]
    return url.removeprefix(PROFILE_BASE) if url in PROFILES else None


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files(__package__)
    return {
        name: json.loads(folder.joinpath(f"{name}.schema.json").read_text("utf-8"))
        for name in (url.removeprefix(PROFILE_BASE) for url in PROFILES)
    }


@cache
def _validator(name: str) -> Draft202012Validator:
    # The Bundle schema refers to the two others by their $id.
    registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in _schemas().values()
    )
    return Draft202012Validator(_schemas()[name], registry=registry)


def schema_for(profile_url: str) -> dict[str, Any] | None:
    """The JSON Schema of a PDSm profile given its canonical URL, or None if we have none."""
    name = _name(profile_url)
    return json.loads(json.dumps(_schemas()[name])) if name else None


def validate(resource: Mapping[str, Any], profile: str) -> list[ProfileIssue]:
    """Every way `resource` fails the PDSm `profile` (canonical URL); [] when it conforms.

    Raises ValueError for a profile we have no schema for (see PROFILES).
    """
    name = _name(profile)
    if name is None:
        raise ValueError(f"no schema for profile {profile!r}")
    root = resource.get("resourceType") if isinstance(resource.get("resourceType"), str) else "$"
    found = issues(_validator(name).iter_errors(resource), root)
    if profile.partition("|")[0] == PROVIDE_BUNDLE:
        found += bundle_issues(resource)
    else:
        found += contained_issues(resource, root)
    return in_order(found)
