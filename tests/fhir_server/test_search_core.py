"""The search engine driven directly, without Flask: https://hl7.org/fhir/R4/search.html

Parameters in, one predicate and a page of matches out (SearchEngine.parse, then execute), with
the caller's access policy inside the count as inside the matches.
"""

from dataclasses import replace

import pytest

from carnet_core.errors import BadRequest, TooCostly
from tests.core import build_core, open_record, patient, practitioner

LOINC = "http://loinc.org"


def observation(patient_id: str, code: str) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_id}"},
    }


@pytest.fixture
def seeded(core):
    """Two records (Alice's GP is Practitioner/gp), three observations: id by (patient, code)."""
    open_record(core, "alice", attending="Practitioner/gp")
    open_record(core, "bernard")
    made = [("alice", "29463-7"), ("alice", "8867-4"), ("bernard", "29463-7")]
    return {
        (who, code): core.interactions.create(
            core.operator, "Observation", observation(who, code)
        ).body["id"]
        for who, code in made
    }


def search(core, ctx, params: list[tuple[str, str]], resource_type: str = "Observation"):
    request = core.engine.parse(ctx, resource_type, params, strict=True)
    return core.engine.execute(ctx, request)


def test_a_token_parameter_finds_the_right_resources_and_counts_them(core, seeded):
    result = search(core, core.operator, [("code", f"{LOINC}|29463-7")])
    assert sorted(m.id for m in result.matches) == sorted(
        [seeded["alice", "29463-7"], seeded["bernard", "29463-7"]]
    )
    assert result.total == 2
    result = search(core, core.operator, [("code", "8867-4,29463-7"), ("_count", "1")])
    assert len(result.matches) == 1 and result.total == 3 and result.next_cursor


def test_the_access_policy_is_inside_matches_and_total(core, seeded):
    params = [("code", f"{LOINC}|29463-7")]
    for ctx in (patient("alice"), practitioner("gp")):
        result = search(core, ctx, params)
        assert [m.id for m in result.matches] == [seeded["alice", "29463-7"]]
        assert result.total == 1
    nobody = search(core, practitioner("stranger"), params)
    assert nobody.matches == [] and nobody.total == 0


def test_a_searchset_bundle_through_the_interaction(core, seeded):
    reply = core.interactions.search(
        patient("alice"), "Observation", [("patient", "Patient/alice"), ("_sort", "_id")]
    )
    assert reply.status == 200 and reply.body["total"] == 2
    ids = [e["resource"]["id"] for e in reply.body["entry"]]
    assert ids == sorted([seeded["alice", "29463-7"], seeded["alice", "8867-4"]])


def test_unknown_parameters_are_refused_when_strict(core, seeded):
    with pytest.raises(BadRequest):
        search(core, core.operator, [("colour", "blue")])
    lenient = core.engine.parse(core.operator, "Observation", [("colour", "blue")], strict=False)
    assert lenient.unknown == ["colour"]


def test_searches_the_server_will_not_run_are_too_costly(core, seeded):
    with pytest.raises(TooCostly) as unfiltered_sort:
        search(core, core.operator, [("_sort", "date")])
    assert unfiltered_sort.value.status == 400 and unfiltered_sort.value.code == "too-costly"
    narrow = build_core(replace(core.engine.settings, max_chain_ids=1))
    found = search(narrow, core.operator, [("subject:Patient.name", "alice")])
    assert len(found.matches) == 2
    with pytest.raises(TooCostly):
        search(narrow, core.operator, [("subject:Patient.active:missing", "true")])
    with pytest.raises(TooCostly):
        search(narrow, core.operator, [("_has:Observation:subject:code", "29463-7")], "Patient")
