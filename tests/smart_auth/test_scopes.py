"""SMART v1 and v2 scope parsing and matching."""

import pytest

from carnet_core.scopes import InvalidScope, ScopeSet, parse_resource_scope


def test_v2_scope_grants_only_its_permissions():
    scopes = ScopeSet.parse("openid fhirUser patient/DocumentReference.rs")
    assert scopes.grants("DocumentReference", "read")
    assert scopes.grants("DocumentReference", "search-type")
    assert not scopes.grants("DocumentReference", "create")
    assert not scopes.grants("Immunization", "read")
    assert "openid" in scopes


def test_v1_read_and_write_map_to_v2_permissions():
    assert parse_resource_scope("patient/*.read").permissions == "rs"
    assert parse_resource_scope("user/AllergyIntolerance.write").permissions == "cud"
    assert parse_resource_scope("system/*.*").permissions == "cruds"


def test_wildcard_type_covers_every_type():
    scopes = ScopeSet.parse("user/*.cruds")
    assert scopes.grants("Consent", "delete")
    assert scopes.grants("Patient", "update")


@pytest.mark.parametrize(
    "text",
    [
        "patient/Observation.sr",
        "patient/Observation.rr",
        "patient/Observation.x",
        "user/observation.rs",
    ],
)
def test_malformed_resource_scopes_are_refused(text):
    with pytest.raises(InvalidScope):
        parse_resource_scope(text)


def test_granular_scope_keeps_its_search():
    scopes = ScopeSet.parse("patient/DocumentReference.rs?category=http://loinc.org|11488-4")
    assert scopes.search_restrictions("DocumentReference", "r") == [
        (("category", "http://loinc.org|11488-4"),)
    ]
    wide = ScopeSet.parse("patient/DocumentReference.rs?category=a patient/DocumentReference.r")
    assert wide.search_restrictions("DocumentReference", "r") is None
