"""Fuzzing the FHIR API: mutated resources, patches, searches and Bundles never break the server.

Property: every answer is below 500, every 4xx is an OperationOutcome, and a refused request leaves
the store as it was. The seeds are the valid resources of examples/resources; hypothesis mutates
them (types swapped, nulls, deep nesting, huge numbers, unknown elements, bad references and dates,
odd unicode) and draws search parameters (unknown names, modifiers, prefixes, garbage values,
_sort/_count/_include...). https://hl7.org/fhir/R4/http.html

CI runs about 200 requests, derandomized. A longer run with any seed:
    CARNET_FUZZ_EXAMPLES=2000 CARNET_FUZZ_SEED=7 python -m pytest tests/fhir_server/test_fuzz.py
"""

import copy
import json
import os
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from fhir_server.indexing.registry import REGISTRY
from fhir_server.resources import SUPPORTED_TYPES
from tests.conftest import FhirClient, issue_token, store_snapshot

EXAMPLES = int(os.environ.get("CARNET_FUZZ_EXAMPLES", "200"))
SEED = os.environ.get("CARNET_FUZZ_SEED")
SEEDS = {
    path.stem: json.loads(path.read_text())
    for path in sorted(
        (Path(__file__).resolve().parents[2] / "examples" / "resources").glob("*.json")
    )
}
MHD_PUSHES = [
    json.loads(path.read_text())
    for path in sorted((Path(__file__).resolve().parents[2] / "examples" / "mhd").glob("*.json"))
]
# Stand-ins replaced in the JSON text: numbers Python's json module cannot write.
RAW_NUMBERS = {
    "@@huge-int@@": "9" * 5000,
    "@@huge-negative@@": "-" + "1" * 4400,
    "@@long-decimal@@": "0." + "1" * 60,
    "@@huge-exponent@@": "1e999999",
    "@@tiny-exponent@@": "-1.5E-999999",
    "@@int64@@": "9223372036854775808",
}


def _share(percent: int):
    """The test's share of the examples: fixed draws in CI, CARNET_FUZZ_SEED for another run."""
    budget = settings(
        max_examples=max(1, EXAMPLES * percent // 100),
        derandomize=SEED is None,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )

    def decorate(test):
        test = budget(test)
        return seed(int(SEED))(test) if SEED is not None else test

    return decorate


# -- values ---------------------------------------------------------------------------------------
ODD_TEXT = st.sampled_from(
    ["", " ", "\x00", "\udc80", "\ud83d", "é\u0301", "\u202eevil", "\ufeff", "😀" * 30, "a" * 70000]
)
TEXT = st.text(max_size=20) | ODD_TEXT
DATES = st.sampled_from(
    [
        "2024-13-45",
        "2024-02-30",
        "yesterday",
        "2024-01-01T25:00:00Z",
        "2024-01-01T10:00:00",
        "0000-01-01",
        "9999-12-31T23:59:60Z",
        "2024-01-01T10:00:00+99:00",
        "20240101",
        "2024-1-1",
    ]
)
REFERENCES = st.sampled_from(
    [
        "Patient/../x",
        "Patient/",
        "/Patient/1",
        "Spaceship/1",
        "urn:uuid:not-a-uuid",
        "#missing",
        "http://elsewhere.example/fhir/Patient/1",
        "Patient?identifier=",
        "Patient/" + "a" * 100,
        "Patient/1/_history/x",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
    | DATES
    | st.sampled_from(sorted(RAW_NUMBERS))
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(TEXT | st.sampled_from(["reference", "_x", "url"]), children, max_size=3)
    ),
    max_leaves=6,
)


def _deep(depth: int, kind: str):
    node = {"url": "http://example.org/leaf", "valueString": "x"}
    for _ in range(depth):
        node = [node] if kind == "array" else {"url": "http://example.org/x", "extension": [node]}
    return node


def _paths(node, here=()):
    """Every path (keys and indexes) into a JSON value."""
    yield here
    if isinstance(node, dict):
        for key, child in node.items():
            yield from _paths(child, (*here, key))
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _paths(child, (*here, index))


def _set(root, path, value):
    node = root
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value


@st.composite
def mutation(draw, resource: dict) -> dict:
    resource = copy.deepcopy(resource)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(resource) if p and p[0] not in ("resourceType",)]
        path = draw(st.sampled_from(paths)) if paths else ("id",)
        kind = draw(
            st.sampled_from(
                [
                    "value",
                    "null",
                    "deep",
                    "unknown",
                    "reference",
                    "date",
                    "empty",
                    "wrap",
                    "drop",
                    "odd",
                ]
            )
        )
        if kind == "value":
            _set(resource, path, draw(JSON))
        elif kind == "null":
            _set(resource, path, None)
        elif kind == "deep":
            depth = draw(st.sampled_from([5, 20, 31, 32, 33, 70, 200]))
            _set(resource, path, _deep(depth, draw(st.sampled_from(["array", "extension"]))))
        elif kind == "unknown":
            resource[draw(TEXT)] = draw(JSON)
        elif kind == "odd":
            _set(resource, path, draw(ODD_TEXT))
        elif kind == "reference":
            _set(resource, path, {"reference": draw(REFERENCES | TEXT)})
        elif kind == "date":
            _set(resource, path, draw(DATES))
        elif kind == "empty":
            _set(resource, path, draw(st.sampled_from([{}, [], ""])))
        elif kind == "wrap":
            node = resource
            for step in path:
                node = node[step]
            _set(resource, path, [node] if not isinstance(node, list) else node[0] if node else {})
        elif len(path) == 1 and path[0] in resource:
            del resource[path[0]]
    return resource


def _text(value) -> bytes:
    """JSON text with the stand-ins for huge numbers put in (lone surrogates as escapes)."""
    text = json.dumps(value)
    for stand_in, number in RAW_NUMBERS.items():
        text = text.replace(json.dumps(stand_in), number)
    return text.encode()


# -- the property ---------------------------------------------------------------------------------
# Besides the platform's own client: a hospital, a professional and a patient (consent.policy).
CALLERS = [
    ("system/*.cruds", "system", {"organization": "Organization/fz-Organization"}),
    (
        "user/*.cruds",
        "practitioner",
        {"fhir_user": "Practitioner/fz-Practitioner", "patient": "Patient/fz-Patient"},
    ),
    (
        "patient/*.cruds",
        "patient",
        {"fhir_user": "Patient/fz-Patient", "patient": "Patient/fz-Patient"},
    ),
]
CALLER = st.integers(0, len(CALLERS))


class Fuzz:
    """Sends one request and checks the property; the store is compared around refusals."""

    def __init__(self, app, carnet):
        self.carnet = carnet
        self.client = FhirClient(app.test_client(), issue_token(carnet, "system/*.cruds"))
        self.callers = [self.client] + [
            FhirClient(app.test_client(), issue_token(carnet, scope, actor, **claims))
            for scope, actor, claims in CALLERS
        ]
        self.seeded = {}
        for name, resource in SEEDS.items():
            if name == "AuditEvent":
                continue
            response = self.client.put(f"{name}/fz-{name}", {**resource, "id": f"fz-{name}"})
            assert response.status_code in (200, 201), response.get_data(as_text=True)
            self.seeded[name] = f"fz-{name}"

    def send(self, method: str, url: str, body: bytes | None = None, caller: int = 0, **headers):
        before = store_snapshot(self.carnet)
        response = self.callers[caller].send(
            method,
            url,
            body,
            headers=headers,
            content_type=headers.pop("content_type", "application/fhir+json"),
        )
        status = response.status_code
        assert status < 500, (
            f"{method} {url[:300]}\n{(body or b'')[:2000]!r}\n{response.data[:500]!r}"
        )
        if status >= 400:
            outcome = response.get_json(silent=True)
            assert (
                isinstance(outcome, dict) and outcome.get("resourceType") == "OperationOutcome"
            ), f"{method} {url[:300]} -> {status} {response.data[:300]!r}"
            assert store_snapshot(self.carnet) == before, f"{method} {url[:300]} {status} wrote"
        return response


@pytest.fixture
def fuzz(app, carnet):
    return Fuzz(app, carnet)


RESOURCE_NAMES = sorted(SEEDS)


@_share(35)
@given(data=st.data())
def test_mutated_resources_on_create_and_update(fuzz, data):
    name = data.draw(st.sampled_from(RESOURCE_NAMES))
    resource = data.draw(mutation(SEEDS[name]))
    if data.draw(st.booleans()):
        url = data.draw(st.sampled_from([name, name, "Patient"]))
        fuzz.send("POST", url, _text(resource), caller=data.draw(CALLER))
    else:
        id = data.draw(
            st.sampled_from([f"fz-{name}", "new-" + uuid.uuid4().hex[:8], "bad id", "a" * 65])
        )
        if data.draw(st.booleans()):
            resource["id"] = id
        fuzz.send("PUT", f"{name}/{quote(id)}", _text(resource), caller=data.draw(CALLER))


PATCH_PATHS = st.sampled_from(
    [
        "",
        "/",
        "/id",
        "/resourceType",
        "/meta",
        "/meta/versionId",
        "/name/-",
        "/name/0/given/9",
        "/identifier/0",
        "/text/div",
        "/extension",
        "/~1",
        "/a~2b",
        "/contained/0",
        "/status",
    ]
)


@_share(20)
@given(data=st.data())
def test_json_patches(fuzz, data):
    name = data.draw(st.sampled_from([n for n in RESOURCE_NAMES if n != "AuditEvent"]))
    known = ["/" + "/".join(map(str, p)) for p in _paths(SEEDS[name]) if p]
    ops = data.draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "op": st.sampled_from(
                        ["add", "remove", "replace", "move", "copy", "test", "x"]
                    ),
                    "path": st.sampled_from(known) | PATCH_PATHS,
                },
                optional={"value": JSON, "from": st.sampled_from(known) | PATCH_PATHS},
            ),
            max_size=3,
        )
        | JSON
    )
    fuzz.send(
        "PATCH",
        f"{name}/fz-{name}",
        _text(ops),
        caller=data.draw(CALLER),
        content_type="application/json-patch+json",
    )


PARAM_NAMES = sorted({p for t in SUPPORTED_TYPES for p in REGISTRY.for_type(t)})
SPECIAL = [
    "_id",
    "_lastUpdated",
    "_sort",
    "_count",
    "_include",
    "_revinclude",
    "_summary",
    "_elements",
    "_total",
    "_cursor",
    "_has",
    "_format",
    "_tag",
    "_security",
    "_profile",
    "_text",
    "_content",
    "_list",
    "_since",
    "_type",
    "_query",
]
COMMON = [
    "patient",
    "subject",
    "identifier",
    "name",
    "family",
    "given",
    "birthdate",
    "date",
    "code",
    "status",
    "type",
    "category",
    "value-quantity",
    "organization",
    "practitioner",
    "subject.name",
    "patient.identifier",
    "subject:Patient.family",
    "author",
    "period",
    "address",
    "telecom",
    "gender",
    "active",
    "related",
    "context",
    "_has:Observation:subject:code",
]
MODIFIERS = st.sampled_from(
    [
        "",
        "",
        ":exact",
        ":contains",
        ":missing",
        ":not",
        ":text",
        ":above",
        ":below",
        ":in",
        ":of-type",
        ":identifier",
        ":Patient",
        ":iterate",
        ":bogus",
        ":",
        "::",
    ]
)
PREFIXES = st.sampled_from(["", "", "eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap", "xx"])
VALUES = (
    TEXT
    | DATES
    | REFERENCES
    | st.integers().map(str)
    | st.sampled_from(
        [
            "|",
            "a|b|c",
            "http://loinc.org|",
            "|x",
            "$",
            '{"$gt": 1}',
            ".*",
            "(",
            "-1",
            "0",
            "1e9",
            "999999999999999999999999",
            "5000",
            "-_id",
            "_id,-date",
            "*",
            "Patient:bogus",
            "x:y:z",
            "Observation:subject:Patient",
            "true",
            "count",
            "none",
            "estimate",
            "accurate",
            "1.5|http://unitsofmeasure.org|kg",
            ",",
            "a,",
            "\\,",
            "%",
            "%%",
            "%zz",
            "2024-01-01T00:00:00+01:00",
        ]
    )
)


@_share(30)
@given(data=st.data())
def test_search_parameters(fuzz, data):
    resource_type = data.draw(st.sampled_from([*SUPPORTED_TYPES, "Spaceship"]))
    pairs = data.draw(
        st.lists(
            st.tuples(
                st.sampled_from(SPECIAL + COMMON + PARAM_NAMES) | st.text(max_size=8),
                MODIFIERS,
                PREFIXES,
                VALUES,
            ),
            max_size=4,
        )
    )
    query = "&".join(
        f"{quote(name, safe=':._', errors='surrogatepass')}{quote(modifier, safe=':', errors='surrogatepass')}={quote(prefix + value, safe='|,:', errors='surrogatepass')}"
        for name, modifier, prefix, value in pairs
    )
    strict = {"Prefer": "handling=strict"} if data.draw(st.booleans()) else {}
    fuzz.send("GET", f"{resource_type}?{query}", caller=data.draw(CALLER), **strict)


@_share(15)
@given(data=st.data())
def test_transactions_and_batches(fuzz, data):
    entries = []
    for _ in range(data.draw(st.integers(1, 3))):
        name = data.draw(st.sampled_from(RESOURCE_NAMES))
        resource = data.draw(mutation(SEEDS[name])) if data.draw(st.booleans()) else SEEDS[name]
        method = data.draw(st.sampled_from(["POST", "PUT", "DELETE", "GET", "PATCH", "HEAD", "X"]))
        url = data.draw(
            st.sampled_from([name, f"{name}/fz-{name}", f"{name}?identifier=x", "", "Spaceship/1"])
        )
        entry = {"resource": resource, "request": {"method": method, "url": url}}
        if data.draw(st.booleans()):
            entry["fullUrl"] = data.draw(
                st.sampled_from([f"urn:uuid:{uuid.uuid4()}", "urn:uuid:x", "Patient/1"]) | TEXT
            )
        entries.append(data.draw(st.just(entry) | mutation(entry)))
    bundle = {
        "resourceType": "Bundle",
        "type": data.draw(st.sampled_from(["transaction", "batch", "collection", "document"])),
        "entry": entries,
    }
    if data.draw(st.integers(0, 3)) == 0:  # an MHD push (ITI-65) instead
        bundle = data.draw(mutation(data.draw(st.sampled_from(MHD_PUSHES))))
    elif data.draw(st.booleans()):
        bundle = data.draw(mutation(bundle))
    fuzz.send("POST", "/fhir", _text(bundle), caller=data.draw(CALLER))
