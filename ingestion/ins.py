"""The INS (Identifiant National de Santé) and its NIR-based matricule: https://esante.gouv.fr/identite-nationale-de-sante

The matricule is 13 digits (sex, year, month, department, commune, order) and a 2-digit
control key, key = 97 - (number mod 97), the Corsican departments 2A and 2B counting as 19 and 18.
A NIA (numéro d'identification d'attente) is laid out and keyed the same way, so every INS
system below gets the same check. FR Core names the systems:
https://hl7.fr/ig/fhir/core/StructureDefinition-fr-core-patient-ins.html
"""

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

INS_NIR = "urn:oid:1.2.250.1.213.1.4.8"
INS_NIA = "urn:oid:1.2.250.1.213.1.4.9"
INS_NIR_TEST = "urn:oid:1.2.250.1.213.1.4.10"
INS_NIR_DEMO = "urn:oid:1.2.250.1.213.1.4.11"

# In order of preference when a Patient carries more than one.
IDENTIFIER_SYSTEMS: tuple[str, ...] = (INS_NIR, INS_NIA, INS_NIR_TEST, INS_NIR_DEMO)

# 1/2: men/women; 3/4: provisional numbers; 7/8: numbers of persons awaiting registration.
SEX_DIGITS = frozenset("123478")
CORSICA = {"2A": "19", "2B": "18"}
DIGITS = frozenset("0123456789")  # ASCII only: str.isdigit() also accepts other scripts' digits
LENGTH = 15


class InvalidIns(ValueError):
    """An INS matricule that is malformed or whose control key is wrong."""


def nir_key(number: str) -> int:
    """The control key of a 13-character NIR number (2A/2B allowed at positions 6-7)."""
    digits = number[:5] + CORSICA.get(number[5:7], number[5:7]) + number[7:]
    return 97 - int(digits) % 97


def check_nir(value: str) -> str:
    """Return the normalised 15-character matricule, or raise InvalidIns saying what is wrong."""
    nir = "".join(value.split()).upper()
    if len(nir) != LENGTH:
        raise InvalidIns(
            f"INS must be {LENGTH} characters (13-digit number and 2-digit key), got {len(nir)}"
        )
    department = nir[5:7]
    for position, char in enumerate(nir, start=1):
        if char in DIGITS or (position in (6, 7) and department in CORSICA):
            continue
        if position in (6, 7):
            raise InvalidIns(
                f"department {department!r} at positions 6-7 must be two digits,"
                " or 2A/2B for Corsica"
            )
        raise InvalidIns(
            f"INS must contain only digits (2A/2B allowed at positions 6-7):"
            f" {char!r} at position {position}"
        )
    if nir[0] not in SEX_DIGITS:
        raise InvalidIns(
            f"first digit (sex) must be one of {', '.join(sorted(SEX_DIGITS))}, got {nir[0]}"
        )
    expected, given = nir_key(nir[:13]), int(nir[13:])
    if given != expected:
        raise InvalidIns(
            f"control key {nir[13:]} does not match the number (expected {expected:02d})"
        )
    return nir


def check_identifier(system: str, value: str) -> str:
    """Check an identifier of one of the INS systems; return the normalised value."""
    if system not in IDENTIFIER_SYSTEMS:
        raise InvalidIns(f"{system!r} is not an INS identifier system")
    return check_nir(value)


def ins_identifier(resource_or_reference: Mapping[str, Any]) -> tuple[str, str] | None:
    """The (system, value) of the INS in a Patient's identifiers or in a Reference to one.

    A Reference is searched in its `identifier`, then in a conditional reference
    `Patient?identifier=<system>|<value>`. Values are returned as given, unchecked.
    """
    identifiers = resource_or_reference.get("identifier")
    if isinstance(identifiers, Mapping):
        identifiers = [identifiers]
    found: dict[str, str] = {}
    for identifier in identifiers if isinstance(identifiers, list) else []:
        if (
            isinstance(identifier, Mapping)
            and identifier.get("use") != "old"
            and isinstance(identifier.get("system"), str)
            and isinstance(identifier.get("value"), str)
        ):
            found.setdefault(identifier["system"], identifier["value"])
    for system, value in _conditional_identifiers(resource_or_reference.get("reference")):
        found.setdefault(system, value)
    for system in IDENTIFIER_SYSTEMS:
        if system in found:
            return system, found[system]
    return None


def _conditional_identifiers(reference: object) -> list[tuple[str, str]]:
    """The system|value pairs of a `Patient?identifier=...` conditional reference."""
    if not isinstance(reference, str) or not reference.startswith("Patient?"):
        return []
    tokens = parse_qs(reference.partition("?")[2]).get("identifier", [])
    return [(token.partition("|")[0], token.partition("|")[2]) for token in tokens if "|" in token]
