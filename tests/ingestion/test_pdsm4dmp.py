"""ITI-65 as the DMP's guide PDSM4DMP reads PDSm, driven by the guide's own examples (flux TD2, TD2.1).

https://interop.esante.gouv.fr/ig/fhir/pdsm4dmp/transaction_td2.html - the examples in
tests/ingestion/pdsm4dmp/ are copied unchanged from the guide (see its README.md); each test pushes
one as a hospital's system, as sent or broken in one PDSM4DMP rule, and every refusal leaves the
store as it was.
"""

import copy
import json
from pathlib import Path

import pytest

from ingestion.ins import INS_NIR
from tests.conftest import assert_outcome
from tests.ingestion.mhd import created, documents

EXAMPLES = Path(__file__).resolve().parent / "pdsm4dmp"
SUBMISSION = "Bundle-example-td2-iti65-lot-soumission.json"
REPLACEMENT = "Bundle-example-td2-1-remplacement.json"
GUIDE_NIR = "123456789012345"  # the examples' INS: its control key is 45, the number's is 11
VALID_NIR = "123456789012311"
PRACTITIONER = {
    "resourceType": "Practitioner",
    "id": "practitioner-author",
    "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.1", "value": "899700218896"}],
}


def verbatim(name: str) -> dict:
    return json.loads((EXAMPLES / name).read_text("utf-8"))


def example(name: str = SUBMISSION) -> dict:
    """The guide's example with its two errata mended (the README says why): a valid INS key, and
    the class (category) the NOS table ASS_X04 gives the type 11488-4 (10, not 11)."""
    bundle = json.loads((EXAMPLES / name).read_text("utf-8").replace(GUIDE_NIR, VALID_NIR))
    for document in documents(bundle):
        document["category"][0]["coding"][0].update(code="10", display="Compte rendu")
    return bundle


def submission_set(bundle: dict) -> dict:
    return bundle["entry"][0]["resource"]


def test_the_submission_example_is_stored_with_its_contained_practitioner(
    hospital, record_of, patient_of
):
    response = hospital.post("/fhir", example())
    body = response.get_json()
    assert response.status_code == 200, body
    assert body["type"] == "transaction-response"
    assert [e["response"]["status"] for e in body["entry"]] == ["201 Created"] * 3
    made = created(response)
    patient = record_of(VALID_NIR)
    document = hospital.get(made["DocumentReference"]).get_json()
    # The author and the legal authenticator stay the contained Practitioner the hospital sent.
    assert document["author"] == [{"reference": "#practitioner-author"}]
    assert document["authenticator"] == {"reference": "#practitioner-author"}
    assert PRACTITIONER in document["contained"]
    assert document["subject"]["reference"] == patient
    assert "custodian" not in document
    pushed = hospital.get(made["List"]).get_json()
    assert pushed["source"] == {"reference": "#practitioner-author"}
    assert PRACTITIONER in pushed["contained"]
    # The patient sees their document; the hospital that deposited it finds it by patient.
    assert patient_of(patient).ids("DocumentReference") == [made["DocumentReference"][18:]]
    found = hospital.ids(f"DocumentReference?patient.identifier={INS_NIR}|{VALID_NIR}")
    assert found == [made["DocumentReference"][18:]]


def test_the_consent_policy_and_the_audit_treat_it_as_any_push(hospital, other_hospital, fhir):
    made = created(hospital.post("/fhir", example()))
    # Another organisation does not even learn that the document exists.
    assert_outcome(other_hospital.get(made["DocumentReference"]), 404, "not-found")
    assert other_hospital.ids(f"DocumentReference?patient.identifier={INS_NIR}|{VALID_NIR}") == []
    # The push is audited once, naming the depositing system, its rule and what it wrote.
    pushes = [
        e["resource"]
        for e in fhir.search("AuditEvent?_count=200").get("entry", [])
        if e["resource"]["subtype"][0]["code"] == "transaction"
    ]
    assert len(pushes) == 1
    assert pushes[0]["agent"][0]["who"] == {"reference": "Device/hegp-system"}
    assert pushes[0]["agent"][0]["policy"] == ["urn:carnet:consent-rule:own-deposits"]
    written = [e.get("what", {}).get("reference") for e in pushes[0]["entity"]]
    assert f"{made['DocumentReference']}/_history/1" in written


def test_the_replacement_example_supersedes_the_document_it_names(hospital):
    old = created(hospital.post("/fhir", example()))["DocumentReference"]
    bundle = json.loads(json.dumps(example(REPLACEMENT)).replace("DocumentReference/doc-x-id", old))
    response = hospital.post("/fhir", bundle)
    body = response.get_json()
    assert response.status_code == 200, body
    statuses = [e["response"]["status"] for e in body["entry"]]
    assert statuses == ["201 Created", "201 Created", "200 OK", "201 Created"]
    new = "/".join(body["entry"][1]["response"]["location"].split("/")[-4:-2])
    # The sender's own PATCH is answered with the supersession: the old document's version 2.
    assert body["entry"][2]["response"]["etag"] == 'W/"2"'
    assert hospital.get(old).get_json()["status"] == "superseded"
    assert hospital.get(f"{old}/_history/1").get_json()["status"] == "current"
    replacing = hospital.get(new).get_json()
    assert (replacing["status"], replacing["relatesTo"][0]["target"]["reference"]) == (
        "current",
        old,
    )


def test_the_examples_as_published_are_refused_for_their_errata(hospital, snapshot):
    before = snapshot()
    body = assert_outcome(hospital.post("/fhir", verbatim(SUBMISSION)), 422, "invalid")
    assert [i["diagnostics"] for i in body["issue"]] == [
        "category 11 is not the class of type http://loinc.org|11488-4, which is 10 "
        "(TRE_A03-ClasseDocument)"
    ]
    mended_class = example()
    text = json.dumps(mended_class).replace(VALID_NIR, GUIDE_NIR)
    body = assert_outcome(hospital.post("/fhir", json.loads(text)), 422, "invalid")
    assert (
        "control key 45 does not match the number (expected 11)" in body["issue"][0]["diagnostics"]
    )
    assert snapshot() == before


def _document(bundle: dict) -> dict:
    return documents(bundle)[0]


def _contain(resource: dict, contained: dict) -> None:
    resource["contained"].append(contained)


ORGANIZATION = {
    "resourceType": "Organization",
    "id": "hospital",
    "identifier": [{"system": "urn:oid:1.2.250.1.71.4.2.2", "value": "1750000001"}],
}


def _no_authenticator(bundle: dict) -> None:
    del _document(bundle)["authenticator"]


def _organization_authenticator(bundle: dict) -> None:
    _contain(_document(bundle), ORGANIZATION)
    _document(bundle)["authenticator"] = {"reference": "#hospital"}


def _five_security_labels(bundle: dict) -> None:
    labels = _document(bundle)["securityLabel"]
    labels += [copy.deepcopy(labels[0]) for _ in range(4)]


def _no_date(bundle: dict) -> None:
    del _document(bundle)["date"]


def _organization_source(bundle: dict) -> None:
    _contain(submission_set(bundle), ORGANIZATION)
    submission_set(bundle)["source"] = {"reference": "#hospital"}


def _no_source_id(bundle: dict) -> None:
    extensions = submission_set(bundle)["extension"]
    extensions[:] = [e for e in extensions if not e["url"].endswith("/ihe-sourceId")]


def _no_title(bundle: dict) -> None:
    del _document(bundle)["content"][0]["attachment"]["title"]


def _no_service_start(bundle: dict) -> None:
    del _document(bundle)["context"]["period"]


@pytest.mark.parametrize(
    "break_it, expression, diagnostics",
    [
        (
            _no_authenticator,
            "Bundle.entry[1].resource.authenticator",
            "authenticator is required (PDSM4DMP: DocumentEntry.legalAuthenticator 1..1",
        ),
        (
            _organization_authenticator,
            "Bundle.entry[1].resource.authenticator.reference",
            "#hospital is an Organization; PDSM4DMP allows Practitioner, PractitionerRole here",
        ),
        (
            _five_security_labels,
            "Bundle.entry[1].resource.securityLabel",
            "securityLabel must have at most 4 item(s) (PDSM4DMP: DocumentEntry.confidentiality 1..4",
        ),
        (
            _no_date,
            "Bundle.entry[1].resource.date",
            "date is required (PDSM4DMP: DocumentEntry.creationTime 1..1",
        ),
        (
            _organization_source,
            "Bundle.entry[0].resource.source.reference",
            "#hospital is an Organization; PDSM4DMP allows Device, Patient, Practitioner, "
            "PractitionerRole here",
        ),
        (
            _no_source_id,
            "Bundle.entry[0].resource.extension",
            "exactly one ihe-sourceId extension is required",
        ),
        (
            _no_title,
            "Bundle.entry[1].resource.content[0].attachment.title",
            "attachment.title is required",
        ),
        (
            _no_service_start,
            "Bundle.entry[1].resource.context.period",
            "context.period is required",
        ),
    ],
    ids=[
        "no-legal-authenticator",
        "organization-authenticator",
        "five-confidentiality-codes",
        "no-creation-time",
        "organization-submission-author",
        "no-source-id",
        "no-title",
        "no-service-start",
    ],
)
def test_an_example_breaking_a_pdsm4dmp_rule_is_refused(
    hospital, snapshot, break_it, expression, diagnostics
):
    before = snapshot()
    bundle = example()
    break_it(bundle)
    body = assert_outcome(hospital.post("/fhir", bundle), 422, "invalid")
    assert [i["expression"] for i in body["issue"]] == [[expression]], body
    assert body["issue"][0]["diagnostics"].startswith(diagnostics), body
    assert snapshot() == before


def _entered_in_error(patch_entry: dict) -> None:
    patch_entry["resource"]["parameter"][0]["part"][2]["valueCode"] = "entered-in-error"


def _another_version(patch_entry: dict) -> None:
    patch_entry["request"]["ifMatch"] = 'W/"7"'


@pytest.mark.parametrize(
    "change", [_entered_in_error, _another_version], ids=["other-status", "other-version"]
)
def test_a_patch_other_than_the_supersession_is_not_taken_for_it(hospital, snapshot, change):
    old = created(hospital.post("/fhir", example()))["DocumentReference"]
    bundle = json.loads(json.dumps(example(REPLACEMENT)).replace("DocumentReference/doc-x-id", old))
    change(bundle["entry"][2])
    before = snapshot()
    # It is another change of the document we supersede: refused as a second change of it.
    body = assert_outcome(hospital.post("/fhir", bundle), 400, "invalid")
    assert body["issue"][0]["diagnostics"].endswith("a transaction may change each resource once")
    assert body["issue"][0]["expression"] == ["Bundle.entry[1].resource.relatesTo[0].target"]
    assert snapshot() == before
