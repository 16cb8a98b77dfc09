"""Launch context: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

EHR launch: professional software registers the patient it is working on and receives an opaque,
short-lived `launch` value that it passes to the authorization request. Standalone launch with
`launch/patient`: a patient's own login puts their own Patient in context.
"""

from datetime import timedelta

from authlib.oauth2.rfc6749 import InvalidRequestError, InvalidScopeError

from smart_auth import opaque
from smart_auth.grantee import PURPOSES_OF_USE, Grantee
from smart_auth.models import LaunchContext, utcnow

LAUNCH_LIFETIME = 300  # seconds


def register_launch(client_id: str, patient: str) -> tuple[str, int]:
    """Store a launch context; returns (the opaque launch value, its lifetime in seconds)."""
    reference = patient if patient.startswith("Patient/") else f"Patient/{patient}"
    value = opaque.new_value(24)
    LaunchContext(
        launch_id=opaque.digest(value),
        client_id=client_id,
        patient=reference,
        expires_at=utcnow() + timedelta(seconds=LAUNCH_LIFETIME),
    ).save()
    return value, LAUNCH_LIFETIME


def _launch_patient(launch: str, client_id: str) -> str:
    record = LaunchContext.objects(launch_id=opaque.digest(launch), client_id=client_id).first()
    if record is None or record.expires_at <= utcnow():
        raise InvalidRequestError("Unknown or expired 'launch' for this client")
    return record.patient


def resolve(fhir_user: str, scope: str, params: dict, represents: str | None = None) -> Grantee:
    """The context an authorization request gives the person who approved it.

    `represents`: the Patient a legal representative's account acts for (their record in context).
    """
    purpose = params.get("purpose_of_use") or "normal"
    if purpose not in PURPOSES_OF_USE:
        raise InvalidRequestError(f"purpose_of_use must be one of {', '.join(PURPOSES_OF_USE)}")
    is_patient = fhir_user.startswith(("Patient/", "RelatedPerson/"))
    if is_patient and purpose != "normal":
        raise InvalidRequestError("A patient's own access has purpose_of_use 'normal'")
    scopes = set(scope.split())
    patient, banner = None, True
    if is_patient:
        # A patient's login is always confined to their own record, launch/patient or not; a
        # legal representative's to the record of the person they represent.
        patient = fhir_user if fhir_user.startswith("Patient/") else represents
        if patient is None:
            raise InvalidRequestError("This account represents nobody")
    elif params.get("launch"):
        patient, banner = _launch_patient(params["launch"], params["client_id"]), False
    elif "launch/patient" in scopes:
        raise InvalidScopeError(
            description="launch/patient for a professional needs an EHR launch "
            "(register it at /auth/launch and pass 'launch'); there is no patient picker"
        )
    if purpose != "normal":
        # CSP L1111-17: emergency access is to one person's record, and is justified.
        if patient is None:
            raise InvalidRequestError(
                f"purpose_of_use={purpose} needs the patient in context (an EHR launch)"
            )
        if not (params.get("purpose_reason") or "").strip():
            raise InvalidRequestError(f"purpose_of_use={purpose} needs a purpose_reason")
    return Grantee(
        fhir_user=fhir_user,
        patient=patient,
        purpose_of_use=purpose,
        purpose_reason=params.get("purpose_reason") or None,
        need_patient_banner=banner,
    )
