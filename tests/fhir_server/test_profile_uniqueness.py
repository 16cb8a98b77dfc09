"""One current trusted person, one current advance directive, whatever the timing of the writes
(fhir_server.profile.trusted_person, .directives; fhir_server.store.claims).

A follow-up's search for "the current one" runs in the writer's unit of work; on MongoDB two
first writes at once each see a snapshot without the other, so the search alone cannot keep
either rule. Each current one also holds its record's claim, taken in the same unit of work: of
two at once one commits, the other runs again and sees it.
"""

import itertools

import pytest
import requests

from fhir_server.profile.records import RecordReader
from tests.conftest import issue_token
from tests.fhir_server.test_profile_trusted_person import (
    ROLE_CLASS,
    TRE_A05,
    directives,
    me,  # noqa: F401 (Patient/p1 and their own app)
    trusted,
)
from tests.smart_auth.conftest import live_server  # noqa: F401 (the app served in a thread)
from tests.test_concurrent_uniqueness import at_once

AT_ONCE = 8
CURRENT = {
    "RelatedPerson": f"RelatedPerson?patient=p1&relationship={ROLE_CLASS}|NOK&active=true",
    "DocumentReference": f"DocumentReference?patient=p1&type={TRE_A05}|EXPPAT_3&status=current",
}


@pytest.mark.parametrize(
    "resource_type, make, answers",
    [
        # Each new designation ends the one before it: every write succeeds, in some order.
        ("RelatedPerson", lambda n: trusted("p1", f"Famille{n}"), {201: AT_ONCE}),
        # A directive that names none of the current ones is refused: the first one stands.
        ("DocumentReference", lambda n: directives("p1", f"v{n}"), {201: 1, 409: AT_ONCE - 1}),
    ],
)
def test_first_writes_at_once_leave_one_current(
    live_server,  # noqa: F811
    resource_type,
    make,
    answers,
):
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
    numbers = itertools.count()
    responses = at_once(
        lambda: requests.post(
            f"{base}/{resource_type}", json=make(next(numbers)), headers=headers, timeout=60
        ),
        AT_ONCE,
    )
    statuses = [r.status_code for r in responses]
    assert {s: statuses.count(s) for s in set(statuses)} == answers, [r.text for r in responses]
    found = requests.get(f"{base}/{CURRENT[resource_type]}", headers=headers, timeout=30).json()
    assert found["total"] == 1, found


@pytest.fixture
def stale(monkeypatch):
    """`stale()`: the profile's next search for the record's current one answers as a snapshot
    taken before another request committed would (MongoDB's, in a transaction begun meanwhile)."""
    real = RecordReader.find
    armed = []

    def find(self, ctx, resource_type, pk, params, *args, **kw):
        if armed and resource_type in CURRENT and params:
            armed.pop()
            return []
        return real(self, ctx, resource_type, pk, params, *args, **kw)

    monkeypatch.setattr(RecordReader, "find", find)
    return lambda: armed.append(True)


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_trusted_person_written_on_a_stale_snapshot_still_ends_the_other(
    me,  # noqa: F811
    fhir,
    stale,
    method,
):
    first = me.create(trusted("p1", "Martin"))
    stale()
    if method == "POST":
        assert me.post("RelatedPerson", trusted("p1", "Durand")).status_code == 201
    else:
        body = {**trusted("p1", "Durand"), "id": "durand"}  # the operator's, with its own id
        assert fhir.put("RelatedPerson/durand", body).status_code == 201
    bundle = me.search(CURRENT["RelatedPerson"])
    assert [e["resource"]["name"][0]["family"] for e in bundle["entry"]] == ["Durand"]
    assert me.get(f"RelatedPerson/{first['id']}").get_json()["active"] is False


def test_a_directive_written_on_a_stale_snapshot_is_still_refused(
    me,  # noqa: F811
    stale,
    snapshot,
):
    first = me.create(directives("p1", "mes directives"))
    stale()
    before = snapshot()
    refused = me.post("DocumentReference", directives("p1", "bis"))
    assert refused.status_code == 409, refused.get_data(as_text=True)
    assert f"DocumentReference/{first['id']}" in refused.get_json()["issue"][0]["diagnostics"]
    assert snapshot() == before
    assert me.ids(CURRENT["DocumentReference"]) == [first["id"]]
