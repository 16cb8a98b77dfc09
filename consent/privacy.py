"""The patient's privacy choices, read from their Consent resources (scope `patient-privacy`).

https://hl7.org/fhir/R4/consent.html#privacy - a Consent's root provision says `permit` or
`deny`; nested provisions are exceptions to it (the opposite type unless they say otherwise).
What we read from each active provision (its period, when given, containing now):
- permit + actor (Practitioner, PractitionerRole or Organization): the actor is in the patient's
  care team (the DMP's list of authorised professionals, CSP L1111-19); with a MASQUE_PS
  `securityLabel` it also sees masked documents, as the attending doctor does;
- deny + actor: the actor is blocked from the whole record, in every access mode (DMP TD02);
- deny + purpose bris_de_glace / centre_15 (TRE_R248, or v3 ActReason BTG / ETREAT) and no actor:
  the patient refused that emergency access beforehand (CSP L1111-17).
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

from carnet_core.dates import date_range
from consent import codes


@dataclass
class Choices:
    """Everything one record's privacy Consents say."""

    permitted: set[str] = field(default_factory=set)
    sees_masked: set[str] = field(default_factory=set)
    blocked: set[str] = field(default_factory=set)
    refused_modes: set[str] = field(default_factory=set)


def is_privacy_consent(resource: dict) -> bool:
    return any(
        c.get("system") == codes.CONSENT_SCOPE_SYSTEM and c.get("code") == codes.PATIENT_PRIVACY
        for c in (resource.get("scope") or {}).get("coding", [])
        if isinstance(c, dict)
    )


def _in_force(provision: dict, moment: datetime) -> bool:
    period = provision.get("period") or {}
    try:
        starts = date_range(period["start"])[0] if period.get("start") else None
        ends = date_range(period["end"])[1] if period.get("end") else None
    except ValueError:
        return False  # validation refuses such dates; never widen access on one
    return (starts is None or starts <= moment) and (ends is None or moment < ends)


def _actors(provision: dict) -> set[str]:
    return {
        a["reference"]["reference"]
        for a in provision.get("actor", [])
        if isinstance(a, dict)
        and isinstance(a.get("reference"), dict)
        and isinstance(a["reference"].get("reference"), str)
    }


def _emergency_purposes(provision: dict) -> set[str]:
    return {
        codes.EMERGENCY_PURPOSES[(c.get("system"), c.get("code"))]
        for c in provision.get("purpose", [])
        if isinstance(c, dict) and (c.get("system"), c.get("code")) in codes.EMERGENCY_PURPOSES
    }


def _masked_right(provision: dict) -> bool:
    return any(
        c.get("system") == codes.VISIBILITY_SYSTEM and c.get("code") == codes.MASQUE_PS
        for c in provision.get("securityLabel", [])
        if isinstance(c, dict)
    )


def _read(provision: dict, kind: str, moment: datetime, into: Choices) -> None:
    kind = provision.get("type") or kind
    if _in_force(provision, moment):
        actors = _actors(provision)
        if kind == "permit":
            into.permitted |= actors
            if _masked_right(provision):
                into.sees_masked |= actors
        elif actors:
            into.blocked |= actors
        else:
            into.refused_modes |= _emergency_purposes(provision)
    nested_default = "deny" if kind == "permit" else "permit"
    for inner in provision.get("provision", []):
        if isinstance(inner, dict):
            _read(inner, nested_default, moment, into)


def choices(consents: list[dict], moment: datetime | None = None) -> Choices:
    """What the active privacy Consents of one record say, together."""
    moment = moment or datetime.now(UTC)
    out = Choices()
    for consent in consents:
        if consent.get("status") != "active" or not is_privacy_consent(consent):
            continue
        root = consent.get("provision")
        if isinstance(root, dict):
            _read(root, root.get("type") or "deny", moment, out)
    return out


def recorded_by_professional(consent: dict, actor_refs: set[str]) -> bool:
    """A professional's software records the patient's consent to *its own* access, nothing else."""
    root = consent.get("provision") or {}
    return (
        is_privacy_consent(consent)
        and consent.get("status") == "active"
        and root.get("type") == "permit"
        and not root.get("provision")
        and not _masked_right(root)
        and bool(_actors(root))
        and _actors(root) <= actor_refs
    )
