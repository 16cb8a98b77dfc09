"""AuditEvents: every access by someone other than the patient, in the same request, readable by
the patient and changed by nobody. https://hl7.org/fhir/R4/auditevent.html
"""

import base64

import pytest

from tests.consent import world as w


@pytest.fixture
def world(fhir, client_for):
    return w.seed(fhir, client_for)


def _events(fhir) -> list[dict]:
    """Every AuditEvent, as the operator's platform reads them (leaving out its own reads)."""
    bundle = fhir.search("AuditEvent?_count=200")
    return [
        e["resource"]
        for e in bundle.get("entry", [])
        if e["resource"]["agent"][0]["who"].get("reference") != "Device/test-client"
    ]


def test_a_professionals_read_is_recorded_with_who_what_why_and_the_rule(world, client_for, fhir):
    before = {e["id"] for e in _events(fhir)}
    colleague = w.practitioner(client_for, "colleague", "alice", client_id="cabinet-soft")
    doc = world.doc("alice", "normal")
    assert colleague.get(f"DocumentReference/{doc}").status_code == 200
    new = [e for e in _events(fhir) if e["id"] not in before]
    assert len(new) == 1
    event = new[0]
    assert event["subtype"][0]["code"] == "read" and event["action"] == "R"
    assert event["outcome"] == "0"
    assert event["agent"][0]["who"] == {"reference": "Practitioner/colleague"}
    assert event["agent"][0]["policy"] == ["urn:carnet:consent-rule:care-team"]
    assert event["agent"][1]["who"]["identifier"]["value"] == "cabinet-soft"
    assert event["purposeOfEvent"][0]["coding"][0]["code"] == "normal"
    what = [e.get("what", {}).get("reference") for e in event["entity"]]
    assert what[0] == "Patient/alice" and f"DocumentReference/{doc}/_history/1" in what


def test_a_search_names_its_query_and_every_record_it_touched(world, client_for, fhir):
    before = {e["id"] for e in _events(fhir)}
    colleague = w.practitioner(client_for, "colleague")
    colleague.search("DocumentReference?status=current")
    new = [e for e in _events(fhir) if e["id"] not in before]
    patients = sorted(e["entity"][0]["what"]["reference"] for e in new)
    # Per record: one event, one for the documents the patient may not see yet, and one keeping
    # the query for the operator.
    assert patients == ["Patient/alice"] * 3 + ["Patient/bernard"] * 3
    security = [[c["code"] for c in e.get("meta", {}).get("security", [])] for e in new]
    assert sorted(security) == [[], [], *[["INVISIBLE_PATIENT"]] * 2, *[["NOPAT"]] * 2]
    for event, labels in zip(new, security, strict=True):
        searched = [ent for ent in event["entity"] if ent["role"]["code"] == "24"]
        assert searched[0]["type"]["code"] == "DocumentReference"
        if labels == ["NOPAT"]:
            query = base64.b64decode(searched[0]["query"]).decode()
            assert query == "/fhir/DocumentReference?status=current"
        else:
            assert "query" not in searched[0]
    assert all(e["action"] == "E" and e["subtype"][0]["code"] == "search-type" for e in new)


def test_the_operators_copy_of_a_search_names_the_records_events_not_their_documents(
    world, client_for, fhir
):
    before = {e["id"] for e in _events(fhir)}
    w.practitioner(client_for, "colleague").search("DocumentReference?status=current")
    new = [e for e in _events(fhir) if e["id"] not in before]
    by_id = {e["id"]: e for e in new}
    forensic = [e for e in new if e.get("meta", {}).get("security", [{}])[0].get("code") == "NOPAT"]
    assert len(forensic) == 2
    for event in forensic:
        patient = event["entity"][0]["what"]["reference"]
        named = [ent["what"]["reference"] for ent in event["entity"][1:] if "what" in ent]
        assert named and all(ref.startswith("AuditEvent/") for ref in named)
        companions = [by_id[ref.split("/")[1]] for ref in named]
        # The record's two other events of this request, which name every document shown.
        assert {c["entity"][0]["what"]["reference"] for c in companions} == {patient}
        assert len(companions) == 2 and event["id"] not in {c["id"] for c in companions}
        shown = [
            ent["what"]["reference"]
            for c in companions
            for ent in c["entity"]
            if ent.get("what", {}).get("reference", "").startswith("DocumentReference/")
        ]
        assert shown
        # The operator finds the query's events from the document too.
        doc = shown[0].split("/_history")[0]
        found = fhir.search(f"AuditEvent?entity={doc}&_count=200")
        assert {c["id"] for c in companions} & {e["resource"]["id"] for e in found["entry"]}


def test_the_patients_own_accesses_are_not_audited(world, client_for, fhir):
    before = len(_events(fhir))
    alice = w.patient(client_for, "alice")
    alice.search("DocumentReference?patient=Patient/alice")
    assert len(_events(fhir)) == before


def test_a_refused_attempt_on_the_record_in_context_is_recorded(world, client_for, fhir):
    before = {e["id"] for e in _events(fhir)}
    other = w.practitioner(client_for, "other", "alice")
    assert other.get(f"DocumentReference/{world.doc('alice', 'normal')}").status_code == 404
    new = [e for e in _events(fhir) if e["id"] not in before]
    assert [
        e["outcome"] for e in new if e["entity"][0]["what"]["reference"] == "Patient/alice"
    ] == ["4"]


def test_the_patient_reads_who_looked_at_her_record_and_only_hers(world, client_for):
    w.practitioner(client_for, "gp", "alice").get(
        f"DocumentReference/{world.doc('alice', 'normal')}"
    )
    w.practitioner(client_for, "gp", "bernard").get(
        f"DocumentReference/{world.doc('bernard', 'normal')}"
    )
    alice = w.patient(client_for, "alice")
    mine = alice.search("AuditEvent?_count=200")["entry"]
    assert mine and all(
        e["resource"]["entity"][0]["what"]["reference"] == "Patient/alice" for e in mine
    )
    assert any(e["resource"]["agent"][0]["who"].get("reference") == "Practitioner/gp" for e in mine)
    assert alice.search("AuditEvent?patient=Patient/bernard&_total=accurate")["total"] == 0


def test_the_patient_searches_her_access_history_by_who_when_and_what(world, client_for):
    doc = world.doc("alice", "normal")
    w.practitioner(client_for, "gp", "alice").get(f"DocumentReference/{doc}")
    w.practitioner(client_for, "colleague", "alice").search("DocumentReference?status=current")
    alice = w.patient(client_for, "alice")
    every = {e["resource"]["id"] for e in alice.search("AuditEvent?_count=200")["entry"]}
    by_gp = alice.ids("AuditEvent?agent=Practitioner/gp&_count=200")
    by_colleague = alice.ids("AuditEvent?agent=Practitioner/colleague&_count=200")
    assert by_gp and by_colleague and set(by_gp) | set(by_colleague) <= every
    assert not set(by_gp) & set(by_colleague)
    assert alice.ids(f"AuditEvent?entity=DocumentReference/{doc}&agent=Practitioner/gp") == by_gp
    assert set(alice.ids("AuditEvent?patient=Patient/alice&date=ge2000-01-01&_count=200")) == every
    assert alice.ids("AuditEvent?date=lt2000-01-01") == []
    assert set(alice.ids("AuditEvent?_lastUpdated=ge2000-01-01&_count=200")) == every


@pytest.mark.parametrize("parameter", ["outcome=0", "action=R", "type=rest", "entity-name=x"])
def test_an_audit_event_is_searched_only_by_what_the_access_history_needs(
    parameter, world, client_for
):
    """Every audited request writes AuditEvents: they hold the values of the searches the access
    history uses (patient, date, agent, entity, _lastUpdated) and no others, which this server
    does not offer (issue 13)."""
    alice = w.patient(client_for, "alice")
    strict = alice.get(f"AuditEvent?{parameter}", headers={"Prefer": "handling=strict"})
    assert strict.status_code == 400
    assert parameter.split("=")[0] in strict.get_json()["issue"][0]["diagnostics"]
    statement = alice.get("metadata").get_json()
    audit = next(r for r in statement["rest"][0]["resource"] if r["type"] == "AuditEvent")
    offered = {p["name"] for p in audit.get("searchParam", [])}
    assert {"patient", "date", "agent", "entity"} <= offered
    assert parameter.split("=")[0] not in offered


def test_professionals_do_not_read_the_access_history(world, client_for):
    gp = w.practitioner(client_for, "gp", "alice")
    gp.get(f"DocumentReference/{world.doc('alice', 'normal')}")
    assert gp.search("AuditEvent?patient=Patient/alice&_total=accurate")["total"] == 0


def test_an_audit_event_is_one_version_read_vread_and_history_alike(world, client_for, carnet):
    """AuditEvents never change: the store keeps no history copy of them, and read, vread and
    both histories still answer with their one version (its creation)."""
    gp = w.practitioner(client_for, "gp", "alice")
    gp.get(f"DocumentReference/{world.doc('alice', 'normal')}")
    alice = w.patient(client_for, "alice")
    event = alice.search("AuditEvent?_count=1&_sort=-_lastUpdated")["entry"][0]["resource"]
    url = f"AuditEvent/{event['id']}"
    read = alice.get(url)
    assert read.status_code == 200 and read.headers["ETag"] == 'W/"1"'
    assert read.get_json() == event
    assert alice.get(f"{url}/_history/1").get_json() == event
    assert alice.get(f"{url}/_history/2").status_code == 404
    instance = alice.get(f"{url}/_history").get_json()
    assert [e["resource"] for e in instance["entry"]] == [event]
    assert instance["entry"][0]["request"] == {"method": "POST", "url": "AuditEvent"}
    assert instance["entry"][0]["response"]["status"].startswith("201")
    everything = alice.get("AuditEvent/_history?_count=200").get_json()["entry"]
    assert event in [e["resource"] for e in everything]
    assert [e["resource"]["id"] for e in everything] == [
        e["resource"]["id"]
        for e in alice.search("AuditEvent?_count=200&_sort=-_lastUpdated")["entry"]
    ]
    paged = alice.get("AuditEvent/_history?_count=1").get_json()
    following = next(link["url"] for link in paged["link"] if link["relation"] == "next")
    second = alice.get(following.replace("http://testserver", "")).get_json()["entry"][0]
    assert second["resource"]["id"] == everything[1]["resource"]["id"]
    assert alice.get("AuditEvent/unknown/_history/1").status_code == 404
    assert alice.get("AuditEvent/unknown/_history").status_code == 404
    assert carnet.store.db.unchecked["AuditEvent_history"].count_documents({}) == 0


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH"])
def test_nobody_changes_or_deletes_an_audit_event(method, world, client_for, fhir, snapshot):
    w.practitioner(client_for, "gp", "alice").get(
        f"DocumentReference/{world.doc('alice', 'normal')}"
    )
    alice = w.patient(client_for, "alice")
    event = alice.search("AuditEvent?_count=1")["entry"][0]["resource"]
    for client in (fhir, alice):
        before = [e for e in _events(fhir) if e["id"] == event["id"]]
        body = {**event, "outcome": "0"} if method == "PUT" else None
        if method == "PATCH":
            body = [{"op": "replace", "path": "/outcome", "value": "8"}]
        response = client.send(
            method,
            f"AuditEvent/{event['id']}",
            body,
            content_type="application/json-patch+json"
            if method == "PATCH"
            else "application/fhir+json",
        )
        assert response.status_code in (403, 405), response.get_data(as_text=True)
        assert [e for e in _events(fhir) if e["id"] == event["id"]] == before
    assert fhir.post("AuditEvent", event).status_code in (403, 405)


def test_an_access_that_cannot_be_recorded_is_not_answered(world, client_for, carnet, monkeypatch):
    class Unavailable:
        def write(self, ctx, event, **options):
            raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(carnet.audit, "store", Unavailable())
    gp = w.practitioner(client_for, "gp", "alice")
    response = gp.get(f"DocumentReference/{world.doc('alice', 'normal')}")
    assert response.status_code == 500
    body = response.get_json()
    assert body["resourceType"] == "OperationOutcome" and "alice" not in repr(body)


def test_the_servers_own_contexts_keep_no_trail(world, client_for, carnet):
    """The audit's context lives as long as the process: nothing accumulates (the policy reads
    its facts below the store's filtered reads, with no context at all)."""
    from consent.audit import AUDIT_CONTEXT

    w.practitioner(client_for, "gp", "alice").get(
        f"DocumentReference/{world.doc('alice', 'normal')}"
    )
    assert AUDIT_CONTEXT.trail.touched == {}


def test_a_write_whose_access_cannot_be_recorded_leaves_the_store_unchanged(
    world, client_for, carnet, monkeypatch, snapshot
):
    """A write and its AuditEvent are one unit of work: without its record, no write either."""
    gp = w.practitioner(client_for, "gp", "alice")
    recorded = carnet.audit.record

    def failing(*args, **kwargs):
        recorded(*args, **kwargs)  # the event is written, then the audit fails
        raise RuntimeError("audit store unavailable")

    monkeypatch.setattr(carnet.audit, "record", failing)
    before = snapshot()
    response = gp.post("DocumentReference", w.document("alice", "a note"))
    assert response.status_code == 500, response.get_data(as_text=True)
    assert response.get_json()["resourceType"] == "OperationOutcome"
    assert snapshot() == before
