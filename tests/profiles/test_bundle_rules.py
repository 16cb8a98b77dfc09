"""The ITI-65 rules across entries (profiles/bundle_rules.py), through profiles.validate."""

import base64
import hashlib

from profiles import DOCUMENT_REFERENCE, PROVIDE_BUNDLE, validate

ATTACHMENT = "Bundle.entry[1].resource.content[0].attachment"


def test_attachment_url_must_point_at_a_binary_of_the_bundle(bundle):
    bundle["entry"][1]["resource"]["content"][0]["attachment"]["url"] = "urn:uuid:elsewhere"
    [issue] = validate(bundle, PROVIDE_BUNDLE)
    assert issue.expression == f"{ATTACHMENT}.url"
    assert "does not point at a Binary of this Bundle" in issue.message


def test_attachment_url_may_use_the_binary_type_and_id(bundle):
    binary = bundle["entry"][2]
    binary["resource"]["id"] = "letter"
    binary["fullUrl"] = "https://sender.example/fhir/Binary/letter"
    bundle["entry"][1]["resource"]["content"][0]["attachment"]["url"] = "Binary/letter"
    assert validate(bundle, PROVIDE_BUNDLE) == []


def test_attachment_url_pointing_at_the_submission_set_is_refused(bundle):
    attachment = bundle["entry"][1]["resource"]["content"][0]["attachment"]
    attachment["url"] = bundle["entry"][0]["fullUrl"]
    assert [i.expression for i in validate(bundle, PROVIDE_BUNDLE)] == [f"{ATTACHMENT}.url"]


def test_size_and_hash_must_match_the_binary(bundle):
    attachment = bundle["entry"][1]["resource"]["content"][0]["attachment"]
    attachment["size"] += 1
    expected = attachment["hash"]
    attachment["hash"] = base64.b64encode(hashlib.sha1(b"other").digest()).decode()
    issues = validate(bundle, PROVIDE_BUNDLE)
    assert [i.expression for i in issues] == [f"{ATTACHMENT}.hash", f"{ATTACHMENT}.size"]
    assert f"expected {expected}" in issues[0].message
    assert f"{attachment['size'] - 1} bytes" in issues[1].message


def test_binary_data_must_be_base64(bundle):
    bundle["entry"][2]["resource"]["data"] = "not base64!"
    [issue] = validate(bundle, PROVIDE_BUNDLE)
    assert issue.message == "the Binary's data is not valid base64"


def test_every_document_is_an_entry_of_the_submission_set(bundle):
    bundle["entry"][0]["resource"]["entry"] = [{"item": {"reference": "DocumentReference/other"}}]
    [issue] = validate(bundle, PROVIDE_BUNDLE)
    assert issue.expression == "Bundle.entry[1]"
    assert "not an entry of the SubmissionSet" in issue.message


def test_contained_references_must_resolve(bundle):
    bundle["entry"][1]["resource"]["author"] = [{"reference": "#nobody"}]
    [issue] = validate(bundle, PROVIDE_BUNDLE)
    assert issue.expression == "Bundle.entry[1].resource.author[0].reference"
    assert issue.message == "#nobody is not a contained resource"


def test_contained_references_must_point_at_allowed_types(bundle):
    document = bundle["entry"][1]["resource"]
    document["author"] = [{"reference": "#custodian"}]  # an Organization
    document["context"]["sourcePatientInfo"] = {"reference": "#author"}  # a Practitioner
    issues = validate(document, DOCUMENT_REFERENCE)
    assert [(i.expression, i.message) for i in issues] == [
        (
            "DocumentReference.author[0].reference",
            "#custodian is an Organization; PDSm allows Device, Patient, Practitioner,"
            " PractitionerRole here",
        ),
        (
            "DocumentReference.context.sourcePatientInfo.reference",
            "#author is a Practitioner; PDSm allows Patient here",
        ),
    ]


def test_submission_set_author_org_must_be_a_contained_organization(bundle):
    submission = bundle["entry"][0]["resource"]
    submission["contained"][0]["resourceType"] = "Device"
    [issue] = validate(bundle, PROVIDE_BUNDLE)
    assert (
        issue.expression == "Bundle.entry[0].resource.source.extension[0].valueReference.reference"
    )
    assert "PDSm allows Organization here" in issue.message
