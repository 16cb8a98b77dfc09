"""INVISIBLE_PATIENT (TRE_A07, CSP R1111-53): a document kept from the patient until announced.

The patient's own record, minus documents a professional deposited invisible to them, until the
label is lifted or one month has passed; and never a trace of them meanwhile.
"""

import pytest

import consent.codes
from consent.codes import VISIBILITY_SYSTEM
from tests.conftest import assert_outcome

LABEL = {"coding": [{"system": VISIBILITY_SYSTEM, "code": "INVISIBLE_PATIENT"}]}


def _doc(label: bool) -> dict:
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": "Patient/alice"},
        "type": {"coding": [{"system": "http://loinc.org", "code": "11502-2"}]},
        "content": [{"attachment": {"contentType": "application/pdf", "title": "letter"}}],
    }
    if label:
        doc["securityLabel"] = [LABEL]
    return doc


@pytest.fixture
def alice(fhir, client_for):
    assert fhir.put("Patient/alice", {"resourceType": "Patient", "id": "alice"}).status_code == 201
    return client_for(
        "patient/DocumentReference.cruds patient/Patient.rs",
        "patient",
        patient="Patient/alice",
        fhir_user="Patient/alice",
    )


def test_the_patient_sees_no_trace_of_a_document_kept_from_them(fhir, alice):
    visible = fhir.create(_doc(label=False))["id"]
    hidden = fhir.create(_doc(label=True))["id"]
    assert fhir.ids("DocumentReference?patient=Patient/alice") == sorted([visible, hidden])
    assert alice.ids("DocumentReference") == [visible]
    assert alice.search("DocumentReference?_summary=count")["total"] == 1
    assert alice.search("DocumentReference?type=11502-2")["total"] == 1
    for url in (
        f"DocumentReference/{hidden}",
        f"DocumentReference/{hidden}/_history",
        f"DocumentReference/{hidden}/_history/1",
    ):
        response = alice.get(url)
        assert_outcome(response, 404)
        assert "INVISIBLE" not in response.get_data(as_text=True)
    included = alice.search("Patient?_id=alice&_revinclude=DocumentReference:subject")
    assert hidden not in [e["resource"]["id"] for e in included["entry"]]


def test_the_patient_cannot_overwrite_or_unlabel_it(fhir, alice, snapshot):
    hidden = fhir.create(_doc(label=True))["id"]
    before = snapshot()
    response = alice.put(f"DocumentReference/{hidden}", {**_doc(label=False), "id": hidden})
    assert_outcome(response, 404)  # as if it did not exist
    assert "INVISIBLE" not in response.get_data(as_text=True)
    stale = alice.put(
        f"DocumentReference/{hidden}",
        {**_doc(label=False), "id": hidden},
        headers={"If-Match": 'W/"7"'},
    )
    assert_outcome(stale, 404)  # not a 412 that would tell its current version
    assert "version" not in stale.get_data(as_text=True)
    assert snapshot() == before


def test_lifting_the_label_shows_it_and_its_history(fhir, alice):
    hidden = fhir.create(_doc(label=True))["id"]
    lifted = {**_doc(label=False), "id": hidden}
    assert fhir.put(f"DocumentReference/{hidden}", lifted).status_code == 200
    assert alice.ids("DocumentReference") == [hidden]
    assert alice.get(f"DocumentReference/{hidden}/_history/1").status_code == 200


def test_it_becomes_visible_on_its_own_after_the_delay(fhir, alice, monkeypatch):
    from datetime import timedelta

    monkeypatch.setattr(consent.codes, "INVISIBLE_PATIENT_DELAY", timedelta(days=-1))
    overdue = fhir.create(_doc(label=True))["id"]
    assert alice.ids("DocumentReference") == [overdue]


def test_a_patient_cannot_hide_their_own_document_from_themselves(alice):
    assert_outcome(alice.post("DocumentReference", _doc(label=True)), 403)


def test_the_author_releases_it_after_the_consultation(alice, client_for):
    author = client_for("user/*.cruds", "practitioner", fhir_user="Practitioner/onco")
    kept = author.create(_doc(label=True))
    assert alice.get(f"DocumentReference/{kept['id']}").status_code == 404
    released = {k: v for k, v in kept.items() if k != "securityLabel"}
    assert author.put(f"DocumentReference/{kept['id']}", released).status_code == 200
    assert alice.get(f"DocumentReference/{kept['id']}").status_code == 200


def test_after_two_weeks_the_patient_is_told_a_document_awaits_once(fhir, alice, carnet, outbox):
    from datetime import UTC, datetime, timedelta

    from consent.reminders import notify_pending
    from smart_auth.accounts import create_account

    create_account("alice.m", "correct horse battery staple", "Patient/alice", "email", "a@x.fr")
    kept = fhir.create(_doc(label=True))["id"]
    now = datetime.now(UTC)
    assert notify_pending(carnet.store, carnet.auth.sender, now + timedelta(days=13)) == []
    assert notify_pending(carnet.store, carnet.auth.sender, now + timedelta(days=15)) == [kept]
    assert notify_pending(carnet.store, carnet.auth.sender, now + timedelta(days=16)) == []
    [message] = [m for m in outbox.messages() if m.get("kind") == "document-pending"]
    assert message["to"] == "a@x.fr" and kept not in message["body"]
