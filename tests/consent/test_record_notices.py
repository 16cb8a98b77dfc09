"""consent.record_notices through HTTP: the patient is told of a new document and of each
professional's first access, never of what they may not see yet, each kind turned off and on
again with `Patient/{id}/$notifications` (docs/domain.md#told-of-what-matters)."""

from datetime import UTC, datetime

import pytest

from consent import codes
from smart_auth.accounts import create_account
from tests.conftest import assert_outcome, store_snapshot
from tests.consent import world as w
from tests.consent.test_legal_representative import mum_client
from tests.smart_auth.conftest import PASSWORD

DAY = datetime(2026, 12, 1, 8, 30, tzinfo=UTC)


@pytest.fixture
def world(fhir, client_for, carnet):
    seeded = w.seed(fhir, client_for)  # before her account: nothing told of the seeded documents
    create_account("alice.martin", PASSWORD, "Patient/alice", "email", "alice@example.fr")
    carnet.clock.set(DAY)
    return seeded


@pytest.fixture
def chloe(fhir):
    """A minor's record and her mother, her legal representative."""
    fhir.put("Patient/chloe", {"resourceType": "Patient", "id": "chloe", "birthDate": "2012-03-04"})
    mother = {
        "resourceType": "RelatedPerson",
        "id": "mum",
        "patient": {"reference": "Patient/chloe"},
    }
    assert fhir.put("RelatedPerson/mum", mother).status_code in (200, 201)


def notices(outbox, kind: str) -> list[dict]:
    return [m for m in outbox.messages() if m.get("kind") == kind]


def deposit(client, patient: str = "alice", labels=()) -> str:
    return client.create(w.document(patient, "Compte rendu opératoire", labels))["id"]


def assert_says_nothing_of(notice: dict, *documents: str) -> None:
    text = repr(notice)
    for secret in ("Compte rendu", "11488-4", "DocumentReference", "Practitioner/author", "Binary"):
        assert secret not in text, notice
    for id in documents:
        assert id not in text, notice


def test_a_deposit_tells_the_patient_that_something_arrived_and_nothing_more(
    world, client_for, outbox
):
    assert notices(outbox, "document-added") == []
    author = w.practitioner(client_for, "author", "alice")
    id = deposit(author)
    [notice] = notices(outbox, "document-added")
    assert notice["to"] == "alice@example.fr" and notice["channel"] == "email"
    assert notice["patient"] == "Patient/alice"
    assert "Un nouveau document" in notice["body"] and "01/12/2026" in notice["body"]
    assert "/auth/record/mine" in notice["body"]
    assert_says_nothing_of(notice, id)
    # A hospital system's deposit is told too; the patient's own is not.
    hospital = w.hospital(client_for)
    deposit(hospital)
    assert len(notices(outbox, "document-added")) == 2
    deposit(w.patient(client_for, "alice"))
    assert len(notices(outbox, "document-added")) == 2


def test_a_transaction_of_two_documents_is_one_notice(world, client_for, outbox):
    entries = [
        {
            "resource": w.document("alice", f"doc {n}"),
            "request": {"method": "POST", "url": "DocumentReference"},
        }
        for n in (1, 2)
    ]
    author = w.practitioner(client_for, "author", "alice")
    answer = author.post("", {"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert answer.status_code == 200, answer.get_data(as_text=True)
    [notice] = notices(outbox, "document-added")
    assert "2 nouveaux documents" in notice["body"]


def test_a_refused_or_rolled_back_write_tells_nothing(world, client_for, outbox, carnet):
    author = w.practitioner(client_for, "author", "alice")
    before = store_snapshot(carnet)
    good = {
        "resource": w.document("alice", "ok"),
        "request": {"method": "POST", "url": "DocumentReference"},
    }
    bad = {
        "resource": {"resourceType": "Observation", "status": "nonsense", "code": {"text": "x"}},
        "request": {"method": "POST", "url": "Observation"},
    }
    answer = author.post(
        "", {"resourceType": "Bundle", "type": "transaction", "entry": [good, bad]}
    )
    assert answer.status_code >= 400
    # A professional the patient blocked may still deposit; one writing into another record's
    # Binary is refused.
    refused = author.post(
        "DocumentReference",
        w.document("alice", "stolen", binary=world.binaries["bernard"]["normal"]),
    )
    assert refused.status_code == 422
    assert store_snapshot(carnet) == before
    assert notices(outbox, "document-added") == []


def test_a_document_kept_from_the_patient_is_told_only_once_released(
    world, client_for, outbox, fhir
):
    author = w.practitioner(client_for, "author", "alice")
    id = deposit(author, labels=(codes.INVISIBLE_PATIENT,))
    assert notices(outbox, "document-added") == []
    # Another deposit meanwhile tells of that one only.
    deposit(author)
    [first] = notices(outbox, "document-added")
    assert "Un nouveau document" in first["body"]
    # The author lifts the label: the patient now reads it, and is told at that commit.
    released = fhir.get(f"DocumentReference/{id}").get_json()
    released.pop("securityLabel")
    released.pop("meta")
    assert author.put(f"DocumentReference/{id}", released).status_code == 200
    assert w.patient(client_for, "alice").get(f"DocumentReference/{id}").status_code == 200
    assert len(notices(outbox, "document-added")) == 2
    # Told once: a later change tells nothing.
    assert (
        author.put(f"DocumentReference/{id}", {**released, "description": "v3"}).status_code == 200
    )
    assert len(notices(outbox, "document-added")) == 2


def test_a_document_deleted_before_its_release_is_never_told(world, client_for, outbox):
    author = w.practitioner(client_for, "author", "alice")
    id = deposit(author, labels=(codes.INVISIBLE_PATIENT,))
    assert author.delete(f"DocumentReference/{id}").status_code in (200, 204)
    deposit(author)
    [notice] = notices(outbox, "document-added")
    assert "Un nouveau document" in notice["body"]


def test_a_representative_is_not_told_of_what_is_kept_from_representatives(
    chloe,
    client_for,
    outbox,
    carnet,  # noqa: F811
):
    create_account("chloe", PASSWORD, "Patient/chloe", "sms", "+33600000001")
    create_account(
        "mum", PASSWORD, "RelatedPerson/mum", "email", "mum@example.fr", represents="Patient/chloe"
    )
    doctor = w.practitioner(client_for, "paediatrician", "chloe")
    deposit(doctor, "chloe", labels=(codes.INVISIBLE_REPRESENTATIVES,))
    [to_chloe] = notices(outbox, "document-added")
    assert to_chloe["to"] == "+33600000001" and to_chloe["channel"] == "sms"
    deposit(doctor, "chloe")
    assert sorted(n["to"] for n in notices(outbox, "document-added")) == [
        "+33600000001",
        "+33600000001",
        "mum@example.fr",
    ]
    # Mum turns her own notices off; Chloé's stay on.
    mum = mum_client(client_for)
    off = {
        "resourceType": "Parameters",
        "parameter": [{"name": "document-added", "valueBoolean": False}],
    }
    assert mum.post("Patient/chloe/$notifications", off).status_code == 200
    deposit(doctor, "chloe")
    assert [n["to"] for n in notices(outbox, "document-added")][3:] == ["+33600000001"]


def test_a_professionals_first_access_is_told_once(world, client_for, outbox):
    normal = world.doc("alice", "normal")
    colleague = w.practitioner(client_for, "colleague", "alice")
    assert colleague.get(f"DocumentReference/{normal}").status_code == 200
    [notice] = notices(outbox, "first-access")
    assert notice["to"] == "alice@example.fr" and notice["professional"] == "Practitioner/colleague"
    assert "Practitioner/colleague" in notice["body"] and "01/12/2026" in notice["body"]
    assert_says_nothing_of(notice, normal)
    # The same professional again, by any interaction: nothing more.
    assert colleague.get(f"DocumentReference/{normal}").status_code == 200
    colleague.search("DocumentReference?patient=Patient/alice")
    assert len(notices(outbox, "first-access")) == 1
    # Another professional: told.
    assert w.practitioner(client_for, "gp", "alice").get("Patient/alice").status_code == 200
    assert [n["professional"] for n in notices(outbox, "first-access")] == [
        "Practitioner/colleague",
        "Practitioner/gp",
    ]
    # A refused access is no access; a deposit alone is no reading.
    blocked = w.practitioner(client_for, "blocked", "alice")
    assert blocked.get(f"DocumentReference/{normal}").status_code == 404
    deposit(w.practitioner(client_for, "other", "alice"))
    assert len(notices(outbox, "first-access")) == 2


def test_an_emergency_access_is_announced_once_not_twice(world, client_for, outbox):
    er = w.practitioner(client_for, "er", "alice", "bris_de_glace")
    assert er.get(f"DocumentReference/{world.doc('alice', 'normal')}").status_code == 200
    assert len(notices(outbox, "emergency-access")) == 1
    assert notices(outbox, "first-access") == []


def test_each_kind_is_turned_off_and_on_again_by_the_patient(world, client_for, outbox):
    alice = w.patient(client_for, "alice")
    answer = alice.get("Patient/alice/$notifications")
    assert answer.status_code == 200
    assert answer.get_json() == {
        "resourceType": "Parameters",
        "parameter": [
            {"name": "document-added", "valueBoolean": True},
            {"name": "first-access", "valueBoolean": True},
        ],
    }

    def choose(kind: str, on: bool):
        body = {"resourceType": "Parameters", "parameter": [{"name": kind, "valueBoolean": on}]}
        answer = alice.post("Patient/alice/$notifications", body)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        return {p["name"]: p["valueBoolean"] for p in answer.get_json()["parameter"]}

    assert choose("document-added", False) == {"document-added": False, "first-access": True}
    author = w.practitioner(client_for, "author", "alice")
    deposit(author)
    assert notices(outbox, "document-added") == []
    colleague = w.practitioner(client_for, "colleague", "alice")
    colleague.get("Patient/alice")
    assert len(notices(outbox, "first-access")) == 1  # the other kind still on

    assert choose("first-access", False) == {"document-added": False, "first-access": False}
    w.practitioner(client_for, "gp", "alice").get("Patient/alice")
    assert len(notices(outbox, "first-access")) == 1

    assert choose("document-added", True)["document-added"] is True
    deposit(author)
    [notice] = notices(outbox, "document-added")
    assert "Un nouveau document" in notice["body"]  # what arrived while off is not told later
    assert choose("first-access", True)["first-access"] is True
    w.practitioner(client_for, "gp", "alice").get("Patient/alice")  # already accessed: untold
    w.practitioner(client_for, "other", "alice").get("Patient/alice")
    assert len(notices(outbox, "first-access")) == 1  # other reads nothing of hers: 404


def choices(client, patient: str = "alice") -> dict[str, bool]:
    answer = client.get(f"Patient/{patient}/$notifications")
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return {p["name"]: p["valueBoolean"] for p in answer.get_json()["parameter"]}


def test_only_the_patients_side_chooses_and_a_wrong_choice_changes_nothing(
    world, client_for, carnet, fhir
):
    off = {
        "resourceType": "Parameters",
        "parameter": [{"name": "first-access", "valueBoolean": False}],
    }
    for caller in (
        w.practitioner(client_for, "gp", "alice"),
        w.hospital(client_for),
        w.patient(client_for, "bernard"),
    ):
        assert_outcome(caller.get("Patient/alice/$notifications"), 403, "forbidden")
        assert_outcome(caller.post("Patient/alice/$notifications", off), 403, "forbidden")
    alice = w.patient(client_for, "alice")
    # The operator's platform, on her request, reads and sets her own choices.
    assert fhir.post("Patient/alice/$notifications", off).status_code == 200
    on = {
        "resourceType": "Parameters",
        "parameter": [{"name": "first-access", "valueBoolean": True}],
    }
    assert choices(fhir) == choices(alice) == {"document-added": True, "first-access": False}
    assert alice.post("Patient/alice/$notifications", on).status_code == 200
    assert_outcome(fhir.get("Patient/nobody/$notifications"), 404)
    before = store_snapshot(carnet)
    for body in (
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "everything", "valueBoolean": False}],
        },
        {
            "resourceType": "Parameters",
            "parameter": [{"name": "first-access", "valueString": "no"}],
        },
        {"resourceType": "Patient"},
        {"resourceType": "Parameters", "parameter": 7},
        [],
    ):
        assert_outcome(alice.post("Patient/alice/$notifications", body), 400)
    reader = w.patient(client_for, "alice", "patient/*.rs")
    assert_outcome(reader.post("Patient/alice/$notifications", off), 403)  # no scope to change
    assert store_snapshot(carnet) == before
    assert choices(alice) == {"document-added": True, "first-access": True}


def test_a_failing_sender_never_fails_the_write_and_the_notice_follows(
    world, client_for, outbox, carnet, monkeypatch
):
    sender = carnet.notices.sender
    real = sender.send

    def down(*args, **kw):
        raise ConnectionError("SMS gateway unreachable")

    monkeypatch.setattr(sender, "send", down)
    author = w.practitioner(client_for, "author", "alice")
    deposit(author)
    colleague = w.practitioner(client_for, "colleague", "alice")
    assert colleague.get("Patient/alice").status_code == 200
    monkeypatch.setattr(sender, "send", real)
    assert outbox.messages() == []
    deposit(author)  # the first one was kept queued: told with this one
    [notice] = notices(outbox, "document-added")
    assert "2 nouveaux documents" in notice["body"]


def test_a_write_rolled_back_after_its_audit_tells_nothing(world, client_for, outbox, carnet):
    def audit_store_fails(ctx, pk, event):
        raise RuntimeError("the audit could not be completed")

    carnet.audit.observers.append(audit_store_fails)
    author = w.practitioner(client_for, "author", "alice")
    before = store_snapshot(carnet)
    answer = author.post("DocumentReference", w.document("alice", "rolled back"))
    assert answer.status_code == 500
    carnet.audit.observers.remove(audit_store_fails)
    assert store_snapshot(carnet) == before
    assert notices(outbox, "document-added") == []
    deposit(author)
    [notice] = notices(outbox, "document-added")
    assert "Un nouveau document" in notice["body"]
