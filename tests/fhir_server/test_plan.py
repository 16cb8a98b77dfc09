"""fhir_server.store.plan: the strict plan check, directly (tests/plan_check.py runs it on every
query every test makes the server send)."""

import re

import pytest

from fhir_server.store import indexes
from fhir_server.store.plan import Index, check

CURRENT = indexes.CURRENT
HISTORY = indexes.declared("Patient_history")
PAGE = 21


def ix(*fields: str, unique: bool = False) -> Index:
    return Index(
        "t", tuple((f.lstrip("-"), -1 if f.startswith("-") else 1) for f in fields), unique
    )


@pytest.mark.parametrize(
    "query, sort, limit",
    [
        ({"_id": "a"}, None, 1),  # a read
        ({"_id": {"$in": ["a", "b"]}}, [("_id", 1)], 0),  # an include
        ({"pk": "Patient/p", "tk": "status|current"}, [("_id", 1)], PAGE),  # E then S
        ({"tk": "status|current"}, [("_id", 1)], PAGE),  # across records: (tk, _id)
        ({"tk": "status|current", "_id": {"$gt": "x"}}, [("_id", 1)], PAGE),  # next page: E S R
        ({"rf": {"$in": ["a", "b", "c"]}}, [("_id", 1)], PAGE),  # merged point scans keep order
        ({"st": {"$regex": "^family=dup"}}, [("_id", 1)], PAGE),  # top-k sort behind a range
        ({"dt": {"$elemMatch": {"p": "date", "hi": {"$gt": 1}}}}, None, PAGE),  # (dt.p, dt.hi)
        ({"pk": "Patient/p", "tk": {"$ne": "x"}}, [("_id", 1)], PAGE),  # negation under pk
        ({"pk": "Patient/p"}, [("so.date", -1), ("_id", 1)], PAGE),  # sorting one record
        ({"lu": {"$gte": 5}}, [("lu", -1), ("_id", 1)], PAGE),  # the range is the sort
        ({}, [("lu", -1), ("_id", 1)], PAGE),  # unfiltered, in index order, stops at limit
        (
            {"$or": [{"pk": {"$in": ["Patient/a"]}}, {"acl.by": {"$in": ["Organization/h"]}}]},
            [("_id", 1)],
            PAGE,
        ),  # the care team: every branch in _id order, merged
    ],
)
def test_esr_served_queries_pass(query, sort, limit):
    assert check(CURRENT, query, sort, limit) is None


@pytest.mark.parametrize(
    "query, sort, limit, why",
    [
        ({"res.gender": "male"}, None, 0, "no declared index begins with"),
        ({"tk": {"$ne": "status|current"}}, None, PAGE, "$ne on tk"),
        ({"has": {"$ne": "birthdate"}}, None, PAGE, "$ne on has"),
        ({"acl.labels": {"$ne": "M"}}, None, PAGE, "$ne on acl.labels"),
        ({"pk": {"$nin": ["Patient/a"]}}, None, PAGE, "$nin on pk"),
        ({"st": {"$regex": "^family=.*dup"}}, None, PAGE, "unanchored pattern on st"),
        ({"st": re.compile("dup")}, None, PAGE, "unanchored pattern on st"),
        ({"has": "birthdate"}, None, PAGE, "no declared index"),  # a parameter name, no value
        ({"dt": {"$elemMatch": {"p": "date", "x": {"$gt": 1}}}}, None, PAGE, "no declared"),
        ({"tk": "status|current"}, [("so.date", 1), ("_id", 1)], PAGE, "(tk, so.date, _id)"),
        ({}, [("so.date", 1)], PAGE, "nothing narrows it"),
        ({}, None, 0, "whole collection"),
        ({"$or": [{"tk": "a"}, {"res.x": 1}]}, None, PAGE, "a branch of its $or"),
        ({"lu": {"$gte": 5}}, [("_id", 1)], 0, "needs an index"),  # a blocking sort, no limit
    ],
)
def test_scanning_queries_are_refused_naming_what_they_lack(query, sort, limit, why):
    reason = check(CURRENT, query, sort, limit)
    assert reason is not None and why in reason, reason


def test_the_sort_must_follow_the_equality_prefix_in_the_index():
    assert check([ix("a", "b")], {"a": 1}, [("b", 1)], 0) is None
    assert check([ix("a", "b")], {"a": 1}, [("b", -1)], 0) is None  # read backwards
    assert check([ix("a", "-b", "c")], {"a": 1}, [("b", 1), ("c", 1)], 0) is not None
    assert check([ix("a", "b", "c")], {"a": 1, "b": {"$gt": 0}}, [("c", 1)], 0) is not None
    assert check([ix("a", "b", "c")], {"a": 1, "c": {"$gt": 0}}, [("b", 1)], 0) is None
    many = {"a": {"$in": list(range(500))}}  # too many points to merge in order
    assert check([ix("a", "b")], many, [("b", 1)], 0) is not None
    assert check([ix("a", "b")], many, [("b", 1)], PAGE) is None


def test_a_unique_key_or_an_id_bounds_a_blocking_sort():
    assert check([ix("k", unique=True)], {"k": "x"}, [("when", -1)], 0) is None
    assert check([ix("k")], {"k": "x"}, [("when", -1)], 0) is not None
    assert check(HISTORY, {"id": "a"}, [("lu", -1)], 0) is None


def test_many_records_sort_only_behind_a_small_limit():
    records = {"pk": {"$in": [f"Patient/{i}" for i in range(500)]}}  # a large care team
    assert check(CURRENT, records, [("so.date", -1), ("_id", 1)], PAGE) is None  # top-k
    assert check(CURRENT, records, [("so.date", -1), ("_id", 1)], 0) is not None
    assert check(CURRENT, {"pk": "Patient/1"}, [("so.date", -1)], 0) is None  # one record


def test_history_pages_newest_first_across_records():
    assert check(HISTORY, {"lu": {"$gte": 1}}, [("lu", -1), ("_id", -1)], PAGE) is None
    deposits = {"acl.by": {"$in": ["Organization/h"]}}
    assert check(HISTORY, deposits, [("lu", -1), ("_id", -1)], PAGE) is None
