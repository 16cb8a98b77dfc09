"""Conditional create, update, delete and patch: https://hl7.org/fhir/R4/http.html#ccreate"""

from urllib.parse import quote

from tests.conftest import assert_outcome

SYS = "urn:oid:1.2.250.1.213.1.4.8"


def patient(value: str, **extra) -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SYS, "value": value}],
        "name": [{"family": "Bernard"}],
        **extra,
    }


def cond(value: str) -> str:
    return f"identifier={quote(SYS + '|' + value)}"


def test_conditional_create_no_match_creates(fhir):
    response = fhir.post("Patient", patient("1"), headers={"If-None-Exist": cond("1")})
    assert response.status_code == 201
    assert "Location" in response.headers
    assert fhir.ids(f"Patient?{cond('1')}") == [response.get_json()["id"]]


def test_conditional_create_one_match_returns_existing(fhir, snapshot):
    existing = fhir.create(patient("2"))
    before = snapshot()
    response = fhir.post("Patient", patient("2"), headers={"If-None-Exist": cond("2")})
    assert response.status_code == 200
    assert response.get_json()["id"] == existing["id"]
    assert response.headers["ETag"] == 'W/"1"'
    assert snapshot() == before


def test_a_conditional_create_after_its_resource_is_deleted_creates_again(fhir):
    """The unique claim of a conditional create is released with the resource it names."""
    first = fhir.post("Patient", patient("20"), headers={"If-None-Exist": cond("20")})
    assert fhir.delete(f"Patient/{first.get_json()['id']}").status_code == 204
    second = fhir.post("Patient", patient("20"), headers={"If-None-Exist": cond("20")})
    assert second.status_code == 201
    assert fhir.ids(f"Patient?{cond('20')}") == [second.get_json()["id"]]
    again = fhir.post("Patient", patient("20"), headers={"If-None-Exist": cond("20")})
    assert (again.status_code, again.get_json()["id"]) == (200, second.get_json()["id"])


def test_a_conditional_create_after_its_resource_no_longer_matches_creates_again(fhir):
    """A claim whose resource was changed so that the search no longer finds it is taken over."""
    first = fhir.post("Patient", patient("21"), headers={"If-None-Exist": cond("21")}).get_json()
    assert (
        fhir.put(f"Patient/{first['id']}", {**patient("22"), "id": first["id"]}).status_code == 200
    )
    second = fhir.post("Patient", patient("21"), headers={"If-None-Exist": cond("21")})
    assert second.status_code == 201
    again = fhir.post("Patient", patient("21"), headers={"If-None-Exist": cond("21")})
    assert (again.status_code, again.get_json()["id"]) == (200, second.get_json()["id"])
    # The same search with its parameters in another order is the same conditional create.
    both = f"{cond('21')}&family=Bernard"
    swapped = f"family=Bernard&{cond('21')}"
    third = fhir.post("Patient", patient("21"), headers={"If-None-Exist": both})
    fourth = fhir.post("Patient", patient("21"), headers={"If-None-Exist": swapped})
    assert third.status_code == fourth.status_code == 200


def test_conditional_create_several_matches_is_412(fhir, snapshot):
    fhir.create(patient("3"))
    fhir.create(patient("3"))
    before = snapshot()
    response = fhir.post("Patient", patient("3"), headers={"If-None-Exist": cond("3")})
    assert_outcome(response, 412)
    assert snapshot() == before


def test_conditional_create_with_unknown_parameter_is_400(fhir, snapshot):
    before = snapshot()
    response = fhir.post("Patient", patient("4"), headers={"If-None-Exist": "colour=blue"})
    assert_outcome(response, 400)
    assert snapshot() == before


def test_conditional_update_no_match_creates(fhir):
    response = fhir.put(f"Patient?{cond('5')}", patient("5"))
    assert response.status_code == 201
    assert fhir.ids(f"Patient?{cond('5')}") == [response.get_json()["id"]]


def test_conditional_update_one_match_updates(fhir):
    existing = fhir.create(patient("6"))
    response = fhir.put(f"Patient?{cond('6')}", patient("6", gender="female"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == existing["id"]
    assert body["meta"]["versionId"] == "2"
    assert fhir.get(f"Patient/{existing['id']}").get_json()["gender"] == "female"


def test_conditional_update_id_must_agree(fhir, snapshot):
    fhir.create(patient("7"))
    before = snapshot()
    response = fhir.put(f"Patient?{cond('7')}", {**patient("7"), "id": "someone-else"})
    assert_outcome(response, 400)
    assert snapshot() == before


def test_conditional_update_several_matches_is_412(fhir, snapshot):
    fhir.create(patient("8"))
    fhir.create(patient("8"))
    before = snapshot()
    assert_outcome(fhir.put(f"Patient?{cond('8')}", patient("8")), 412)
    assert snapshot() == before


def test_conditional_update_without_criteria_is_400(fhir, snapshot):
    before = snapshot()
    assert_outcome(fhir.put("Patient", patient("9")), 400)
    assert snapshot() == before


def test_conditional_update_if_match(fhir, snapshot):
    fhir.create(patient("10"))
    before = snapshot()
    stale = fhir.put(f"Patient?{cond('10')}", patient("10"), headers={"If-Match": 'W/"3"'})
    assert_outcome(stale, 412)
    assert snapshot() == before


def test_conditional_delete(fhir):
    existing = fhir.create(patient("11"))
    response = fhir.delete(f"Patient?{cond('11')}")
    assert response.status_code in (200, 204)
    assert_outcome(fhir.get(f"Patient/{existing['id']}"), 410)
    assert fhir.delete(f"Patient?{cond('11')}").status_code in (200, 204)


def test_conditional_delete_several_is_412(fhir, snapshot):
    fhir.create(patient("12"))
    fhir.create(patient("12"))
    before = snapshot()
    assert_outcome(fhir.delete(f"Patient?{cond('12')}"), 412)
    assert snapshot() == before


def test_conditional_delete_without_criteria_is_400(fhir, snapshot):
    fhir.create(patient("13"))
    before = snapshot()
    assert_outcome(fhir.delete("Patient"), 400)
    assert snapshot() == before


def test_conditional_patch(fhir, snapshot):
    existing = fhir.create(patient("14"))
    ops = [{"op": "add", "path": "/gender", "value": "male"}]
    response = fhir.patch(f"Patient?{cond('14')}", ops)
    assert response.status_code == 200
    assert response.get_json()["id"] == existing["id"]
    assert response.get_json()["gender"] == "male"
    before = snapshot()
    assert_outcome(fhir.patch(f"Patient?{cond('nobody')}", ops), 404)
    fhir.create(patient("14"))
    before = snapshot()
    assert_outcome(fhir.patch(f"Patient?{cond('14')}", ops), 412)
    assert snapshot() == before
