"""Whom a token is issued for: the person, the patient in context and the purpose of use.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#launch-context-arrives-with-your-access_token
Carried from the authorization code (or the refresh token) into the access token's claims.
"""

from dataclasses import dataclass

PURPOSES_OF_USE = ("normal", "bris_de_glace", "centre_15")  # TRE_R248 access modes


@dataclass(frozen=True)
class Grantee:
    fhir_user: str  # "Patient/<id>", "Practitioner/<id>" or "RelatedPerson/<id>" (a representative)
    patient: str | None = None  # "Patient/<id>"
    purpose_of_use: str = "normal"
    purpose_reason: str | None = None
    need_patient_banner: bool = True
    family: str | None = None  # the code a chain of tokens comes from (smart_auth.replay)

    @property
    def actor(self) -> str:
        # A legal representative acts on the patient's record as the patient would.
        if self.fhir_user.startswith(("Patient/", "RelatedPerson/")):
            return "patient"
        return "practitioner"

    @classmethod
    def of(cls, record) -> "Grantee":
        """From a stored AuthorizationCode or RefreshToken."""
        return cls(
            fhir_user=record.fhir_user,
            patient=record.patient,
            purpose_of_use=record.purpose_of_use or "normal",
            purpose_reason=record.purpose_reason,
            need_patient_banner=bool(record.need_patient_banner),
            family=getattr(record, "family", None) or getattr(record, "code_hash", None),
        )
