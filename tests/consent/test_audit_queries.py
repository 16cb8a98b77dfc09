"""The patient's access history never names what is kept from them: the parameters of a
professional's request (`_id=a,b`, `_has:...:description=word`, chains, `_include`) are kept for the
operator only, in an AuditEvent the patient's side never reads (consent.audit, consent.acl).
"""

import base64

import pytest

from consent import codes
from tests.consent import world as w

SECRET_WORD = "lymphome"


@pytest.fixture
def world(fhir, client_for):
    seeded = w.seed(fhir, client_for)
    author = w.practitioner(client_for, "author", "alice")
    secret = author.create(
        w.document("alice", f"suspicion de {SECRET_WORD}", [codes.INVISIBLE_PATIENT])
    )
    seeded.docs["alice"]["secret"] = secret["id"]
    return seeded


def _professional_searches(world, client_for) -> list[str]:
    """Searches by the attending doctor, each naming or describing the hidden document."""
    gp = w.practitioner(client_for, "gp", "alice")
    secret, normal = world.doc("alice", "secret"), world.doc("alice", "normal")
    urls = [
        f"DocumentReference?_id={normal},{secret}",
        f"Patient?_has:DocumentReference:subject:description=suspicion%20de%20{SECRET_WORD}",
        f"DocumentReference?patient=Patient/alice&description=suspicion%20de%20{SECRET_WORD}",
        f"DocumentReference?_id={secret}&_include=DocumentReference:subject",
        "Patient?_id=alice&_revinclude=DocumentReference:subject&_count=200",
    ]
    for url in urls:
        gp.search(url)
    response = gp.post(
        "DocumentReference/_search",
        f"_id={secret}",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    return urls


def _all(client, url: str) -> list[dict]:
    return [e["resource"] for e in client.search(url).get("entry", [])]


def _never_named(world, text: str) -> None:
    secret = world.doc("alice", "secret")
    assert secret not in text and SECRET_WORD not in text
    encoded = base64.b64encode(secret.encode()).decode()[:12]
    assert encoded not in text


def test_the_patient_reads_who_when_and_what_she_sees_never_the_parameters(world, client_for):
    _professional_searches(world, client_for)
    alice = w.patient(client_for, "alice")
    events = _all(alice, "AuditEvent?_count=200")
    searches = [e for e in events if e["subtype"][0]["code"] == "search-type"]
    assert len(searches) >= 4, "she sees that the doctor searched her record"
    for event in searches:
        assert event["agent"][0]["who"] == {"reference": "Practitioner/gp"}
        assert event["agent"][0]["policy"] == ["urn:carnet:consent-rule:attending-doctor"]
        searched = [ent for ent in event["entity"] if ent["role"]["code"] == "24"]
        assert searched and searched[0]["type"]["code"] in ("DocumentReference", "Patient")
        assert all("query" not in ent for ent in event["entity"])
    assert any(world.doc("alice", "normal") in repr(e) for e in searches)
    _never_named(world, repr(events))


def test_no_angle_of_the_access_history_shows_the_hidden_events(world, client_for, fhir):
    _professional_searches(world, client_for)
    platform_events = _all(fhir, "AuditEvent?patient=Patient/alice&_count=200")
    forensic = [
        e
        for e in platform_events
        if any(c["code"] == "NOPAT" for c in e["meta"].get("security", []))
    ]
    hidden = [e for e in platform_events if e["meta"].get("security")]
    assert len(forensic) == 6
    alice = w.patient(client_for, "alice")
    seen = _all(alice, "AuditEvent?_count=200")
    hidden_ids = {e["id"] for e in hidden}
    assert {e["id"] for e in platform_events} - hidden_ids <= {e["id"] for e in seen}
    assert not hidden_ids & {e["id"] for e in seen}
    answers = [
        alice.get("AuditEvent?_summary=count"),
        alice.get("AuditEvent?_total=accurate&_count=0"),
        alice.get("AuditEvent/_history?_count=200"),
        alice.get(f"AuditEvent?entity=DocumentReference/{world.doc('alice', 'secret')}"),
        alice.get(f"AuditEvent?entity-name={SECRET_WORD}"),
        alice.get("AuditEvent?_count=200&_include=AuditEvent:entity"),
        alice.get("DocumentReference?_has:AuditEvent:entity:agent=Practitioner/gp&_count=200"),
        alice.get("DocumentReference?_revinclude=AuditEvent:entity&_count=200"),
    ]
    for response in answers:
        assert response.status_code == 200, response.get_data(as_text=True)
        _never_named(world, repr(response.get_json().get("entry", [])))  # links echo the query
    assert answers[0].get_json()["total"] == len(seen)
    assert answers[1].get_json()["total"] == len(seen)
    history = answers[2].get_json()
    assert {e["resource"]["id"] for e in history["entry"]} == {e["id"] for e in seen}
    assert answers[3].get_json()["total"] == 0
    for event in hidden:
        assert alice.get(f"AuditEvent/{event['id']}").status_code == 404
        assert alice.get(f"AuditEvent/{event['id']}/_history/1").status_code == 404
        assert alice.get(f"AuditEvent/{event['id']}/_history").status_code in (200, 404)
        history = alice.get(f"AuditEvent/{event['id']}/_history").get_json()
        _never_named(world, repr(history.get("entry", [])))


def test_the_operator_keeps_every_query_as_sent(world, client_for, fhir):
    urls = _professional_searches(world, client_for)
    queries = set()
    for event in _all(fhir, "AuditEvent?patient=Patient/alice&_count=200"):
        for entity in event["entity"]:
            if "query" in entity:
                assert [c["code"] for c in event["meta"]["security"]] == ["NOPAT"]
                queries.add(base64.b64decode(entity["query"]).decode())
    secret = world.doc("alice", "secret")
    assert {f"/fhir/{url}" for url in urls} | {f"/fhir/DocumentReference/_search?_id={secret}"} <= (
        queries
    )


def test_the_hidden_events_show_neither_when_the_document_is_released(world, client_for, fhir):
    """The document shows itself; the queries that named it stay the operator's."""
    _professional_searches(world, client_for)
    author = w.practitioner(client_for, "author", "alice")
    secret = world.doc("alice", "secret")
    released = author.get(f"DocumentReference/{secret}").get_json()
    released.pop("securityLabel")
    assert author.put(f"DocumentReference/{secret}", released).status_code == 200
    alice = w.patient(client_for, "alice")
    assert alice.get(f"DocumentReference/{secret}").status_code == 200
    events = _all(alice, "AuditEvent?_count=200")
    assert all("query" not in ent for e in events for ent in e["entity"])
