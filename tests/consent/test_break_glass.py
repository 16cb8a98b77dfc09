"""Emergency access: break-glass (bris_de_glace) and the SAMU regulation centre (centre_15).

CSP L1111-17 and R1111-48 (docs/domain.md#emergency-access): granted unless the patient refused
it beforehand, short, audited with its mode, announced to the patient and the attending doctor;
a blocked professional stays blocked; masked documents stay hidden unless the operator says
otherwise.
"""

import pytest

from consent import codes
from smart_auth.accounts import create_account
from tests.conftest import FhirClient
from tests.consent import world as w
from tests.smart_auth.oauth_flows import basic_auth, pkce

PASSWORD = "correct horse battery staple"
SCOPE = "launch openid fhirUser user/*.rs"
REASON = "found unconscious, no relative reachable"


@pytest.fixture
def world(fhir, client_for):
    return w.seed(fhir, client_for)


@pytest.fixture
def people(carnet):
    """Accounts to log in with, and to send the notices to."""
    return {
        who: create_account(f"dr.{who}", PASSWORD, ref, "email", f"{who}@example.fr")
        for who, ref in (
            ("alice", "Patient/alice"),
            ("gp", "Practitioner/gp"),
            ("er", "Practitioner/er"),
            ("blocked", "Practitioner/blocked"),
        )
    }


@pytest.fixture
def software(oauth) -> dict:
    return oauth.register(
        client_name="Logiciel des urgences",
        redirect_uris=["https://urgences.example/smart"],
        token_endpoint_auth_method="client_secret_basic",
        labelled=True,
    )


def emergency_token(oauth, software, account, patient: str, mode: str, reason=REASON):
    """The EHR launch with a purpose of use, as the emergency software would run it."""
    launch = oauth.http.post(
        "/auth/launch", data={"patient": patient}, headers=basic_auth(software)
    ).get_json()["launch"]
    params = {"launch": launch, "purpose_of_use": mode}
    if reason:
        params["purpose_reason"] = reason
    verifier, challenge = pkce()
    _, query, _ = oauth.authorize(software, account, SCOPE + " offline_access", challenge, **params)
    if "code" not in query:
        return query
    response = oauth.token(
        {
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": software["redirect_uris"][0],
            "code_verifier": verifier,
        },
        headers=basic_auth(software),
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def test_break_glass_opens_the_record_for_a_short_while_and_tells_the_patient_and_doctor(
    app, oauth, software, people, world, outbox, client_for
):
    token = emergency_token(oauth, software, people["er"], "Patient/alice", "bris_de_glace")
    assert token["expires_in"] <= 900 and "refresh_token" not in token
    er = FhirClient(app.test_client(), token["access_token"])
    assert er.get(f"DocumentReference/{world.doc('alice', 'normal')}").status_code == 200
    assert er.get(f"DocumentReference/{world.doc('alice', 'masked')}").status_code == 404
    assert er.get(f"DocumentReference/{world.doc('bernard', 'normal')}").status_code == 404
    er.search("DocumentReference?patient=Patient/alice")
    notices = [m for m in outbox.messages() if m.get("kind") == "emergency-access"]
    assert sorted(m["to"] for m in notices) == ["alice@example.fr", "gp@example.fr"]
    assert all(REASON in m["body"] for m in notices)
    # The record the patient reads: the AuditEvents of that access, with its mode and reason.
    alice = w.patient(client_for, "alice")
    events = [
        e["resource"]
        for e in alice.search("AuditEvent?patient=Patient/alice&_count=100").get("entry", [])
    ]
    emergency = [
        e
        for e in events
        if any(c["code"] == "bris_de_glace" for c in e["purposeOfEvent"][0]["coding"])
    ]
    # Two reads that found something, and two refused attempts (the masked document, and a
    # document of another record) recorded against the record in context.
    assert sorted(e["outcome"] for e in emergency) == ["0", "0", "4", "4"]
    assert all(e["purposeOfEvent"][0]["text"] == REASON for e in emergency)
    assert all(e["agent"][0]["who"]["reference"] == "Practitioner/er" for e in emergency)
    assert {e["agent"][0]["policy"][0] for e in emergency} == {
        "urn:carnet:consent-rule:bris-de-glace"
    }


def test_a_refusal_recorded_beforehand_keeps_the_record_closed(
    app, oauth, software, people, world, outbox
):
    token = emergency_token(oauth, software, people["er"], "Patient/bernard", "bris_de_glace")
    er = FhirClient(app.test_client(), token["access_token"])
    assert er.get(f"DocumentReference/{world.doc('bernard', 'normal')}").status_code == 404
    assert er.search("DocumentReference?patient=Patient/bernard&_total=accurate")["total"] == 0
    assert not [m for m in outbox.messages() if m.get("kind") == "emergency-access"]


def test_centre_15_works_the_same_way(app, oauth, software, people, world):
    token = emergency_token(oauth, software, people["er"], "Patient/alice", "centre_15")
    samu = FhirClient(app.test_client(), token["access_token"])
    assert samu.get(f"DocumentReference/{world.doc('alice', 'normal')}").status_code == 200
    token = emergency_token(oauth, software, people["er"], "Patient/bernard", "centre_15")
    samu = FhirClient(app.test_client(), token["access_token"])
    assert samu.get(f"DocumentReference/{world.doc('bernard', 'normal')}").status_code == 404


def test_a_blocked_professional_stays_blocked_under_break_glass(
    app, oauth, software, people, world
):
    token = emergency_token(oauth, software, people["blocked"], "Patient/alice", "bris_de_glace")
    blocked = FhirClient(app.test_client(), token["access_token"])
    assert blocked.get(f"DocumentReference/{world.doc('alice', 'normal')}").status_code == 404


def test_break_glass_needs_a_reason(oauth, software, people):
    refused = emergency_token(oauth, software, people["er"], "Patient/alice", "bris_de_glace", None)
    assert (
        refused["error"] == "invalid_request" and "purpose_reason" in refused["error_description"]
    )


def test_the_operator_may_let_break_glass_see_masked_documents(fhir, client_for, carnet):
    carnet.store.policy.emergency_sees_masked = True
    world = w.seed(fhir, client_for)
    er = w.practitioner(client_for, "er", "alice", codes.BREAK_GLASS)
    masked = world.doc("alice", "masked")
    assert er.get(f"DocumentReference/{masked}").status_code == 200
    alice = w.patient(client_for, "alice")
    events = alice.search("AuditEvent?patient=Patient/alice&_count=100").get("entry", [])
    shown = [
        e["resource"]
        for e in events
        if any(
            masked in ent.get("what", {}).get("reference", "") for ent in e["resource"]["entity"]
        )
    ]
    # The override is in the access history, with the document's label.
    assert shown and any(
        lab["code"] == "MASQUE_PS"
        for e in shown
        for ent in e["entity"]
        for lab in ent.get("securityLabel", [])
    )
