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


CLASS_ERRATUM = (
    "category 11 is not the class of type http://loinc.org|11488-4, which is 10 "
    "(TRE_A03-ClasseDocument)"
)


def guide_example(name: str = "Bundle-example-td2-iti65-lot-soumission.json") -> dict:
    """The guide's example with the class its type has (tests/ingestion/pdsm4dmp/README.md)."""
    bundle = json.loads((GUIDE_EXAMPLES / name).read_text("utf-8"))
    bundle["entry"][1]["resource"]["category"][0]["coding"][0]["code"] = "10"
    return bundle


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
def test_the_guide_examples_conform_to_pdsm4dmp_but_for_the_class_of_their_type(name):
    assert validate(guide_example(name), DMP_PROVIDE_BUNDLE) == []
    published = json.loads((GUIDE_EXAMPLES / name).read_text("utf-8"))
    assert messages(published, DMP_PROVIDE_BUNDLE) == [CLASS_ERRATUM]
    # The class is the DMP's rule (JDV_J66, ASS_X04), not PDSm's.
    assert CLASS_ERRATUM not in messages(published, PROVIDE_BUNDLE)


def test_resources_alone_are_validated_as_the_guide_reads_them():
    bundle = guide_example()
    submission_set, document = (bundle["entry"][i]["resource"] for i in (0, 1))
    assert validate(submission_set, DMP_SUBMISSION_SET) == []
    assert validate(document, DMP_DOCUMENT_REFERENCE) == []
    assert messages(submission_set, SUBMISSION_SET) == [
        "#practitioner-author is a Practitioner; PDSm allows Device, Patient, PractitionerRole here"
    ]
    document["category"][0]["coding"][0]["code"] = "11"
    assert messages(document, DMP_DOCUMENT_REFERENCE) == [CLASS_ERRATUM]
    document["category"][0]["coding"][0]["code"] = "10"
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
