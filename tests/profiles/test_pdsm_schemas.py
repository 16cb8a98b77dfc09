"""The PDSm JSON Schemas (profiles/*.schema.json) through profiles.validate, and the examples."""

import pytest
from fhir.resources.R4B.bundle import Bundle
from jsonschema import Draft202012Validator

from ingestion.ins import check_identifier, ins_identifier
from profiles import (
    DOCUMENT_REFERENCE,
    DOCUMENT_TYPES,
    PROFILE_BASE,
    PROFILES,
    PROVIDE_BUNDLE,
    SUBMISSION_SET,
    ProfileIssue,
    schema_for,
    validate,
)
from tests.profiles.conftest import EXAMPLES, load_example

SUBMISSION = "Bundle.entry[0].resource"
DOCUMENT = "Bundle.entry[1].resource"


def expressions(issues: list[ProfileIssue]) -> set[str]:
    return {issue.expression for issue in issues}


def drop(resource: dict, path: str) -> None:
    """Remove the element at a dotted path, list positions as numbers: `content.0.attachment.hash`."""
    *parents, last = path.split(".")
    for step in parents:
        resource = resource[int(step)] if step.isdigit() else resource[step]
    del resource[int(last) if last.isdigit() else last]


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_conform_to_pdsm_and_to_base_fhir(name):
    example = load_example(name)
    assert validate(example, PROVIDE_BUNDLE) == []
    assert validate(example["entry"][0]["resource"], SUBMISSION_SET) == []
    assert validate(example["entry"][1]["resource"], DOCUMENT_REFERENCE) == []
    parsed = Bundle.model_validate(example)
    assert [entry.resource.get_resource_type() for entry in parsed.entry] == [
        "List",
        "DocumentReference",
        "Binary",
    ]


@pytest.mark.parametrize("name", EXAMPLES)
def test_examples_carry_a_valid_ins_and_a_known_document_type(name):
    document = load_example(name)["entry"][1]["resource"]
    system, value = ins_identifier(document["subject"])
    assert check_identifier(system, value) == value
    assert ins_identifier({"reference": document["subject"]["reference"]}) == (system, value)
    coding = document["type"]["coding"][0]
    assert DOCUMENT_TYPES[f"{coding['system']}|{coding['code']}"] == "10"
    assert document["category"][0]["coding"][0]["code"] == "10"


@pytest.mark.parametrize(
    ("path", "expression"),
    [
        ("type", "Bundle.type"),
        ("meta", "Bundle.meta"),
        ("entry.1.fullUrl", "Bundle.entry[1].fullUrl"),
        ("entry.1.request", "Bundle.entry[1].request"),
        ("entry.2.request.method", "Bundle.entry[2].request.method"),
        ("entry.1.resource.masterIdentifier", f"{DOCUMENT}.masterIdentifier"),
        ("entry.1.resource.masterIdentifier.system", f"{DOCUMENT}.masterIdentifier.system"),
        ("entry.1.resource.status", f"{DOCUMENT}.status"),
        ("entry.1.resource.type", f"{DOCUMENT}.type"),
        ("entry.1.resource.type.coding", f"{DOCUMENT}.type.coding"),
        ("entry.1.resource.type.coding.0.system", f"{DOCUMENT}.type.coding[0].system"),
        ("entry.1.resource.category", f"{DOCUMENT}.category"),
        ("entry.1.resource.subject", f"{DOCUMENT}.subject"),
        ("entry.1.resource.subject.reference", f"{DOCUMENT}.subject.reference"),
        ("entry.1.resource.date", f"{DOCUMENT}.date"),
        ("entry.1.resource.author", f"{DOCUMENT}.author"),
        ("entry.1.resource.custodian", f"{DOCUMENT}.custodian"),
        ("entry.1.resource.securityLabel", f"{DOCUMENT}.securityLabel"),
        ("entry.1.resource.contained", f"{DOCUMENT}.contained"),
        ("entry.1.resource.content", f"{DOCUMENT}.content"),
        ("entry.1.resource.content.0.format", f"{DOCUMENT}.content[0].format"),
        *(
            (
                f"entry.1.resource.content.0.attachment.{name}",
                f"{DOCUMENT}.content[0].attachment.{name}",
            )
            for name in ("contentType", "language", "url", "size", "hash", "title", "creation")
        ),
        ("entry.1.resource.context", f"{DOCUMENT}.context"),
        ("entry.1.resource.context.period", f"{DOCUMENT}.context.period"),
        ("entry.1.resource.context.period.start", f"{DOCUMENT}.context.period.start"),
        ("entry.1.resource.context.facilityType", f"{DOCUMENT}.context.facilityType"),
        ("entry.1.resource.context.practiceSetting", f"{DOCUMENT}.context.practiceSetting"),
        ("entry.1.resource.context.sourcePatientInfo", f"{DOCUMENT}.context.sourcePatientInfo"),
        ("entry.0.resource.extension", f"{SUBMISSION}.extension"),
        (
            "entry.0.resource.extension.0.valueIdentifier",
            f"{SUBMISSION}.extension[0].valueIdentifier",
        ),
        ("entry.0.resource.status", f"{SUBMISSION}.status"),
        ("entry.0.resource.mode", f"{SUBMISSION}.mode"),
        ("entry.0.resource.subject", f"{SUBMISSION}.subject"),
        ("entry.0.resource.date", f"{SUBMISSION}.date"),
        ("entry.0.resource.source", f"{SUBMISSION}.source"),
        ("entry.0.resource.contained", f"{SUBMISSION}.contained"),
    ],
)
def test_each_missing_required_element_is_reported_where_it_belongs(bundle, path, expression):
    drop(bundle, path)
    issues = validate(bundle, PROVIDE_BUNDLE)
    required = [issue for issue in issues if issue.expression == expression]
    assert required, issues
    assert any("is required" in issue.message for issue in required), required


def test_required_messages_name_the_element_and_the_rule(bundle):
    drop(bundle, "entry.1.resource.content.0.attachment.hash")
    assert validate(bundle, PROVIDE_BUNDLE) == [
        ProfileIssue(
            message="attachment.hash is required (PDSm: attachment.hash 1.. (SHA-1);"
            " FHIR Attachment.hash: base64 of the digest)",
            expression=f"{DOCUMENT}.content[0].attachment.hash",
        )
    ]


@pytest.mark.parametrize(
    ("path", "value", "expression", "message"),
    [
        ("type", "batch", "Bundle.type", "type must be transaction"),
        ("meta", {"profile": ["http://example.org/other"]}, "Bundle.meta.profile", "meta.profile"),
        ("entry.1.request.method", "PUT", "Bundle.entry[1].request.method", "must be POST"),
        ("entry.2.request.method", "DELETE", "Bundle.entry[2].request.method", "POST or PUT"),
        (
            "entry.1.resource.status",
            "entered-in-error",
            f"{DOCUMENT}.status",
            "current or superseded",
        ),
        ("entry.1.resource.docStatus", "final", f"{DOCUMENT}.docStatus", "must not be present"),
        (
            "entry.1.resource.content.0.attachment.hash",
            "MGE0ZDU1YThkNzc4ZTUwMjJmYWI3MDE5NzdjNWQ4NDBiYmM0ODZkMA==",  # base64 of a hex digest
            f"{DOCUMENT}.content[0].attachment.hash",
            "20-byte SHA-1 digest",
        ),
        (
            "entry.1.resource.content.0.attachment.data",
            "JVBERi0=",
            f"{DOCUMENT}.content[0].attachment.data",
            "must not be present",
        ),
        (
            "entry.1.resource.author",
            [{"reference": "Practitioner/123"}],
            f"{DOCUMENT}.author[0].reference",
            "author[0].reference must reference a contained resource",
        ),
        (
            "entry.1.resource.subject",
            {"reference": "Group/1"},
            f"{DOCUMENT}.subject.reference",
            "must reference a Patient",
        ),
        (
            "entry.1.resource.content",
            [{}, {}],
            f"{DOCUMENT}.content",
            "content must have at most 1 item(s)",
        ),
        ("entry.0.resource.status", "retired", f"{SUBMISSION}.status", "status must be current"),
        ("entry.0.resource.mode", "snapshot", f"{SUBMISSION}.mode", "mode must be working"),
        (
            "entry.0.resource.identifier",
            [{"use": "usual", "system": "urn:ietf:rfc:3986", "value": "urn:uuid:1-2"}],
            f"{SUBMISSION}.identifier[0].value",
            "must start with urn:oid:",
        ),
        (
            "entry.0.resource.source",
            {"display": "Hôpital"},
            f"{SUBMISSION}.source",
            "ihe-authorOrg",
        ),
        (
            "entry.0.resource.entry",
            [{"item": {"reference": "urn:uuid:5d0c9a4e-6c55-4f31-9b0e-1c2a3b4c5d02"}, "flag": {}}],
            f"{SUBMISSION}.entry[0].flag",
            "must not be present",
        ),
    ],
)
def test_values_the_profile_forbids(bundle, path, value, expression, message):
    *parents, last = path.split(".")
    target = bundle
    for step in parents:
        target = target[int(step)] if step.isdigit() else target[step]
    target[int(last) if last.isdigit() else last] = value
    issues = validate(bundle, PROVIDE_BUNDLE)
    assert any(i.expression == expression and message in i.message for i in issues), issues


def test_exactly_one_submission_set(bundle):
    bundle["entry"].append({**bundle["entry"][0], "fullUrl": "urn:uuid:0-0-0-0-1"})
    issues = validate(bundle, PROVIDE_BUNDLE)
    assert [i.expression for i in issues if "exactly one SubmissionSet" in i.message] == [
        "Bundle.entry"
    ]


def test_at_least_one_document_reference(bundle):
    del bundle["entry"][1]
    bundle["entry"][0]["resource"]["entry"] = []
    issues = validate(bundle, PROVIDE_BUNDLE)
    assert [i.message for i in issues if i.expression == "Bundle.entry"] == [
        "the Bundle must hold at least one DocumentReference (PDSm: one to many"
        " DocumentReference (profile description); ITI-65 message semantics)"
    ]


def test_entry_types_outside_mhd_slices_are_refused(bundle):
    organization = {"resourceType": "Organization", "name": "Hôpital"}
    bundle["entry"].append(
        {
            "fullUrl": "urn:uuid:9",
            "resource": organization,
            "request": {"method": "POST", "url": "x"},
        }
    )
    issues = validate(bundle, PROVIDE_BUNDLE)
    assert expressions(issues) == {"Bundle.entry[3].resource.resourceType"}


def test_a_list_must_be_a_submission_set_or_a_folder(bundle):
    bundle["entry"][0]["resource"]["code"]["coding"][0]["code"] = "worklist"
    issues = validate(bundle, PROVIDE_BUNDLE)
    assert f"{SUBMISSION}.code" in expressions(issues)
    assert "Bundle.entry" in expressions(issues)  # and the Bundle lost its SubmissionSet


def test_submission_set_needs_exactly_one_source_id(bundle):
    extensions = bundle["entry"][0]["resource"]["extension"]
    extensions.append(dict(extensions[0]))
    issues = validate(bundle, PROVIDE_BUNDLE)
    assert [i.expression for i in issues if "ihe-sourceId" in i.message] == [
        f"{SUBMISSION}.extension"
    ]


def test_resources_validated_alone_use_their_own_root(bundle):
    document = bundle["entry"][1]["resource"]
    del document["content"][0]["attachment"]["title"]
    assert expressions(validate(document, DOCUMENT_REFERENCE)) == {
        "DocumentReference.content[0].attachment.title"
    }
    submission = bundle["entry"][0]["resource"]
    del submission["date"]
    assert expressions(validate(submission, SUBMISSION_SET)) == {"List.date"}


def test_schema_for_knows_the_three_profiles():
    for url in PROFILES:
        schema = schema_for(url)
        Draft202012Validator.check_schema(schema)
        assert url in schema["description"]
    assert schema_for(PROVIDE_BUNDLE + "|3.1.1") == schema_for(PROVIDE_BUNDLE)
    assert schema_for(PROFILE_BASE + "pdsm-folder-comprehensive") is None
    assert schema_for("http://hl7.org/fhir/StructureDefinition/Bundle") is None


def test_schema_for_returns_a_copy():
    schema_for(PROVIDE_BUNDLE)["required"].clear()
    assert "entry" in schema_for(PROVIDE_BUNDLE)["required"]


def test_validate_refuses_an_unknown_profile(bundle):
    with pytest.raises(ValueError, match="no schema for profile"):
        validate(bundle, PROFILE_BASE + "pdsm-simplified-publish")
