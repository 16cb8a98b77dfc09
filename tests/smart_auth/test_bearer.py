"""Bearer tokens on the FHIR API (RFC 6750) and SMART scopes enforced on each interaction."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from carnet.app import build, create_app
from smart_auth.models import RevokedToken
from smart_auth.tokens import TokenService
from tests.conftest import FhirClient, assert_outcome, issue_token

LOINC = "http://loinc.org"


def _doc(patient: str, category: str = "10", type_code: str = "11488-4") -> dict:
    return {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": patient},
        "type": {"coding": [{"system": LOINC, "code": type_code}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": category}]}],
        "content": [{"attachment": {"contentType": "application/pdf", "title": "report"}}],
    }


@pytest.fixture
def record(fhir):
    for pid in ("alice", "bob"):
        assert fhir.put(f"Patient/{pid}", {"resourceType": "Patient", "id": pid}).status_code == 201
    return {
        "alice_report": fhir.create(_doc("Patient/alice"))["id"],
        "alice_prescription": fhir.create(_doc("Patient/alice", "42", "57833-6"))["id"],
        "bob_report": fhir.create(_doc("Patient/bob"))["id"],
    }


def test_no_token_is_401_with_a_challenge(app):
    response = FhirClient(app.test_client()).get("Patient")
    assert_outcome(response, 401, "login")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("header", ["Basic dXNlcjpwdw==", "Bearer", "Bearer not-a-jwt"])
def test_malformed_credentials_are_401(app, header):
    response = FhirClient(app.test_client()).get("Patient", headers={"Authorization": header})
    assert_outcome(response, 401)
    assert "WWW-Authenticate" in response.headers


def test_tampered_token_is_401(app, system_token):
    head, payload, signature = system_token.split(".")
    forged = f"{head}.{payload}.{signature[:-4]}AAAA"
    response = FhirClient(app.test_client(), forged).get("Patient")
    assert_outcome(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_expired_token_is_401(app, carnet):
    expired = issue_token(carnet, "system/*.cruds", lifetime=-60)
    assert_outcome(FhirClient(app.test_client(), expired).get("Patient"), 401)


def test_token_for_another_server_is_401(app, carnet):
    other = TokenService(
        carnet.auth.keys, carnet.auth.tokens.issuer, "https://elsewhere.example/fhir", 300
    )
    token, _ = other.issue(client_id="c", scope="system/*.cruds", actor="system", subject="c")
    assert_outcome(FhirClient(app.test_client(), token).get("Patient"), 401)


def test_revoked_token_is_401(app, carnet):
    token, claims = carnet.auth.tokens.issue(
        client_id="c", scope="system/*.cruds", actor="system", subject="c"
    )
    client = FhirClient(app.test_client(), token)
    assert client.get("Patient").status_code == 200
    carnet.auth.tokens.revoke(claims)
    assert_outcome(client.get("Patient"), 401)


class Ticking:
    """A monotonic clock the test moves."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _revoked_by_another_worker(claims: dict) -> None:
    """The revocation list written as another worker writes it: to the store, not to this
    process's cache."""
    RevokedToken(jti=claims["jti"], expires_at=datetime.fromtimestamp(claims["exp"], UTC)).save()


def test_a_revocation_by_another_worker_applies_within_the_staleness_bound(app, carnet):
    # FHIR_SERVER_REVOCATION_STALENESS: answers are kept that long, never longer.
    revocations = carnet.auth.tokens.revocations
    revocations.clock = clock = Ticking()
    token, claims = carnet.auth.tokens.issue(
        client_id="c", scope="system/*.cruds", actor="system", subject="c"
    )
    client = FhirClient(app.test_client(), token)
    assert client.get("Patient").status_code == 200
    _revoked_by_another_worker(claims)
    clock.now += revocations.staleness - 0.5
    assert client.get("Patient").status_code == 200  # cached: no lookup per request
    clock.now += 0.5
    response = client.get("Patient")
    assert_outcome(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert token not in response.get_data(as_text=True)
    clock.now += 3600  # revoked for good: a revocation is never forgotten
    assert_outcome(client.get("Patient"), 401)


def test_without_staleness_a_revocation_applies_at_once(settings):
    settings = replace(settings, revocation_staleness=0)
    carnet = build(settings)
    token, claims = carnet.auth.tokens.issue(
        client_id="c", scope="system/*.cruds", actor="system", subject="c"
    )
    client = FhirClient(create_app(settings, carnet).test_client(), token)
    assert client.get("Patient").status_code == 200
    _revoked_by_another_worker(claims)
    assert_outcome(client.get("Patient"), 401)


def test_capability_statement_needs_no_token(app):
    assert app.test_client().get("/fhir/metadata").status_code == 200


def test_patient_token_reaches_only_its_own_compartment(client_for, record):
    alice = client_for(
        "patient/DocumentReference.rs patient/Patient.rs",
        "patient",
        patient="Patient/alice",
        fhir_user="Patient/alice",
    )
    assert alice.get(f"DocumentReference/{record['alice_report']}").status_code == 200
    assert_outcome(alice.get(f"DocumentReference/{record['bob_report']}"), 404)
    assert sorted(alice.ids("DocumentReference")) == sorted(
        [record["alice_report"], record["alice_prescription"]]
    )
    assert alice.ids("DocumentReference?patient=Patient/bob") == []
    assert alice.search("DocumentReference?patient=Patient/bob&_summary=count")["total"] == 0
    assert_outcome(alice.get("Patient/bob"), 404)


def test_missing_scope_is_403(client_for, record):
    reader = client_for("patient/DocumentReference.rs", "patient", patient="Patient/alice")
    assert_outcome(reader.post("DocumentReference", _doc("Patient/alice")), 403, "forbidden")
    assert_outcome(reader.get("Immunization"), 403, "forbidden")
    assert_outcome(reader.delete(f"DocumentReference/{record['alice_report']}"), 403)


def test_patient_scope_cannot_write_into_another_record(client_for):
    writer = client_for("patient/DocumentReference.crus", "patient", patient="Patient/alice")
    assert writer.post("DocumentReference", _doc("Patient/alice")).status_code == 201
    assert_outcome(writer.post("DocumentReference", _doc("Patient/bob")), 403)


def test_granular_scope_excludes_other_categories(client_for, record):
    reports_only = client_for(
        "patient/DocumentReference.rs?category=urn:oid:1.2.250.1.213.1.1.4.1|10",
        "patient",
        patient="Patient/alice",
    )
    assert reports_only.ids("DocumentReference") == [record["alice_report"]]
    assert_outcome(reports_only.get(f"DocumentReference/{record['alice_prescription']}"), 404)


def test_include_stops_at_the_types_the_scopes_grant(client_for, record):
    docs_only = client_for("system/DocumentReference.rs")
    bundle = docs_only.search("DocumentReference?_include=DocumentReference:subject")
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {"DocumentReference"}
    both = client_for("system/DocumentReference.rs system/Patient.r")
    bundle = both.search("DocumentReference?_include=DocumentReference:subject")
    assert {e["resource"]["resourceType"] for e in bundle["entry"]} == {
        "DocumentReference",
        "Patient",
    }


def test_each_transaction_entry_is_authorized(client_for, snapshot, record):
    before = snapshot()
    limited = client_for("system/DocumentReference.cruds")
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": _doc("Patient/alice"),
                "request": {"method": "POST", "url": "DocumentReference"},
            },
            {
                "resource": {"resourceType": "Patient"},
                "request": {"method": "POST", "url": "Patient"},
            },
        ],
    }
    assert_outcome(limited.post("/fhir", bundle), 403)
    assert snapshot() == before


def _segment(value: dict) -> str:
    import base64
    import json

    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


@pytest.mark.parametrize("kid", [{"a": 1}, ["k"], 7, None])
def test_a_token_whose_kid_is_not_a_string_is_401(app, kid):
    forged = f"{_segment({'alg': 'RS256', 'kid': kid})}.{_segment({'sub': 'x'})}.c2ln"
    response = FhirClient(app.test_client(), forged).get("Patient")
    assert_outcome(response, 401)
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
