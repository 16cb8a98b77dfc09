"""Required bindings: https://hl7.org/fhir/R4/terminologies.html#required

`spec/required-bindings.json` lists, for the resources Carnet stores and the data types they use,
each element bound to a value set with strength `required` that can be enumerated, with its codes.
A `code` must be one of them; a CodeableConcept must hold a coding of the value set's code system
with one of them (a text alone does not say which concept of the value set it is). Bindings to
value sets too large to list here (MIME types, currencies, languages) are not checked.
"""

import json
from importlib import resources as importlib_resources

from carnet_core.errors import Issue

# element path ("Patient.gender", "HumanName.use", "Timing.repeat.when") -> binding
BINDINGS: dict[str, dict] = {
    path: binding
    for owner in json.loads(
        importlib_resources.files("fhir_server.spec").joinpath("required-bindings.json").read_text()
    ).values()
    for path, binding in owner.items()
}


def _value_set(binding: dict) -> str:
    return binding["valueSet"].split("|")[0]


def code_issue(path: str, value: str, expression: str) -> Issue | None:
    """A `code` outside the required value set of the element at `path`."""
    binding = BINDINGS.get(path)
    if binding is None or "system" in binding or value in binding["codes"]:
        return None
    return Issue(
        "code-invalid",
        f"Code '{value[:64]}' is not in the required value set {_value_set(binding)} at "
        f"{expression}",
        expression=[expression],
    )


def concept_issue(path: str, concept: dict, expression: str) -> Issue | None:
    """A CodeableConcept with no coding from the required value set of the element at `path`."""
    binding = BINDINGS.get(path)
    if binding is None or "system" not in binding:
        return None
    codings = concept.get("coding")
    ours = [
        c
        for c in (codings if isinstance(codings, list) else [])
        if isinstance(c, dict) and c.get("system") == binding["system"]
    ]
    if ours and all(c.get("code") in binding["codes"] for c in ours):
        return None
    return Issue(
        "code-invalid",
        f"{expression} must hold a coding of {binding['system']} with one of the codes "
        f"{', '.join(binding['codes'])} (required value set {_value_set(binding)})",
        expression=[expression],
    )
