"""Date search through HTTP: https://hl7.org/fhir/R4/search.html#date"""

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import assert_outcome


@pytest.fixture
def born(fhir):
    dates = {
        "y1979": "1979",
        "feb": "1980-02-10",
        "mar1": "1980-03-01",
        "mar31": "1980-03-31",
        "apr": "1980-04-01",
    }
    out = {
        n: fhir.create({"resourceType": "Patient", "birthDate": d})["id"] for n, d in dates.items()
    }
    out["none"] = fhir.create({"resourceType": "Patient"})["id"]
    return out


def _ids(fhir, query):
    return sorted(fhir.ids(f"Patient?{query}"))


def _of(ids, *names):
    return sorted(ids[n] for n in names)


def test_eq_day_and_partial_dates(fhir, born):
    assert _ids(fhir, "birthdate=1980-03-01") == _of(born, "mar1")
    assert _ids(fhir, "birthdate=eq1980-03") == _of(born, "mar1", "mar31")
    assert _ids(fhir, "birthdate=1980") == _of(born, "feb", "mar1", "mar31", "apr")
    assert _ids(fhir, "birthdate=1979-06") == []


def test_ne(fhir, born):
    assert _ids(fhir, "birthdate=ne1980-03") == _of(born, "y1979", "feb", "apr")


def test_lt_gt_le_ge(fhir, born):
    assert _ids(fhir, "birthdate=lt1980-03") == _of(born, "y1979", "feb")
    assert _ids(fhir, "birthdate=gt1980-03") == _of(born, "apr")
    assert _ids(fhir, "birthdate=le1980-03") == _of(born, "y1979", "feb", "mar1", "mar31")
    assert _ids(fhir, "birthdate=ge1980-03-31") == _of(born, "mar31", "apr")


def test_sa_eb(fhir, born):
    assert _ids(fhir, "birthdate=sa1980-03-01") == _of(born, "mar31", "apr")
    assert _ids(fhir, "birthdate=eb1980-02") == _of(born, "y1979")


def test_ap_is_approximate(fhir, born):
    assert born["mar1"] in _ids(fhir, "birthdate=ap1980-03-02")
    assert born["none"] not in _ids(fhir, "birthdate=ap1980-03-02")
    assert _ids(fhir, "birthdate=ap2020-01-01") == []


def test_range_is_and(fhir, born):
    query = "birthdate=ge1980-02-15&birthdate=lt1980-04"
    assert _ids(fhir, query) == _of(born, "mar1", "mar31")


def test_datetime_with_zone(fhir):
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "poids"}}
    late = fhir.create({**obs, "effectiveDateTime": "2024-03-15T23:30:00+02:00"})
    fhir.create({**obs, "effectiveDateTime": "2024-03-16T01:30:00Z"})
    assert fhir.ids("Observation?date=2024-03-15T21:30:00Z") == [late["id"]]
    assert fhir.ids("Observation?date=lt2024-03-15T22:00:00Z") == [late["id"]]


def test_period_values(fhir):
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "content": [{"attachment": {"contentType": "text/plain", "url": "http://x/a"}}],
    }

    def with_period(**period):
        return fhir.create({**doc, "context": {"period": period}})["id"]

    march = with_period(start="2024-03-01", end="2024-03-20")
    spring = with_period(start="2024-03-10", end="2024-05-01")
    open_ended = with_period(start="2024-06-01")
    assert sorted(fhir.ids("DocumentReference?period=2024-03")) == [march]
    assert sorted(fhir.ids("DocumentReference?period=ge2024-04")) == sorted([spring, open_ended])
    assert sorted(fhir.ids("DocumentReference?period=lt2024-03-05")) == [march]
    assert sorted(fhir.ids("DocumentReference?period=sa2024-05-15")) == [open_ended]
    assert sorted(fhir.ids("DocumentReference?period=eb2024-03-25")) == [march]


def test_last_updated(fhir):
    first = fhir.create({"resourceType": "Practitioner"})
    stamp = datetime.fromisoformat(first["meta"]["lastUpdated"].replace("Z", "+00:00"))
    soon = (stamp + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = (stamp - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert fhir.ids(f"Practitioner?_lastUpdated=gt{before}") == [first["id"]]
    assert fhir.ids(f"Practitioner?_lastUpdated=ge{soon}") == []
    assert fhir.ids(f"Practitioner?_lastUpdated=lt{soon}") == [first["id"]]
    today = datetime.now(UTC).strftime("%Y")
    assert fhir.ids(f"Practitioner?_lastUpdated={today}") == [first["id"]]


@pytest.mark.parametrize(
    "value", ["yesterday", "1980-13", "1980-02-30", "2024-03-15T25:00", "xx1980", "1980-1-1"]
)
def test_bad_date_is_400(fhir, value):
    body = assert_outcome(fhir.get(f"Patient?birthdate={value}"), 400)
    assert "birthdate" in str(body)


def test_dates_at_the_ends_of_the_calendar(fhir, born):
    assert _ids(fhir, "birthdate=9999-12") == []
    assert _ids(fhir, "birthdate=lt9999-12-31") == _of(born, "y1979", "feb", "mar1", "mar31", "apr")
    assert _ids(fhir, "birthdate=ap0001-01-01") == []
    assert _ids(fhir, "birthdate=gt0001-01-01T00:00:00%2B01:00") != []
