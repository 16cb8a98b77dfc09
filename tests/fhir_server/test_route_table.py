"""The FHIR route table, without Flask: which route a method and a path reach, and why not.

https://hl7.org/fhir/R4/http.html#summary - fhir_server.route_table
"""

import pytest

from carnet_core.errors import MethodNotAllowed, NotFound
from fhir_server.route_table import ROUTES, Route, RouteTable

# http://hl7.org/fhir/R4/valueset-restful-interaction.html
RESTFUL_INTERACTIONS = {
    "read",
    "vread",
    "update",
    "patch",
    "delete",
    "history-instance",
    "history-type",
    "history-system",
    "create",
    "search-type",
    "search-system",
    "search-compartment",
    "capabilities",
    "transaction",
    "batch",
    "operation",
}


def _reached(method: str, path: str) -> tuple[str, str, dict]:
    found = ROUTES.match(method, path)
    return found.route.method, found.route.pattern, found.params


@pytest.mark.parametrize(
    "method, path, pattern, params, interaction",
    [
        ("GET", "metadata", "metadata", {}, "capabilities"),
        ("POST", "", "", {}, "transaction"),
        ("GET", "Patient", "{type}", {"type": "Patient"}, "search-type"),
        ("POST", "Patient", "{type}", {"type": "Patient"}, "create"),
        ("PUT", "Patient", "{type}", {"type": "Patient"}, "update"),
        ("PATCH", "Patient", "{type}", {"type": "Patient"}, "patch"),
        ("DELETE", "Patient", "{type}", {"type": "Patient"}, "delete"),
        ("POST", "Patient/_search", "{type}/_search", {"type": "Patient"}, "search-type"),
        ("GET", "Patient/_history", "{type}/_history", {"type": "Patient"}, "history-type"),
        ("GET", "Patient/p1", "{type}/{id}", {"type": "Patient", "id": "p1"}, "read"),
        ("PUT", "Patient/p1", "{type}/{id}", {"type": "Patient", "id": "p1"}, "update"),
        ("PATCH", "Patient/p1", "{type}/{id}", {"type": "Patient", "id": "p1"}, "patch"),
        ("DELETE", "Patient/p1", "{type}/{id}", {"type": "Patient", "id": "p1"}, "delete"),
        (
            "GET",
            "Patient/p1/_history",
            "{type}/{id}/_history",
            {"type": "Patient", "id": "p1"},
            "history-instance",
        ),
        (
            "GET",
            "Patient/p1/_history/3",
            "{type}/{id}/_history/{vid}",
            {"type": "Patient", "id": "p1", "vid": "3"},
            "vread",
        ),
        (
            "POST",
            "DocumentReference/d1/$mask",
            "DocumentReference/{id}/$mask",
            {"id": "d1"},
            "operation",
        ),
        (
            "POST",
            "DocumentReference/d1/$unmask",
            "DocumentReference/{id}/$unmask",
            {"id": "d1"},
            "operation",
        ),
    ],
)
def test_each_pattern_is_matched_with_its_parameters(method, path, pattern, params, interaction):
    found = ROUTES.match(method, path)
    assert (found.route.method, found.route.pattern) == (method, pattern)
    assert found.params == params
    assert found.route.interaction == interaction


def test_every_route_of_the_table_is_reached_by_its_own_pattern():
    for route in ROUTES:
        path = route.pattern.format(type="Observation", id="o1", vid="2", file="f.ndjson")
        assert ROUTES.match(route.method, path).route is route


def test_literal_segments_win_over_parameters():
    # `metadata` is not a type, `_history` and `_search` are not ids.
    assert _reached("GET", "metadata")[1] == "metadata"
    assert _reached("GET", "Patient/_history")[1] == "{type}/_history"
    assert _reached("POST", "Patient/_search")[1] == "{type}/_search"
    # ... but they do not reserve the words elsewhere: a type may be unknown, an id anything.
    assert _reached("GET", "metadata/x") == ("GET", "{type}/{id}", {"type": "metadata", "id": "x"})
    assert _reached("GET", "Patient/$everything")[1] == "{type}/{id}"
    # A type never begins with `_` or `$`: those are FHIR's words, and the routes that have them.
    assert _reached("GET", "Patient/p1/_history")[1] == "{type}/{id}/_history"
    assert _reached("GET", "Patient/p1/Observation")[1] == "Patient/{id}/{type}"
    assert _reached("GET", "Patient/p1/$everything")[1] == "Patient/{id}/$everything"
    assert _reached("POST", "Observation/$validate")[1] == "{type}/$validate"
    assert _reached("GET", "_history")[1] == "_history"
    # $mask is a DocumentReference operation, and a record's (Patient) one, not any type's.
    assert ROUTES.match("POST", "Patient/p1/$mask").route.pattern == "Patient/{id}/$mask"
    with pytest.raises(NotFound):
        ROUTES.match("POST", "Observation/o1/$mask")


def test_head_is_answered_by_the_get_route():
    for path in ("metadata", "Patient", "Patient/_history", "Patient/p1", "Patient/p1/_history/1"):
        assert ROUTES.match("HEAD", path).route is ROUTES.match("GET", path).route
    with pytest.raises(MethodNotAllowed) as refused:
        ROUTES.match("HEAD", "Patient/_search")
    assert refused.value.headers["Allow"] == "POST"


@pytest.mark.parametrize(
    "path", ["Observation/o1/x", "Patient/p1/_history/1/x", "Patient/_history/x", "a/b/c/d/e"]
)
def test_a_path_no_pattern_has_is_404(path):
    with pytest.raises(NotFound) as refused:
        ROUTES.match("GET", path)
    assert refused.value.status == 404
    assert "Allow" not in refused.value.headers


@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("PUT", "", "GET, HEAD, POST"),
        ("DELETE", "", "GET, HEAD, POST"),
        ("POST", "metadata", "GET, HEAD"),
        ("DELETE", "metadata", "GET, HEAD"),
        ("GET", "Patient/_search", "POST"),
        ("POST", "Patient/_history", "GET, HEAD"),
        ("PUT", "Patient/_history", "GET, HEAD"),
        ("POST", "Patient/p1", "GET, HEAD, PUT, PATCH, DELETE"),
        ("DELETE", "Patient/p1/_history", "GET, HEAD"),
        ("PUT", "Patient/p1/_history/1", "GET, HEAD"),
        ("GET", "DocumentReference/d1/$mask", "POST"),
    ],
)
def test_a_known_path_with_another_method_is_405_with_allow(method, path, allow):
    with pytest.raises(MethodNotAllowed) as refused:
        ROUTES.match(method, path)
    assert refused.value.status == 405
    assert refused.value.headers["Allow"] == allow
    assert ROUTES.allowed_on(path) == allow.split(", ")


def test_empty_segments_are_ignored():
    assert _reached("GET", "/Patient//p1/") == (
        "GET",
        "{type}/{id}",
        {"type": "Patient", "id": "p1"},
    )
    assert _reached("POST", "/")[1] == ""


def test_every_row_names_a_restful_interaction_and_operations_their_name():
    for route in ROUTES:
        assert route.interaction in RESTFUL_INTERACTIONS, route
        assert route.summary, route
        last = route.pattern.rsplit("/", 1)[-1]
        if route.interaction == "operation" and route.operation:
            assert last == f"${route.operation}", route
        elif route.interaction == "operation":  # under an operation's URL: its status, its files
            assert route.pattern.split("/")[0].startswith("$"), route
        else:
            assert route.operation is None and not last.startswith("$"), route


def test_a_route_is_declared_once_and_head_never():
    def handler(services, ctx, call):
        return None

    read = Route("GET", "{type}/{id}", "read", handler, "Read.")
    with pytest.raises(ValueError, match="declared twice"):
        RouteTable([read, Route("GET", "{type}/{id}", "vread", handler, "Again.")])
    with pytest.raises(ValueError, match="HEAD"):
        RouteTable([Route("HEAD", "{type}/{id}", "read", handler, "Head.")])


def test_an_operation_is_one_more_row():
    def lastn(services, ctx, call):
        return ("lastn", call)

    table = RouteTable(
        [*ROUTES, Route("GET", "Observation/$lastn", "operation", lastn, "Last n.", "lastn")]
    )
    found = table.match("GET", "Observation/$lastn")
    assert found.route.handler is lastn and found.params == {}
    assert table.match("GET", "Patient/p1").route.interaction == "read"
