"""The codes the access policy reads and writes: TRE_A07, TRE_R248, HL7 v3.

Where each comes from: docs/domain.md#codes-at-a-glance.
https://hl7.org/fhir/R4/consent.html (privacy Consents), https://hl7.org/fhir/R4/auditevent.html
"""

from datetime import timedelta

# TRE_A07-StatutVisibiliteDocument, in DocumentReference.securityLabel.
VISIBILITY_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/TRE-A07-StatutVisibiliteDocument"
MASQUE_PS = "MASQUE_PS"
INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
MASKED_LABEL = f"{VISIBILITY_SYSTEM}|{MASQUE_PS}"
INVISIBLE_LABEL = f"{VISIBILITY_SYSTEM}|{INVISIBLE_PATIENT}"
INVISIBLE_REPRESENTATIVES = "INVISIBLE_REPRESENTANTS_LEGAUX"
INVISIBLE_TO_REPRESENTATIVES_LABEL = f"{VISIBILITY_SYSTEM}|{INVISIBLE_REPRESENTATIVES}"
# Labels only professionals set or lift (docs/domain.md#security-labels); the patient's side
# never touches them.
PROFESSIONAL_LABELS = (INVISIBLE_LABEL, INVISIBLE_TO_REPRESENTATIVES_LABEL)
# CSP R1111-53: the patient is told after two weeks, the document shows itself after one month.
INVISIBLE_PATIENT_NOTICE = timedelta(days=14)
INVISIBLE_PATIENT_DELAY = timedelta(days=30)

# HL7 v3 ActCode NOPAT ("no disclosure to patient, family or caregivers"), in meta.security of the
# AuditEvent that keeps a request's parameters for the operator: the patient's side never reads it.
NOPAT_LABEL = "http://terminology.hl7.org/CodeSystem/v3-ActCode|NOPAT"

# TRE_R248_ModeAcces: the access mode a professional's token carries.
ACCESS_MODE_SYSTEM = "https://mos.esante.gouv.fr/NOS/TRE_R248_ModeAcces/FHIR/TRE-R248-ModeAcces"
NORMAL, BREAK_GLASS, SAMU = "normal", "bris_de_glace", "centre_15"
EMERGENCY_MODES = (BREAK_GLASS, SAMU)
# HL7 v3 ActReason equivalents, for software outside France.
ACT_REASON_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
ACT_REASON = {BREAK_GLASS: "BTG", SAMU: "ETREAT", NORMAL: "TREAT"}

# Consent.scope of the patient's choices, and the codings a refusal of emergency access names.
CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
PATIENT_PRIVACY = "patient-privacy"
EMERGENCY_PURPOSES = {
    (ACCESS_MODE_SYSTEM, BREAK_GLASS): BREAK_GLASS,
    (ACCESS_MODE_SYSTEM, SAMU): SAMU,
    (ACT_REASON_SYSTEM, "BTG"): BREAK_GLASS,
    (ACT_REASON_SYSTEM, "ETREAT"): SAMU,
}

# Resource types every authenticated caller may read: the health directory.
DIRECTORY_TYPES = frozenset({"Practitioner", "PractitionerRole", "Organization"})
# The care history the health insurer knows (visits, dispensed medicines): brought in by the
# operator's bulk import and read like any entry of the record (docs/domain.md#who-writes-what).
CARE_HISTORY_TYPES = frozenset({"Encounter", "MedicationDispense"})
# The patient's own business: who looked at the record, and their privacy choices.
PATIENT_PRIVATE_TYPES = frozenset({"AuditEvent", "Consent"})
