"""DOCUMENT_TYPES (profiles/terminology.py): accepted document types and their class."""

import pytest

from profiles import DOCUMENT_TYPES

A05 = "https://mos.esante.gouv.fr/NOS/TRE_A05-TypeDocComplementaire/FHIR/TRE-A05-TypeDocComplementaire"


@pytest.mark.parametrize(
    ("key", "document_class"),
    [
        ("http://loinc.org|11490-0", "10"),  # discharge letter
        ("http://loinc.org|11502-2", "10"),  # laboratory report
        ("http://loinc.org|18748-4", "31"),  # imaging report
        ("http://loinc.org|57833-6", "42"),  # prescription
        ("http://loinc.org|60591-5", "11"),  # medical summary
        ("http://loinc.org|87273-9", "52"),  # vaccination note
        (f"{A05}|EXPPAT_3", "90"),  # advance directives
        ("http://loinc.org|34133-9", None),  # in JDV_J66, class not tabulated here
    ],
)
def test_document_types_map_to_their_class(key, document_class):
    assert DOCUMENT_TYPES[key] == document_class


def test_other_spellings_of_loinc_are_accepted():
    assert (
        DOCUMENT_TYPES["https://mos.esante.gouv.fr/NOS/TRE_A04-Loinc/FHIR/TRE-A04-Loinc|11490-0"]
        == "10"
    )
    assert DOCUMENT_TYPES["urn:oid:2.16.840.1.113883.6.1|11490-0"] == "10"


def test_unknown_types_are_absent():
    assert "http://loinc.org|00000-0" not in DOCUMENT_TYPES
    assert "http://snomed.info/sct|11490-0" not in DOCUMENT_TYPES
    with pytest.raises(TypeError):
        DOCUMENT_TYPES["http://loinc.org|00000-0"] = "10"
