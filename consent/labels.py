"""Masking a document from professionals: `MASQUE_PS` (TRE_A07, CSP R1111-49), as a label set.

https://hl7.org/fhir/R4/documentreference-definitions.html#DocumentReference.securityLabel -
labels are a set: masking adds one coding and keeps every other label; unmasking removes only it.
Each change is a new version of the DocumentReference (as in the DMP).
"""

import copy

from consent.codes import VISIBILITY_SYSTEM

MASQUE_PS = "MASQUE_PS"


def _is(concept, code: str) -> bool:
    return isinstance(concept, dict) and any(
        c.get("system") == VISIBILITY_SYSTEM and c.get("code") == code
        for c in concept.get("coding", [])
    )


def is_masked(resource: dict) -> bool:
    return any(_is(concept, MASQUE_PS) for concept in resource.get("securityLabel", []))


def with_mask(resource: dict, masked: bool) -> dict:
    """The resource with MASQUE_PS set or lifted, its other labels untouched."""
    out = copy.deepcopy(resource)
    kept = [c for c in out.get("securityLabel", []) if not _is(c, MASQUE_PS)]
    if masked:
        kept.append(
            {
                "coding": [
                    {
                        "system": VISIBILITY_SYSTEM,
                        "code": MASQUE_PS,
                        "display": "Masqué aux professionnels de santé",
                    }
                ]
            }
        )
    if kept:
        out["securityLabel"] = kept
    else:
        out.pop("securityLabel", None)
    return out
