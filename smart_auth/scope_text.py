"""Requested scopes in plain words, for the consent page.

SMART App Launch 2, "Scopes and Launch Context"
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): `r`/`s` (v1 `read`) read,
`c` add, `u` change, `d` delete; `launch/patient`, `openid fhirUser`, `offline_access` and
`online_access` become sentences too. Unknown scopes are shown as they are, never hidden.
"""

import re
from dataclasses import dataclass

from carnet_core.scopes import InvalidScope, parse_resource_scope

# What each kind of data is called for the person (patient/ scopes say "your", user/ "patients'").
DATA_NAMES = {
    "*": "health data",
    "AllergyIntolerance": "allergies",
    "AuditEvent": "access history (who looked at the record)",
    "Binary": "document files",
    "CarePlan": "care plans",
    "CareTeam": "care teams",
    "Composition": "structured documents",
    "Condition": "health problems and diagnoses",
    "Consent": "privacy choices",
    "Coverage": "health insurance details",
    "DiagnosticReport": "test and imaging reports",
    "DocumentReference": "documents",
    "Encounter": "visits and hospital stays",
    "FamilyMemberHistory": "family history",
    "Immunization": "vaccinations",
    "MedicationDispense": "dispensed medications",
    "MedicationRequest": "prescriptions",
    "MedicationStatement": "medications",
    "Observation": "test results and measurements",
    "Organization": "health organisations",
    "Patient": "identity and contact details",
    "Practitioner": "health professionals",
    "Procedure": "procedures and operations",
    "QuestionnaireResponse": "questionnaire answers",
}

OTHER_SCOPES = {
    "openid": "Know who you are",
    "fhirUser": "Know which record or professional profile is yours",
    "profile": "See your name",
    "launch/patient": "Know which patient record you open with it",
    "launch": "Be opened from your professional software with the current patient",
    "offline_access": "Keep its access when you are not using it, until you revoke it",
    "online_access": "Keep its access while you are using it",
}


@dataclass(frozen=True)
class Permission:
    """One sentence of the consent page; `writes` marks the ones that change data."""

    text: str
    writes: bool = False


def describe(scope: str) -> list[Permission]:
    """The sentences that tell a person what `scope` (space-separated) lets an app do."""
    grouped: dict[tuple[str, str, tuple], set[str]] = {}
    others: list[Permission] = []
    for item in dict.fromkeys(scope.split()):
        try:
            parsed = parse_resource_scope(item)
        except InvalidScope:
            parsed = None
        if parsed is None:
            others.append(Permission(OTHER_SCOPES.get(item, f"Use the permission '{item}'")))
            continue
        key = (parsed.context, parsed.resource_type, parsed.query)
        grouped.setdefault(key, set()).update(parsed.permissions)
    data = [_sentence(*key, perms) for key, perms in grouped.items()]
    # Reading first, then writing, then the rest: what matters most comes first.
    return sorted(data, key=lambda p: p.writes) + others


def _sentence(context: str, resource_type: str, query: tuple, perms: set[str]) -> Permission:
    verbs = []
    if perms & {"r", "s"}:
        verbs.append("read")
    verbs += [
        verb
        for letter, verb in (("c", "add to"), ("u", "change"), ("d", "delete"))
        if letter in perms
    ]
    owner = {"patient": "your", "user": "patients'", "system": "all patients'"}[context]
    text = f"{_join(verbs).capitalize()} {owner} {_data_name(resource_type)}"
    if query:
        text += " (only " + ", ".join(f"{name} = {value}" for name, value in query) + ")"
    return Permission(text, writes=bool(perms & {"c", "u", "d"}))


def _data_name(resource_type: str) -> str:
    if resource_type in DATA_NAMES:
        return DATA_NAMES[resource_type]
    return re.sub(r"(?<!^)(?=[A-Z])", " ", resource_type).lower() + " records"


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
