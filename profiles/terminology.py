"""Document types the record accepts (DMP value set JDV_J66) and their class (TRE_A03): https://mos.esante.gouv.fr/NOS/JDV_J66-TypeCode-DMP/FHIR/JDV-J66-TypeCode-DMP"""

import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any

from profiles.issues import ProfileIssue

LOINC = "http://loinc.org"
CLASS_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
# Other spellings of LOINC met in French documents: the NOS copy (TRE_A04, still in JDV_J66) and the OID.
SYSTEM_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "https://mos.esante.gouv.fr/NOS/TRE_A04-Loinc/FHIR/TRE-A04-Loinc": LOINC,
        "urn:oid:2.16.840.1.113883.6.1": LOINC,
    }
)


def _load_document_types() -> dict[str, str | None]:
    """Read valuesets/document-types.json into "system|code" -> class code (None: class unknown here)."""
    text = resources.files(__package__).joinpath("valuesets/document-types.json").read_text("utf-8")
    types = {f"{row['system']}|{row['code']}": row["class"] for row in json.loads(text)}
    for alias, system in SYSTEM_ALIASES.items():
        prefix = f"{system}|"
        types.update(
            {
                f"{alias}|{key[len(prefix) :]}": cls
                for key, cls in list(types.items())
                if key.startswith(prefix)
            }
        )
    return types


# "system|code" of an accepted DocumentReference.type -> its DocumentReference.category code in
# CLASS_SYSTEM, or None where the type-to-class table (NOS ASS_X04) was not at hand.
DOCUMENT_TYPES: Mapping[str, str | None] = MappingProxyType(_load_document_types())


def type_issues(document: Mapping[str, Any], where: str) -> list[ProfileIssue]:
    """A DocumentReference's type outside JDV_J66-TypeCode-DMP, or filed under another class.

    PDSM4DMP's DocumentEntry model derives the class (`category`) from the type by the NOS table
    ASS_X04 (input/fsh/Model/DocumentEntry.fsh, mapping DocumentEntryCDA).
    """
    type_ = document.get("type")
    codings = type_.get("coding") if isinstance(type_, Mapping) else None
    keys = [
        f"{c.get('system', '')}|{c.get('code', '')}"
        for c in (codings if isinstance(codings, list) else [])
        if isinstance(c, Mapping) and c.get("code")
    ]
    accepted = [key for key in keys if key in DOCUMENT_TYPES]
    if keys and not accepted:
        message = (
            f"type {', '.join(keys)} is not a document type the national record accepts "
            "(value set JDV_J66-TypeCode-DMP)"
        )
        return [ProfileIssue(message, f"{where}.type")]
    expected = DOCUMENT_TYPES[accepted[0]] if accepted else None
    categories = document.get("category")
    classes = [
        c.get("code")
        for concept in (categories if isinstance(categories, list) else [])
        if isinstance(concept, Mapping)
        for c in (concept.get("coding") if isinstance(concept.get("coding"), list) else [])
        if isinstance(c, Mapping) and c.get("system") == CLASS_SYSTEM
    ]
    if expected and classes and expected not in classes:
        message = (
            f"category {', '.join(map(str, classes))} is not the class of type "
            f"{accepted[0]}, which is {expected} (TRE_A03-ClasseDocument)"
        )
        return [ProfileIssue(message, f"{where}.category")]
    return []
