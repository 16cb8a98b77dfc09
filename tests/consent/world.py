"""A small national record to test the access policy on, seeded through HTTP as its actors would.

Two patients with the same four documents each (normal, masked, invisible to the patient, and one
deposited by a professional the patient then blocked), each document with its Binary:
- Patient/alice: attending doctor Practitioner/gp; Practitioner/author (who works at
  Organization/hospital) in her care team by a Consent his software recorded; Practitioner/blocked
  blocked by her privacy Consent.
- Patient/bernard: the same, and he refused emergency access (break-glass and centre_15).
Practitioner/colleague is in both care teams (the patient named him); Practitioner/other is in nobody's care team; Practitioner/er is an emergency physician.
"""

import base64
from dataclasses import dataclass, field

from consent import codes

PATIENTS = ("alice", "bernard")
STATES = ("normal", "masked", "invisible", "blocked_author")
USER_SCOPES = "user/*.cruds"
PRIVACY_SCOPE = {"coding": [{"system": codes.CONSENT_SCOPE_SYSTEM, "code": codes.PATIENT_PRIVACY}]}
LOINC_CONSENT = {"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}
POLICY_RULE = {
    "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "OPTIN"}]
}


def label(code: str) -> dict:
    return {"coding": [{"system": codes.VISIBILITY_SYSTEM, "code": code}]}


def privacy_consent(patient: str, kind: str, actors=(), purposes=(), **extra) -> dict:
    provision: dict = {"type": kind}
    if actors:
        provision["actor"] = [
            {
                "role": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
                            "code": "PRCP",
                        }
                    ]
                },
                "reference": {"reference": a},
            }
            for a in actors
        ]
    if purposes:
        provision["purpose"] = [{"system": codes.ACCESS_MODE_SYSTEM, "code": p} for p in purposes]
    provision.update(extra)
    return {
        "resourceType": "Consent",
        "status": "active",
        "scope": PRIVACY_SCOPE,
        "category": [LOINC_CONSENT],
        "patient": {"reference": f"Patient/{patient}"},
        "policyRule": POLICY_RULE,
        "provision": provision,
    }


def document(patient: str, title: str, labels=(), binary: str | None = None) -> dict:
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": f"Patient/{patient}"},
        "type": {"coding": [{"system": "http://loinc.org", "code": "11488-4"}]},
        "description": title,
        "content": [{"attachment": {"contentType": "text/plain", "title": title}}],
    }
    if binary:
        doc["content"][0]["attachment"]["url"] = f"Binary/{binary}"
    if labels:
        doc["securityLabel"] = [label(code) for code in labels]
    return doc


@dataclass
class World:
    """The seeded ids: docs[patient][state] and binaries[patient][state]."""

    docs: dict = field(default_factory=dict)
    binaries: dict = field(default_factory=dict)

    def doc(self, patient: str, state: str) -> str:
        return self.docs[patient][state]


def practitioner(client_for, who: str, patient: str | None = None, mode: str = "normal", **kw):
    claims = {"fhir_user": f"Practitioner/{who}", "purpose_of_use": mode}
    if patient:
        claims["patient"] = f"Patient/{patient}"
    if mode != "normal":
        claims["purpose_reason"] = "unconscious, no relative reachable"
    return client_for(USER_SCOPES, "practitioner", **claims, **kw)


def patient(client_for, who: str, scope: str = "patient/*.cruds"):
    return client_for(scope, "patient", fhir_user=f"Patient/{who}", patient=f"Patient/{who}")


def hospital(client_for):
    return client_for("system/*.cruds", organization="Organization/hospital")


def _deposit(client, patient_id: str, title: str, labels=()) -> tuple[str, str]:
    data = base64.b64encode(f"content of {title}".encode()).decode()
    binary = client.create({"resourceType": "Binary", "contentType": "text/plain", "data": data})
    doc = client.create(document(patient_id, title, labels, binary["id"]))
    return doc["id"], binary["id"]


def seed(fhir, client_for) -> World:
    """The directory, the two records, their documents and their patients' choices."""
    directory = [
        {"resourceType": "Organization", "id": "hospital", "name": "Hôpital"},
        {
            "resourceType": "PractitionerRole",
            "id": "author-at-hospital",
            "practitioner": {"reference": "Practitioner/author"},
            "organization": {"reference": "Organization/hospital"},
        },
    ] + [
        {"resourceType": "Practitioner", "id": who, "name": [{"family": who}]}
        for who in ("gp", "author", "colleague", "other", "blocked", "er")
    ]
    for resource in directory:
        assert fhir.put(f"{resource['resourceType']}/{resource['id']}", resource).status_code in (
            200,
            201,
        )
    world = World()
    for pid in PATIENTS:
        fhir.put(
            f"Patient/{pid}",
            {
                "resourceType": "Patient",
                "id": pid,
                "name": [{"family": pid.capitalize()}],
                "generalPractitioner": [{"reference": "Practitioner/gp"}],
            },
        )
        author = practitioner(client_for, "author", pid)
        # The author's software records the patient's consent to his access (care team).
        author.create(privacy_consent(pid, "permit", ["Practitioner/author"]))
        docs, binaries = {}, {}
        for state, labels in (
            ("normal", ()),
            ("masked", (codes.MASQUE_PS,)),
            ("invisible", (codes.INVISIBLE_PATIENT,)),
        ):
            docs[state], binaries[state] = _deposit(author, pid, f"{pid} {state}", labels)
        blocked = practitioner(client_for, "blocked", pid)
        docs["blocked_author"], binaries["blocked_author"] = _deposit(
            blocked, pid, f"{pid} by blocked", ()
        )
        own = patient(client_for, pid)
        own.create(privacy_consent(pid, "deny", ["Practitioner/blocked"]))
        own.create(privacy_consent(pid, "permit", ["Practitioner/colleague"]))
        if pid == "bernard":
            own.create(privacy_consent(pid, "deny", purposes=codes.EMERGENCY_MODES))
        world.docs[pid], world.binaries[pid] = docs, binaries
    return world
