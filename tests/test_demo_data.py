"""The demo data set (examples/demo) loads cleanly and answers the README's queries."""

import base64
import hashlib
import json

import pytest

from carnet.cli import DEMO_DIR, demo_files, load_files

INS = "urn:oid:1.2.250.1.213.1.4.8"
MASQUE_PS = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument|MASQUE_PS"
)


@pytest.fixture
def demo(carnet, fhir):
    loaded, failed = load_files(carnet, demo_files())
    assert failed == 0
    assert loaded == len(demo_files()) - 1 + sum(
        1 for line in (DEMO_DIR / "06-clinical.ndjson").read_text().splitlines() if line.strip()
    )
    return fhir


def test_demo_files_exist():
    names = [p.name for p in demo_files()]
    assert names[0] == "01-directory.json"
    assert any(n.endswith(".ndjson") for n in names)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("DocumentReference?patient=Patient/demo-alice", 5),
        ("DocumentReference?patient=Patient/demo-bernard", 4),
        ("DocumentReference?patient=Patient/demo-chloe", 3),
        ("DocumentReference?patient=Patient/demo-alice&status=current", 5),
        ("DocumentReference?patient=Patient/demo-alice&type=http://loinc.org|11490-0", 1),
        ("DocumentReference?type=http://loinc.org|11488-4", 3),
        (
            "DocumentReference?patient=Patient/demo-bernard&category=urn:oid:1.2.250.1.213.1.1.4.1|42",
            1,
        ),
        (f"DocumentReference?security-label={MASQUE_PS}", 1),
        (f"Patient?identifier={INS}|284057505612387", 1),
        ("Patient?family=Martin", 2),
        ("Practitioner?identifier=https://rpps.esante.gouv.fr|10002345678", 1),
        ("Organization?identifier=https://finess.esante.gouv.fr|750803447", 1),
        ("PractitionerRole?practitioner=Practitioner/demo-dr-lefevre", 1),
        ("Immunization?patient=Patient/demo-alice", 2),
        ("AllergyIntolerance?patient=Patient/demo-bernard", 1),
        ("Observation?patient=Patient/demo-alice&code=http://loinc.org|29463-7", 1),
        ("RelatedPerson?patient=Patient/demo-alice", 1),
        ("List?patient=Patient/demo-chloe", 1),
        ("Binary", 12),
    ],
)
def test_demo_searches(demo, url, expected):
    assert len(demo.ids(url)) == expected


def test_patients_have_valid_ins_keys(demo):
    for id in ("demo-alice", "demo-bernard", "demo-chloe"):
        patient = demo.get(f"Patient/{id}").get_json()
        (ins,) = [i["value"] for i in patient["identifier"] if i["system"] == INS]
        assert len(ins) == 15 and ins.isdigit()
        assert int(ins[13:]) == 97 - int(ins[:13]) % 97
        assert patient["generalPractitioner"][0]["reference"] == "Practitioner/demo-dr-lefevre"


def test_documents_point_at_their_binary_with_right_size_and_hash(demo):
    bundle = demo.search("DocumentReference?patient=Patient/demo-alice&_count=50")
    docs = [e["resource"] for e in bundle["entry"] if e["search"]["mode"] == "match"]
    assert len(docs) == 5
    for doc in docs:
        attachment = doc["content"][0]["attachment"]
        assert attachment["url"] == f"Binary/{doc['id']}-content"
        response = demo.get(attachment["url"])
        assert response.status_code == 200
        content = response.get_data()
        assert response.headers["Content-Type"].startswith(attachment["contentType"])
        assert len(content) == attachment["size"]
        assert base64.b64encode(hashlib.sha1(content).digest()).decode() == attachment["hash"]
        if attachment["contentType"] == "application/pdf":
            assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")


def test_submission_set_lists_the_documents(demo):
    submission = demo.get("List/demo-alice-submissionset").get_json()
    items = [e["item"]["reference"] for e in submission["entry"]]
    assert items == [f"DocumentReference/demo-alice-doc-{n:02d}" for n in range(1, 6)]


def test_loading_twice_changes_nothing(carnet, demo):
    loaded, failed = load_files(carnet, demo_files())
    assert failed == 0
    # The same content again: no new version (an update that changes nothing makes none).
    assert demo.get("Patient/demo-alice").get_json()["meta"]["versionId"] == "1"
    assert len(demo.ids("DocumentReference?patient=Patient/demo-alice")) == 5


def test_demo_json_is_valid_json():
    for path in demo_files():
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".ndjson":
            assert all(json.loads(line)["id"] for line in text.splitlines() if line.strip())
        else:
            assert json.loads(text)["type"] == "transaction"
