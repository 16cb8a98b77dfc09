"""Document types the record accepts (DMP value set JDV_J66) and their class (TRE_A03): https://mos.esante.gouv.fr/NOS/JDV_J66-TypeCode-DMP/FHIR/JDV-J66-TypeCode-DMP"""

import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

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
