"""One current trusted person, one current advance directive, whatever the timing of the writes
(fhir_server.profile.trusted_person, .directives; fhir_server.store.claims).

A follow-up's search for "the current one" runs in the writer's unit of work; on MongoDB two
first writes at once each see a snapshot without the other, so the search alone cannot keep
either rule. Each current one also holds its record's claim, taken in the same unit of work: of
two at once one commits, the other runs again and sees it.
"""

import threading

import pytest
import requests

from fhir_server.profile.records import RecordReader
from tests.conftest import issue_token
from tests.consent.world import patient
from tests.fhir_server.test_profile_trusted_person import ROLE_CLASS, TRE_A05, directives, trusted
from tests.smart_auth.conftest import live_server  # noqa: F401 (the app served in a thread)

AT_ONCE = 8
CURRENT = {
    "RelatedPerson": f"RelatedPerson?patient=p1&relationship={ROLE_CLASS}|NOK&active=true",
    "DocumentReference": f"DocumentReference?patient=p1&type={TRE_A05}|EXPPAT_3&status=current",
}


def _at_once(send, count: int = AT_ONCE) -> list[requests.Response]:
    """`send(i)` from `count` threads released together; their responses."""
    gate = threading.Barrier(count)
    responses: list = [None] * count

    def run(index: int) -> None:
        gate.wait()
        responses[index] = send(index)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return responses


@pytest.mark.parametrize(
    "resource_type, make, answers",
    [
        # Each new designation ends the one before it: every write succeeds, in some order.
        ("RelatedPerson", lambda n: trusted("p1", f"Famille{n}"), {201: AT_ONCE}),
        # A directive that names none of the current ones is refused: the first one stands.
        ("DocumentReference", lambda n: directives("p1", f"v{n}"), {201: 1, 409: AT_ONCE - 1}),
    ],
)
def test_first_writes_at_once_leave_one_current(live_server, resource_type, make, answers):  # noqa: F811
    carnet = live_server.carnet
    system = issue_token(carnet, "system/*.cruds")
    own = issue_token(
        carnet, "patient/*.cruds", "patient", fhir_user="Patient/p1", patient="Patient/p1"
    )
    base = live_server.fhir_base
    put = requests.put(
        f"{base}/Patient/p1",
        json={"resourceType": "Patient", "id": "p1"},
        headers={"Authorization": f"Bearer {system}"},
        timeout=30,
    )
    assert put.status_code == 201, put.text
    headers = {"Authorization": f"Bearer {own}", "Content-Type": "application/fhir+json"}
    responses = _at_once(
        lambda n: requests.post(
            f"{base}/{resource_type}", json=make(n), headers=headers, timeout=60
        )
    )
    statuses = [r.status_code for r in responses]
    assert {s: statuses.count(s) for s in set(statuses)} == answers, [r.text for r in responses]
    found = requests.get(f"{base}/{CURRENT[resource_type]}", headers=headers, timeout=30).json()
    assert found["total"] == 1, found


@pytest.fixture
def stale_once(monkeypatch):
    """The profile's next search for the record's current one answers as a snapshot taken before
    another request committed would (MongoDB's, in a transaction begun meanwhile): nothing."""
    real = RecordReader.find
    calls = {"stale": 1}

    def find(self, ctx, resource_type, pk, params, *args, **kw):
        if calls["stale"] and resource_type in CURRENT and params:
            calls["stale"] -= 1
            return []
        return real(self, ctx, resource_type, pk, params, *args, **kw)

    monkeypatch.setattr(RecordReader, "find", find)
    return calls


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_trusted_person_written_on_a_stale_snapshot_still_ends_the_other(
    fhir, client_for, stale_once, method
):
    fhir.put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    me = patient(client_for, "p1")
    stale_once["stale"] = 0
    first = me.create(trusted("p1", "Martin"))
    stale_once["stale"] = 1
    if method == "POST":
        assert me.post("RelatedPerson", trusted("p1", "Durand")).status_code == 201
    else:
        body = {**trusted("p1", "Durand"), "id": "durand"}  # the operator's, with its own id
        assert fhir.put("RelatedPerson/durand", body).status_code == 201
    bundle = me.search(CURRENT["RelatedPerson"])
    assert [e["resource"]["name"][0]["family"] for e in bundle["entry"]] == ["Durand"]
    assert me.get(f"RelatedPerson/{first['id']}").get_json()["active"] is False


def test_a_directive_written_on_a_stale_snapshot_is_still_refused(
    fhir, client_for, stale_once, snapshot
):
    fhir.put("Patient/p1", {"resourceType": "Patient", "id": "p1"})
    me = patient(client_for, "p1")
    stale_once["stale"] = 0
    first = me.create(directives("p1", "mes directives"))
    stale_once["stale"] = 1
    before = snapshot()
    refused = me.post("DocumentReference", directives("p1", "bis"))
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert f"DocumentReference/{first['id']}" in refused.get_json()["issue"][0]["diagnostics"]
    assert snapshot() == before
    assert me.ids(CURRENT["DocumentReference"]) == [first["id"]]
