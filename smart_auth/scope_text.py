"""Requested scopes in plain words, for the consent page.

SMART App Launch 2, "Scopes and Launch Context"
(https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html): `r`/`s` (v1 `read`) read,
`c` add, `u` change, `d` delete; `launch/patient`, `openid fhirUser`, `offline_access` and
`online_access` become sentences too. Unknown scopes are shown as they are, never hidden.
In English or in French (smart_auth.languages), the French written here with its grammar.
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


DATA_NAMES_FR = {
    "*": "données de santé",
    "AllergyIntolerance": "allergies",
    "AuditEvent": "historique des accès (qui a consulté le dossier)",
    "Binary": "fichiers des documents",
    "CarePlan": "plans de soins",
    "CareTeam": "équipes de soins",
    "Composition": "documents structurés",
    "Condition": "problèmes de santé et diagnostics",
    "Consent": "choix de confidentialité",
    "Coverage": "informations d'assurance maladie",
    "DiagnosticReport": "comptes rendus d'examens et d'imagerie",
    "DocumentReference": "documents",
    "Encounter": "consultations et séjours à l'hôpital",
    "Immunization": "vaccinations",
    "MedicationRequest": "ordonnances",
    "MedicationStatement": "médicaments",
    "Observation": "résultats d'examens et mesures",
    "Organization": "établissements de santé",
    "Patient": "données d'identité et coordonnées",
    "Practitioner": "professionnels de santé",
    "Procedure": "actes et opérations",
    "QuestionnaireResponse": "réponses aux questionnaires",
}

OTHER_SCOPES_FR = {
    "openid": "Savoir qui vous êtes",
    "fhirUser": "Savoir quel dossier ou quel profil professionnel est le vôtre",
    "profile": "Voir votre nom",
    "launch/patient": "Savoir quel dossier patient vous ouvrez avec elle",
    "launch": "Être ouverte depuis votre logiciel professionnel avec le patient en cours",
    "offline_access": "Garder son accès quand vous ne l'utilisez pas, jusqu'à ce que vous le révoquiez",
    "online_access": "Garder son accès pendant que vous l'utilisez",
}


@dataclass(frozen=True)
class Permission:
    """One sentence of the consent page; `writes` marks the ones that change data."""

    text: str
    writes: bool = False


def describe(scope: str, language: str = "en") -> list[Permission]:
    """The sentences that tell a person what `scope` (space-separated) lets an app do, in
    `language` (`en` or `fr`)."""
    french = language == "fr"
    grouped: dict[tuple[str, str, tuple], set[str]] = {}
    others: list[Permission] = []
    for item in dict.fromkeys(scope.split()):
        try:
            parsed = parse_resource_scope(item)
        except InvalidScope:
            parsed = None
        if parsed is None:
            if french:
                text = OTHER_SCOPES_FR.get(item, f"Utiliser la permission « {item} »")
            else:
                text = OTHER_SCOPES.get(item, f"Use the permission '{item}'")
            others.append(Permission(text))
            continue
        key = (parsed.context, parsed.resource_type, parsed.query)
        grouped.setdefault(key, set()).update(parsed.permissions)
    sentence = _sentence_fr if french else _sentence
    data = [sentence(*key, perms) for key, perms in grouped.items()]
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


def _sentence_fr(context: str, resource_type: str, query: tuple, perms: set[str]) -> Permission:
    verbs = ["lire"] if perms & {"r", "s"} else []
    verbs += [
        verb
        for letter, verb in (("c", "ajouter"), ("u", "modifier"), ("d", "supprimer"))
        if letter in perms
    ]
    name = DATA_NAMES_FR.get(resource_type) or f"données « {resource_type} »"
    whose = {
        "patient": f"vos {name}",
        "user": f"les {name} des patients",
        "system": f"les {name} de tous les patients",
    }[context]
    text = f"{_join(verbs, 'et').capitalize()} {whose}"
    if query:
        text += " (seulement " + ", ".join(f"{n} = {v}" for n, v in query) + ")"
    return Permission(text, writes=bool(perms & {"c", "u", "d"}))


def _data_name(resource_type: str) -> str:
    if resource_type in DATA_NAMES:
        return DATA_NAMES[resource_type]
    return re.sub(r"(?<!^)(?=[A-Z])", " ", resource_type).lower() + " records"


def _join(words: list[str], conjunction: str = "and") -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + f" {conjunction} " + words[-1]
