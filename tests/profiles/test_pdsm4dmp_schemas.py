"""The PDSM4DMP schemas beside PDSm's, and the canonical URLs `known_profiles` offers to `$validate`.

https://interop.esante.gouv.fr/ig/fhir/pdsm4dmp - the DMP's reading of PDSm (see profiles/README.md).
"""

import json
from pathlib import Path

import pytest

from profiles import (
    DMP_DOCUMENT_REFERENCE,
    DMP_PROVIDE_BUNDLE,
    DMP_SUBMISSION_SET,
    DOCUMENT_REFERENCE,
    PROVIDE_BUNDLE,
    SUBMISSION_SET,
    known_profiles,
    validate,
)

GUIDE_EXAMPLES = Path(__file__).resolve().parents[1] / "ingestion" / "pdsm4dmp"


def guide_example(name: str = "Bundle-example-td2-iti65-lot-soumission.json") -> dict:
    return json.loads((GUIDE_EXAMPLES / name).read_text("utf-8"))


def messages(resource: dict, profile: str) -> list[str]:
    return [issue.message for issue in validate(resource, profile)]


def test_known_profiles_names_pdsm_and_pdsm4dmp_with_their_validators():
    known = known_profiles()
    assert set(known) == {
        PROVIDE_BUNDLE,
        DOCUMENT_REFERENCE,
        SUBMISSION_SET,
        DMP_PROVIDE_BUNDLE,
        DMP_DOCUMENT_REFERENCE,
        DMP_SUBMISSION_SET,
    }
    bundle = guide_example()
    assert known[DMP_PROVIDE_BUNDLE](bundle) == []
    assert [i.expression for i in known[PROVIDE_BUNDLE](bundle)] == [
        "Bundle.entry[0].resource.source.reference",
        "Bundle.entry[1].resource.custodian",
    ]


@pytest.mark.parametrize(
    "name",
    ["Bundle-example-td2-iti65-lot-soumission.json", "Bundle-example-td2-1-remplacement.json"],
)
def test_the_guide_examples_conform_to_pdsm4dmp(name):
    assert validate(guide_example(name), DMP_PROVIDE_BUNDLE) == []


def test_resources_alone_are_validated_as_the_guide_reads_them():
    bundle = guide_example()
    submission_set, document = (bundle["entry"][i]["resource"] for i in (0, 1))
    assert validate(submission_set, DMP_SUBMISSION_SET) == []
    assert validate(document, DMP_DOCUMENT_REFERENCE) == []
    assert messages(submission_set, SUBMISSION_SET) == [
        "#practitioner-author is a Practitioner; PDSm allows Device, Patient, PractitionerRole here"
    ]
    del document["authenticator"]
    assert messages(document, DMP_DOCUMENT_REFERENCE) == [
        "authenticator is required (PDSM4DMP: DocumentEntry.legalAuthenticator 1..1 -> "
        "authenticator (ConceptMap documentReferenceToPDSM); PDSm 3.1.0 authenticator 1..; "
        "MHD Comprehensive: contained)"
    ]


def test_a_bundle_may_claim_the_pdsm4dmp_name_instead_of_pdsm():
    bundle = guide_example()
    bundle["meta"]["profile"] = [DMP_PROVIDE_BUNDLE + "|0.1.0"]
    assert validate(bundle, DMP_PROVIDE_BUNDLE) == []
    assert any(m.startswith("meta.profile must name") for m in messages(bundle, PROVIDE_BUNDLE))
