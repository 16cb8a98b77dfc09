"""Subsetting of returned resources: `_summary` and `_elements`.

https://hl7.org/fhir/R4/search.html#summary, https://hl7.org/fhir/R4/search.html#elements
A subsetted resource carries the SUBSETTED tag, as the specification requires.
"""

import json
from importlib import resources as importlib_resources

_SUMMARY: dict[str, list[str]] = json.loads(
    importlib_resources.files("fhir_server.spec").joinpath("summary-elements.json").read_text()
)
SUBSETTED = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "SUBSETTED",
}


def _tag(resource: dict) -> dict:
    meta = dict(resource.get("meta", {}))
    tags = [t for t in meta.get("tag", []) if t.get("code") != "SUBSETTED"]
    meta["tag"] = tags + [SUBSETTED]
    resource["meta"] = meta
    return resource


def summarize(resource: dict, summary: str | None, elements: list[str] | None) -> dict:
    """Return the resource as `_summary` / `_elements` ask (the input is not modified)."""
    if summary in (None, "false") and not elements:
        return resource
    resource_type = resource["resourceType"]
    if summary == "true":
        keep = set(_SUMMARY.get(resource_type, [])) | {"id", "meta"}
        out = {k: v for k, v in resource.items() if k in keep or k == "resourceType"}
    elif summary == "text":
        out = {k: v for k, v in resource.items() if k in ("resourceType", "id", "meta", "text")}
    elif summary == "data":
        out = {k: v for k, v in resource.items() if k != "text"}
    else:
        keep = set(elements or []) | {"id", "meta", "resourceType"}
        out = {k: v for k, v in resource.items() if k in keep}
    return _tag(out)
