"""transaction Bundles: https://hl7.org/fhir/R4/http.html#transaction"""

import base64

from tests.conftest import assert_outcome

SYS = "urn:oid:1.2.250.1.213.1.4.8"
P_URN = "urn:uuid:3f1c2d4e-0000-4000-8000-000000000001"
B_URN = "urn:uuid:3f1c2d4e-0000-4000-8000-000000000002"


def tx(*entries) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": list(entries)}


def post(resource: dict, full_url: str | None = None, **request) -> dict:
    entry = {"resource": resource, "request": {"method": "POST", "url": resource["resourceType"]}}
    entry["request"].update(request)
    if full_url:
        entry["fullUrl"] = full_url
    return entry


def patient(value: str) -> dict:
    return {"resourceType": "Patient", "identifier": [{"system": SYS, "value": value}]}


def observation(subject: str) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"text": "weight"},
        "subject": {"reference": subject},
    }


def test_transaction_creates_and_rewrites_urn_references(fhir):
    response = fhir.post("/fhir", tx(post(patient("t1"), P_URN), post(observation(P_URN))))
    assert response.status_code == 200, response.get_data(as_text=True)
    bundle = response.get_json()
    assert bundle["type"] == "transaction-response"
    assert len(bundle["entry"]) == 2
    for entry in bundle["entry"]:
        assert entry["response"]["status"].startswith("201")
        assert entry["response"]["etag"] == 'W/"1"'
        assert "/_history/1" in entry["response"]["location"]
    pid = bundle["entry"][0]["resource"]["id"]
    oid = bundle["entry"][1]["resource"]["id"]
    assert fhir.get(f"Observation/{oid}").get_json()["subject"]["reference"] == f"Patient/{pid}"


def test_document_reference_attachment_url_points_at_binary_entry(fhir):
    data = base64.b64encode(b"%PDF-1.4 compte rendu").decode()
    binary = {"resourceType": "Binary", "contentType": "application/pdf", "data": data}
    doc = {
        "resourceType": "DocumentReference",
        "status": "current",
        "subject": {"reference": P_URN},
        "content": [{"attachment": {"contentType": "application/pdf", "url": B_URN}}],
    }
    response = fhir.post("/fhir", tx(post(doc), post(binary, B_URN), post(patient("t2"), P_URN)))
    assert response.status_code == 200, response.get_data(as_text=True)
    entries = response.get_json()["entry"]
    bid = entries[1]["resource"]["id"]
    stored = fhir.get(f"DocumentReference/{entries[0]['resource']['id']}").get_json()
    url = stored["content"][0]["attachment"]["url"]
    assert url.endswith(f"Binary/{bid}")
    assert stored["subject"]["reference"] == f"Patient/{entries[2]['resource']['id']}"
    raw = fhir.get(f"Binary/{bid}", headers={"Accept": "application/pdf"})
    assert raw.get_data() == b"%PDF-1.4 compte rendu"


def test_failing_entry_rolls_back_everything(fhir, snapshot):
    fhir.put("Patient/keep", {**patient("keep"), "id": "keep"})
    fhir.put("Patient/gone", {**patient("gone"), "id": "gone"})
    before = snapshot()
    bad = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "oops": 1}
    bundle = tx(
        post(patient("t3"), P_URN),
        {
            "resource": {**patient("changed"), "id": "keep"},
            "request": {"method": "PUT", "url": "Patient/keep"},
        },
        {"request": {"method": "DELETE", "url": "Patient/gone"}},
        post(bad),
    )
    body = assert_outcome(fhir.post("/fhir", bundle), 422, "structure")
    assert "Bundle.entry[3]" in body["issue"][0]["diagnostics"]
    assert snapshot() == before
    assert fhir.get("Patient/keep").get_json()["identifier"][0]["value"] == "keep"
    assert fhir.get("Patient/gone").status_code == 200


def test_rollback_after_a_large_binary(carnet, fhir, snapshot):
    big = base64.b64encode(b"x" * carnet.settings.gridfs_threshold).decode()
    binary = {"resourceType": "Binary", "contentType": "text/plain", "data": big}
    fhir.create(binary)  # GridFS collections exist before the snapshot
    fhir.put("Patient/t0", {**patient("t0"), "id": "t0"})
    before = snapshot()
    stale = {
        "resource": {**patient("t0"), "id": "t0"},
        "request": {"method": "PUT", "url": "Patient/t0", "ifMatch": 'W/"5"'},
    }
    assert_outcome(fhir.post("/fhir", tx(post(binary, B_URN), stale)), 412, "conflict")
    assert snapshot() == before


def test_conditional_reference_resolved(fhir):
    pid = fhir.create(patient("t4"))["id"]
    obs = observation(f"Patient?identifier={SYS}|t4")
    response = fhir.post("/fhir", tx(post(obs)))
    assert response.status_code == 200, response.get_data(as_text=True)
    oid = response.get_json()["entry"][0]["resource"]["id"]
    assert fhir.get(f"Observation/{oid}").get_json()["subject"]["reference"] == f"Patient/{pid}"


def test_ambiguous_or_absent_conditional_reference_is_412(fhir, snapshot):
    fhir.create(patient("t5"))
    fhir.create(patient("t5"))
    before = snapshot()
    ambiguous = tx(post(patient("t6")), post(observation(f"Patient?identifier={SYS}|t5")))
    assert_outcome(fhir.post("/fhir", ambiguous), 412)
    absent = tx(post(observation(f"Patient?identifier={SYS}|none")))
    assert_outcome(fhir.post("/fhir", absent), 412)
    assert snapshot() == before


def test_reference_to_unknown_urn_is_400(fhir, snapshot):
    before = snapshot()
    response = fhir.post("/fhir", tx(post(patient("t7"), P_URN), post(observation(B_URN))))
    body = assert_outcome(response, 400, "not-found")
    assert B_URN in body["issue"][0]["diagnostics"]
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource"]
    assert snapshot() == before


def test_conditional_create_in_transaction_points_at_existing(fhir):
    pid = fhir.create(patient("t8"))["id"]
    bundle = tx(
        post(patient("t8"), P_URN, ifNoneExist=f"identifier={SYS}|t8"),
        post(observation(P_URN)),
    )
    response = fhir.post("/fhir", bundle)
    assert response.status_code == 200, response.get_data(as_text=True)
    entries = response.get_json()["entry"]
    assert entries[0]["response"]["status"].startswith("200")
    oid = entries[1]["resource"]["id"]
    assert fhir.get(f"Observation/{oid}").get_json()["subject"]["reference"] == f"Patient/{pid}"
    assert len(fhir.ids(f"Patient?identifier={SYS}|t8")) == 1


def test_update_delete_read_entries(fhir):
    fhir.put("Patient/t9", {**patient("t9"), "id": "t9"})
    fhir.put("Patient/t10", {**patient("t10"), "id": "t10"})
    bundle = tx(
        {"request": {"method": "GET", "url": "Patient/t9"}},
        {
            "resource": {**patient("t9b"), "id": "t9"},
            "request": {"method": "PUT", "url": "Patient/t9"},
        },
        {"request": {"method": "DELETE", "url": "Patient/t10"}},
    )
    response = fhir.post("/fhir", bundle, headers={"Prefer": "return=minimal"})
    assert response.status_code == 200, response.get_data(as_text=True)
    entries = response.get_json()["entry"]
    assert entries[0]["response"]["status"].startswith("200")
    assert entries[0]["resource"]["identifier"][0]["value"] == "t9b"
    assert entries[1]["response"]["etag"] == 'W/"2"'
    assert entries[2]["response"]["status"].startswith(("200", "204"))
    assert_outcome(fhir.get("Patient/t10"), 410)


def test_bad_bundles_are_400(fhir, snapshot):
    before = snapshot()
    assert_outcome(fhir.post("/fhir", {"resourceType": "Patient"}), 400)
    assert_outcome(fhir.post("/fhir", {"resourceType": "Bundle", "type": "collection"}), 400)
    assert_outcome(fhir.post("/fhir", tx({"resource": patient("x")})), 400)
    dup = tx(post(patient("a"), P_URN), post(patient("b"), P_URN))
    assert_outcome(fhir.post("/fhir", dup), 400)
    for bad_request in ({"method": 5, "url": "Patient"}, {"method": "GET", "url": ["Patient"]}):
        body = assert_outcome(fhir.post("/fhir", tx({"request": bad_request})), 400)
        assert body["issue"][0]["expression"][0].startswith("Bundle.entry[0].request.")
    numeric = post(patient("c"), ifNoneExist=5)
    assert_outcome(fhir.post("/fhir", tx(numeric)), 400)
    assert_outcome(fhir.post("/fhir", tx({**post(patient("d")), "fullUrl": 7})), 400)
    assert snapshot() == before


def test_transaction_version_conflict_is_412(fhir, snapshot):
    fhir.put("Patient/t11", {**patient("t11"), "id": "t11"})
    before = snapshot()
    entry = {
        "resource": {**patient("t11"), "id": "t11"},
        "request": {"method": "PUT", "url": "Patient/t11", "ifMatch": 'W/"7"'},
    }
    assert_outcome(fhir.post("/fhir", tx(post(patient("t12")), entry)), 412)
    assert snapshot() == before


def test_conditional_update_with_urn_full_url(fhir):
    query = f"Patient?identifier={SYS}|t13"
    put = {"fullUrl": P_URN, "resource": patient("t13"), "request": {"method": "PUT", "url": query}}
    response = fhir.post("/fhir", tx(put, post(observation(P_URN))))
    assert response.status_code == 200, response.get_data(as_text=True)
    entries = response.get_json()["entry"]
    assert entries[0]["response"]["status"].startswith("201")
    pid = entries[0]["resource"]["id"]
    oid = entries[1]["resource"]["id"]
    assert fhir.get(f"Observation/{oid}").get_json()["subject"]["reference"] == f"Patient/{pid}"
    again = fhir.post("/fhir", tx(put, post(observation(P_URN)))).get_json()["entry"]
    assert again[0]["response"]["status"].startswith("200")
    assert again[0]["resource"]["id"] == pid
    assert again[1]["resource"]["subject"]["reference"] == f"Patient/{pid}"


def test_entries_changing_one_resource_twice_fail(fhir, snapshot):
    fhir.put("Patient/t14", {**patient("t14"), "id": "t14"})
    before = snapshot()
    put = {
        "resource": {**patient("t14"), "id": "t14", "gender": "male"},
        "request": {"method": "PUT", "url": "Patient/t14"},
    }
    delete = {"request": {"method": "DELETE", "url": "Patient/t14"}}
    body = assert_outcome(fhir.post("/fhir", tx(put, delete)), 400)
    assert "Patient/t14" in body["issue"][0]["diagnostics"]
    cond = {
        "resource": patient("t14"),
        "request": {"method": "PUT", "url": f"Patient?identifier={SYS}|t14"},
    }
    assert_outcome(fhir.post("/fhir", tx(put, cond)), 400)
    assert snapshot() == before
