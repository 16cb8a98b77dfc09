"""The patient's privacy choices as Consent resources: care team, blocking, and who may write them.

https://hl7.org/fhir/R4/consent.html - scope patient-privacy; see consent/privacy.py.
"""

import pytest

from tests.conftest import assert_outcome
from tests.consent import world as w


@pytest.fixture
def world(fhir, client_for):
    return w.seed(fhir, client_for)


def test_blocking_then_unblocking_a_professional(world, client_for):
    colleague = w.practitioner(client_for, "colleague", "alice")
    alice = w.patient(client_for, "alice")
    normal = f"DocumentReference/{world.doc('alice', 'normal')}"
    assert colleague.get(normal).status_code == 200
    block = alice.create(w.privacy_consent("alice", "deny", ["Practitioner/colleague"]))
    assert colleague.get(normal).status_code == 404
    assert (
        colleague.search("Patient?_id=alice")["entry"] == []
        if "entry" in colleague.search("Patient?_id=alice")
        else True
    )
    # Unblocking: the patient sets the Consent inactive (deleting it works the same way).
    assert alice.put(f"Consent/{block['id']}", {**block, "status": "inactive"}).status_code == 200
    assert colleague.get(normal).status_code == 200


def test_blocking_an_organisation_blocks_its_people_and_its_systems(world, client_for):
    alice = w.patient(client_for, "alice")
    author = w.practitioner(client_for, "author", "alice")
    hospital = w.hospital(client_for)
    normal = f"DocumentReference/{world.doc('alice', 'normal')}"
    assert author.get(normal).status_code == hospital.get(normal).status_code == 200
    alice.create(w.privacy_consent("alice", "deny", ["Organization/hospital"]))
    assert author.get(normal).status_code == hospital.get(normal).status_code == 404
    # ...in alice's record only.
    author_at_bernard = w.practitioner(client_for, "author", "bernard")
    assert (
        author_at_bernard.get(f"DocumentReference/{world.doc('bernard', 'normal')}").status_code
        == 200
    )


def test_a_blocked_professional_still_deposits_but_cannot_read_it_back(world, client_for):
    blocked = w.practitioner(client_for, "blocked", "alice")
    deposited = blocked.create(w.document("alice", "new result"))
    assert blocked.get(f"DocumentReference/{deposited['id']}").status_code == 404
    assert (
        w.patient(client_for, "alice").get(f"DocumentReference/{deposited['id']}").status_code
        == 200
    )


def test_professional_software_records_the_patients_consent_to_its_own_access(world, client_for):
    other = w.practitioner(client_for, "other", "alice")
    normal = f"DocumentReference/{world.doc('alice', 'normal')}"
    assert other.get(normal).status_code == 404
    recorded = other.post("Consent", w.privacy_consent("alice", "permit", ["Practitioner/other"]))
    assert recorded.status_code == 201, recorded.get_json()
    assert other.get(normal).status_code == 200
    assert other.get(f"DocumentReference/{world.doc('alice', 'masked')}").status_code == 404
    # The patient sees it, and can revoke it.
    alice = w.patient(client_for, "alice")
    consent = recorded.get_json()
    assert alice.delete(f"Consent/{consent['id']}").status_code == 204
    assert other.get(normal).status_code == 404


@pytest.mark.parametrize(
    "consent",
    [
        w.privacy_consent("alice", "deny", ["Practitioner/colleague"]),  # blocking someone
        w.privacy_consent("alice", "permit", ["Practitioner/gp"]),  # naming someone else
        w.privacy_consent("alice", "deny", purposes=["bris_de_glace"]),  # a refusal
        w.privacy_consent(  # more than its own access: masked documents
            "alice",
            "permit",
            ["Practitioner/other"],
            securityLabel=[{"system": w.codes.VISIBILITY_SYSTEM, "code": "MASQUE_PS"}],
        ),
    ],
)
def test_professionals_do_not_write_the_patients_privacy_choices(
    consent, world, client_for, snapshot
):
    other = w.practitioner(client_for, "other", "alice")
    before = snapshot()
    body = assert_outcome(other.post("Consent", consent), 403)
    assert "privacy-choices-by-patient" in body["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_a_blocked_professional_cannot_record_a_consent_for_itself(world, client_for, snapshot):
    blocked = w.practitioner(client_for, "blocked", "alice")
    before = snapshot()
    response = blocked.post(
        "Consent", w.privacy_consent("alice", "permit", ["Practitioner/blocked"])
    )
    assert "blocked-by-patient" in assert_outcome(response, 403)["issue"][0]["diagnostics"]
    assert snapshot() == before


def test_an_expired_care_team_consent_no_longer_opens_the_record(world, client_for):
    alice = w.patient(client_for, "alice")
    alice.create(
        w.privacy_consent(
            "alice",
            "permit",
            ["Practitioner/other"],
            period={"start": "2020-01-01", "end": "2021-01-01"},
        )
    )
    other = w.practitioner(client_for, "other", "alice")
    assert other.get(f"DocumentReference/{world.doc('alice', 'normal')}").status_code == 404


def test_a_patient_writes_no_choices_into_someone_elses_record(world, client_for, snapshot):
    alice = w.patient(client_for, "alice")
    before = snapshot()
    response = alice.post("Consent", w.privacy_consent("bernard", "permit", ["Practitioner/other"]))
    assert response.status_code == 403
    assert snapshot() == before


def test_the_patient_cannot_change_a_document_deposited_by_a_professional(world, client_for, fhir):
    alice = w.patient(client_for, "alice")
    doc = fhir.get(f"DocumentReference/{world.doc('alice', 'normal')}").get_json()
    response = alice.put(f"DocumentReference/{doc['id']}", {**doc, "description": "changed"})
    assert "author-only-changes" in assert_outcome(response, 403)["issue"][0]["diagnostics"]
    assert alice.delete(f"DocumentReference/{doc['id']}").status_code == 403
    # ...but documents she added herself are hers.
    own = alice.create(w.document("alice", "my own notes"))
    assert (
        alice.put(f"DocumentReference/{own['id']}", {**own, "description": "v2"}).status_code == 200
    )
    assert alice.delete(f"DocumentReference/{own['id']}").status_code == 204


def test_an_authors_colleagues_do_not_inherit_his_documents(world, client_for, fhir):
    fhir.put(
        "PractitionerRole/other-at-hospital",
        {
            "resourceType": "PractitionerRole",
            "id": "other-at-hospital",
            "practitioner": {"reference": "Practitioner/other"},
            "organization": {"reference": "Organization/hospital"},
        },
    )
    other = w.practitioner(client_for, "other")
    assert other.search("DocumentReference?_total=accurate")["total"] == 0
    # The hospital's own system does see what its practitioner deposited.
    hospital = w.hospital(client_for)
    assert world.doc("alice", "masked") in {
        e["resource"]["id"] for e in hospital.search("DocumentReference?_count=50")["entry"]
    }


def test_a_token_for_one_patient_reads_that_record_only(world, client_for):
    in_context = w.practitioner(client_for, "colleague", "alice")
    everywhere = w.practitioner(client_for, "colleague")
    bernard_doc = f"DocumentReference/{world.doc('bernard', 'normal')}"
    assert in_context.get(bernard_doc).status_code == 404
    assert everywhere.get(bernard_doc).status_code == 200
