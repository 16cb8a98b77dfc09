"""JSON Schemas for the French MHD profiles: PDSm (ans.fhir.fr.pdsm, https://interop.esante.gouv.fr/ig/fhir/pdsm/)
and the DMP's reading of it, PDSM4DMP (ans.fhir.fr.pdsm4dmp, https://interop.esante.gouv.fr/ig/fhir/pdsm4dmp).

Each schema says what a profile adds to base FHIR R4 (see README.md for the source of each rule);
the base structure itself is checked by fhir.resources. `validate` also runs the ITI-65 rules that
cross entries (profiles/bundle_rules.py). `known_profiles` lists every canonical URL we validate.
"""

import json
from collections.abc import Callable, Mapping
from functools import cache, partial
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from profiles.bundle_rules import PDSM, PDSM4DMP, Guide, bundle_issues, contained_issues
from profiles.issues import ProfileIssue, in_order, issues
from profiles.terminology import DOCUMENT_TYPES, type_issues

__all__ = [
    "DMP_DOCUMENT_REFERENCE",
    "DMP_PROVIDE_BUNDLE",
    "DMP_SUBMISSION_SET",
    "DOCUMENT_REFERENCE",
    "DOCUMENT_TYPES",
    "PROFILE_BASE",
    "PROFILES",
    "PROVIDE_BUNDLE",
    "SUBMISSION_SET",
    "ProfileIssue",
    "known_profiles",
    "schema_for",
    "validate",
]

PROFILE_BASE = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
PROVIDE_BUNDLE = PROFILE_BASE + "pdsm-comprehensive-provide-document-bundle"
DOCUMENT_REFERENCE = PROFILE_BASE + "pdsm-comprehensive-document-reference"
SUBMISSION_SET = PROFILE_BASE + "pdsm-submissionset-comprehensive"
# PDSM4DMP publishes no resource profile of its own (its StructureDefinitions are logical models of
# the XDS metadata, its examples claim the PDSm profiles): these are our names for the PDSm profiles
# as the guide applies them, the guide's canonical followed by the PDSm profile's id.
DMP_BASE = "https://interop.esante.gouv.fr/ig/fhir/pdsm4dmp/StructureDefinition/"
DMP_PROVIDE_BUNDLE = DMP_BASE + "pdsm-comprehensive-provide-document-bundle"
DMP_DOCUMENT_REFERENCE = DMP_BASE + "pdsm-comprehensive-document-reference"
DMP_SUBMISSION_SET = DMP_BASE + "pdsm-submissionset-comprehensive"
# canonical URL -> (schema file name, the guide whose contained-reference rules apply)
_SCHEMAS: Mapping[str, tuple[str, Guide]] = {
    PROVIDE_BUNDLE: ("pdsm-comprehensive-provide-document-bundle", PDSM),
    DOCUMENT_REFERENCE: ("pdsm-comprehensive-document-reference", PDSM),
    SUBMISSION_SET: ("pdsm-submissionset-comprehensive", PDSM),
    DMP_PROVIDE_BUNDLE: ("pdsm4dmp-comprehensive-provide-document-bundle", PDSM4DMP),
    DMP_DOCUMENT_REFERENCE: ("pdsm4dmp-comprehensive-document-reference", PDSM4DMP),
    DMP_SUBMISSION_SET: ("pdsm4dmp-submissionset-comprehensive", PDSM4DMP),
}
PROFILES = tuple(_SCHEMAS)
_BUNDLES = (PROVIDE_BUNDLE, DMP_PROVIDE_BUNDLE)


def _known(profile_url: str) -> str | None:
    """The canonical URL we have a schema for (a `|version` suffix is ignored), or None."""
    url = profile_url.partition("|")[0]
    return url if url in _SCHEMAS else None


@cache
def _schemas() -> dict[str, dict[str, Any]]:
    folder = resources.files(__package__)
    return {
        name: json.loads(folder.joinpath(f"{name}.schema.json").read_text("utf-8"))
        for name, _ in _SCHEMAS.values()
    }


# Keywords that give a subschema a scope of its own: a definition holding one stays a $ref.
_SCOPED = ("$id", "$anchor", "$dynamicAnchor", "$dynamicRef")


def _plain(node) -> bool:
    if isinstance(node, dict):
        return not any(k in node for k in _SCOPED) and all(map(_plain, node.values()))
    return all(map(_plain, node)) if isinstance(node, list) else True


def _inlined(schema: dict) -> dict:
    """The schema with each `$ref` to one of its own plain `$defs` replaced by that definition
    (beside its siblings, under `allOf`): the same checks and messages, without resolving a
    JSON pointer on every use (a push's Bundle resolved about a hundred)."""
    defs = schema.get("$defs", {})

    def walk(node, seen: frozenset):
        if isinstance(node, list):
            return [walk(item, seen) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: walk(value, seen) for key, value in node.items()}
        ref = node.get("$ref")
        name = ref.removeprefix("#/$defs/") if isinstance(ref, str) else None
        if ref != name and name in defs and name not in seen and _plain(defs[name]):
            target = walk(defs[name], seen | {name})
            del out["$ref"]
            if not out:
                return target
            out["allOf"] = [*out.get("allOf", []), target]
        return out

    return walk(schema, frozenset())


@cache
def _registry() -> Registry:
    """Every schema by its $id (PDSM4DMP's extend PDSm's through dynamic anchors), crawled once:
    an uncrawled registry finds a $dynamicRef's anchors by crawling every schema again on each
    lookup, which was half of a push's validation."""
    return (
        Registry()
        .with_resources(
            (schema["$id"], Resource.from_contents(_inlined(schema)))
            for schema in _schemas().values()
        )
        .crawl()
    )


@cache
def _validator(name: str) -> Draft202012Validator:
    """Built once per schema and reused by every validation."""
    return Draft202012Validator(_inlined(_schemas()[name]), registry=_registry())


def schema_for(profile_url: str) -> dict[str, Any] | None:
    """The JSON Schema of a profile given its canonical URL, or None if we have none."""
    url = _known(profile_url)
    return json.loads(json.dumps(_schemas()[_SCHEMAS[url][0]])) if url else None


def validate(resource: Mapping[str, Any], profile: str) -> list[ProfileIssue]:
    """Every way `resource` fails the `profile` (canonical URL); [] when it conforms.

    Raises ValueError for a profile we have no schema for (see PROFILES).
    """
    url = _known(profile)
    if url is None:
        raise ValueError(f"no schema for profile {profile!r}")
    name, guide = _SCHEMAS[url]
    root = resource.get("resourceType") if isinstance(resource.get("resourceType"), str) else "$"
    found = issues(_validator(name).iter_errors(resource), root)
    if url in _BUNDLES:
        found += bundle_issues(resource, guide)
    else:
        found += contained_issues(resource, root, guide)
    if guide is PDSM4DMP:
        found += _document_type_issues(resource, root)
    return in_order(found)


def _document_type_issues(resource: Mapping[str, Any], root: str) -> list[ProfileIssue]:
    """The DMP's document types (JDV_J66) and their class, for PDSM4DMP: each DocumentReference's."""
    if resource.get("resourceType") == "DocumentReference":
        return type_issues(resource, root)
    entries = resource.get("entry") if resource.get("resourceType") == "Bundle" else None
    return [
        issue
        for index, entry in enumerate(entries if isinstance(entries, list) else [])
        if isinstance(entry, Mapping)
        and isinstance(entry.get("resource"), Mapping)
        and entry["resource"].get("resourceType") == "DocumentReference"
        for issue in type_issues(entry["resource"], f"Bundle.entry[{index}].resource")
    ]


def known_profiles() -> dict[str, Callable[[Mapping[str, Any]], list[ProfileIssue]]]:
    """Every canonical URL we validate against -> a function answering its issues ([] if none).

    For `$validate?profile=` (https://hl7.org/fhir/R4/resource-operation-validate.html).
    """
    return {url: partial(validate, profile=url) for url in PROFILES}
