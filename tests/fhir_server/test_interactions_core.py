"""The interactions driven directly, without Flask: https://hl7.org/fhir/R4/http.html

What the HTTP tests show through routes, shown on the framework-free core (tests/core.py): the
Reply of each interaction, and the typed error a refusal raises.
"""

from decimal import Decimal

import pytest

from carnet_core.errors import BadRequest, Forbidden, Gone, NotFound, PreconditionFailed
from tests.core import open_record, patient, practitioner

WEIGHT = {
    "resourceType": "Observation",
    "status": "final",
    "code": {"coding": [{"system": "http://loinc.org", "code": "29463-7"}]},
    "subject": {"reference": "Patient/alice"},
    "valueQuantity": {"value": Decimal("72.50"), "unit": "kg"},  # as fhir_server.jsonio reads it
}


@pytest.fixture
def alice(core):
    """Alice's own context, her record open, her GP as attending doctor."""
    return open_record(core, "alice", attending="Practitioner/gp")


def test_create_then_read_in_the_patients_own_record(core, alice):
    created = core.interactions.create(alice, "Observation", WEIGHT)
    assert created.status == 201
    id = created.body["id"]
    assert created.headers["Location"].endswith(f"/Observation/{id}/_history/1")
    read = core.interactions.read(alice, "Observation", id)
    assert read.status == 200 and read.headers["ETag"] == 'W/"1"'
    assert read.body["valueQuantity"] == WEIGHT["valueQuantity"]
    assert read.body["meta"]["versionId"] == "1"


def test_a_stale_version_is_refused_and_changes_nothing(core, alice):
    id = core.interactions.create(alice, "Observation", WEIGHT).body["id"]
    changed = {**WEIGHT, "id": id, "status": "amended"}
    assert (
        core.interactions.update(alice, "Observation", id, changed, if_match='W/"1"').status == 200
    )
    with pytest.raises(PreconditionFailed):
        core.interactions.update(alice, "Observation", id, changed, if_match='W/"1"')
    assert core.interactions.read(alice, "Observation", id).headers["ETag"] == 'W/"2"'
    history = core.interactions.history(alice, "Observation", id, [])
    assert [e["resource"]["status"] for e in history.body["entry"]] == ["amended", "final"]


def test_a_resource_out_of_reach_reads_as_one_that_is_not_there(core, alice):
    id = core.interactions.create(alice, "Observation", WEIGHT).body["id"]
    stranger = practitioner("stranger")
    with pytest.raises(NotFound) as hidden:
        core.interactions.read(stranger, "Observation", id)
    with pytest.raises(NotFound) as absent:
        core.interactions.read(stranger, "Observation", "no-such-id")
    assert hidden.value.status == absent.value.status == 404
    assert hidden.value.code == absent.value.code
    assert core.interactions.read(practitioner("gp"), "Observation", id).status == 200


def test_the_tokens_scopes_bound_every_interaction(core, alice):
    reader = patient("alice", scope="patient/Observation.rs")
    with pytest.raises(Forbidden):
        core.interactions.create(reader, "Observation", WEIGHT)
    with pytest.raises(NotFound):
        core.interactions.read(alice, "Unknown", "x")


def test_conditional_forms_act_on_their_searchs_one_match(core, alice):
    query = "code=http://loinc.org|29463-7"
    created = core.interactions.conditional_update(alice, "Observation", query, WEIGHT)
    assert created.status == 201
    id = created.body["id"]
    updated = core.interactions.conditional_update(
        alice, "Observation", query, {**WEIGHT, "status": "amended"}, prefer="minimal"
    )
    assert updated.status == 200 and updated.body is None and updated.headers["ETag"] == 'W/"2"'
    patch = [{"op": "replace", "path": "/status", "value": "corrected"}]
    patched = core.interactions.conditional_patch(alice, "Observation", query, patch)
    assert patched.body["id"] == id and patched.body["status"] == "corrected"
    with pytest.raises(NotFound):
        core.interactions.conditional_patch(alice, "Observation", "code=http://x|none", patch)
    assert (
        core.interactions.conditional_delete(alice, "Observation", "code=http://x|none").status
        == 204
    )
    with pytest.raises(BadRequest):
        core.interactions.conditional_delete(alice, "Observation", "")
    assert core.interactions.conditional_delete(alice, "Observation", query).status == 204
    with pytest.raises(Gone):
        core.interactions.read(alice, "Observation", id)
