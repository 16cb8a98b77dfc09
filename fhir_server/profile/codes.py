"""The codes of the patient's profile (docs/domain.md#the-patients-profile gives their sources).

LOINC for the vital signs (https://hl7.org/fhir/R4/observation-vitalsigns.html), UCUM for their
units, ANS's TRE_R260-HL7RoleClass for the trusted person and TRE_A05 for advance directives.
"""

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
HEIGHT, WEIGHT, BMI = "8302-2", "29463-7", "39156-5"
VITAL_SIGNS = {
    "system": "http://terminology.hl7.org/CodeSystem/observation-category",
    "code": "vital-signs",
    "display": "Vital Signs",
}

# The trusted person (personne de confiance, CSP L1111-6): ANS's value set JDV_J265
# RoleMembreCercleDeSoins-CISIS draws it from TRE_R260-HL7RoleClass, code NOK.
ROLE_CLASS_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_R260-HL7RoleClass/FHIR/TRE-R260-HL7RoleClass"
)
TRUSTED_PERSON = "NOK"

# Advance directives (directives anticipées, CSP L1111-11): TRE_A05 EXPPAT_3, class 90 of TRE_A03.
DOC_TYPE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire"
ADVANCE_DIRECTIVES = "EXPPAT_3"


def has_coding(concept, system: str, code: str) -> bool:
    """Does a CodeableConcept (or a list of them) hold this coding?"""
    concepts = concept if isinstance(concept, list) else [concept]
    return any(
        isinstance(c, dict)
        and isinstance(c.get("coding"), list)
        and any(
            isinstance(x, dict) and x.get("system") == system and x.get("code") == code
            for x in c["coding"]
        )
        for c in concepts
    )


def is_trusted_person(resource: dict) -> bool:
    return resource.get("resourceType") == "RelatedPerson" and has_coding(
        resource.get("relationship"), ROLE_CLASS_SYSTEM, TRUSTED_PERSON
    )


def is_advance_directives(resource: dict) -> bool:
    return resource.get("resourceType") == "DocumentReference" and has_coding(
        resource.get("type"), DOC_TYPE_SYSTEM, ADVANCE_DIRECTIVES
    )


def vital_sign(resource: dict) -> str | None:
    """HEIGHT, WEIGHT or BMI when `resource` is an Observation of one, else None."""
    if resource.get("resourceType") != "Observation":
        return None
    for code in (HEIGHT, WEIGHT, BMI):
        if has_coding(resource.get("code"), LOINC, code):
            return code
    return None
