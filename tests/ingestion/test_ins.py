"""The INS matricule check (ingestion/ins.py): layout, Corsica, control key, INS systems."""

import pytest

from ingestion.ins import (
    INS_NIA,
    INS_NIR,
    INS_NIR_DEMO,
    INS_NIR_TEST,
    InvalidIns,
    check_identifier,
    check_nir,
    ins_identifier,
    nir_key,
)

# Keys computed by hand: 97 - (number mod 97).
VALID = [
    ("184127645108946", "184127645108946"),  # the textbook example, key 46
    ("1 84 12 76 451 089 46", "184127645108946"),  # spaces are removed
    ("255081416802538", "255081416802538"),
    ("284057505612387", "284057505612387"),  # demo patient Alice
    ("212117511201406", "212117511201406"),  # key below 10 keeps its leading zero
    ("175052A12345638", "175052A12345638"),  # Corsica 2A counts as 19
    ("2 69 01 2b 043 012 82", "269012B04301282"),  # Corsica 2B counts as 18, lower case accepted
    ("380129912345670", "380129912345670"),  # provisional number, sex digit 3
    ("791039912345660", "791039912345660"),  # awaiting registration, sex digit 7
]


@pytest.mark.parametrize(("value", "normalised"), VALID)
def test_valid_matricules_are_normalised(value, normalised):
    assert check_nir(value) == normalised


def test_key_substitutes_corsican_departments():
    assert nir_key("1750519123456") == nir_key("175052A123456") == 38
    assert nir_key("2690118043012") == nir_key("269012B043012") == 82
    assert nir_key("1841276451089") == 46


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("18412764510894", "INS must be 15 characters (13-digit number and 2-digit key), got 14"),
        ("1841276451089466", "got 16"),
        ("", "got 0"),
        ("18412764510X946", "only digits (2A/2B allowed at positions 6-7): 'X' at position 12"),
        ("18412764510894O", "'O' at position 15"),
        ("1841A7645108946", "'A' at position 5"),
        ("1841276451089４6", "'４' at position 14"),  # a full-width digit is not a digit here
        ("175052C12345638", "department '2C' at positions 6-7 must be two digits, or 2A/2B"),
        ("17505A212345638", "department 'A2' at positions 6-7"),
        ("584127645108946", "first digit (sex) must be one of 1, 2, 3, 4, 7, 8, got 5"),
        ("084127645108946", "got 0"),
        ("184127645108942", "control key 42 does not match the number (expected 46)"),
        ("212117511201460", "control key 60 does not match the number (expected 06)"),
        (
            "175052B12345638",
            "control key 38 does not match the number (expected",
        ),  # the 2A key does not fit 2B
    ],
)
def test_invalid_matricules_say_what_is_wrong(value, message):
    with pytest.raises(InvalidIns, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_nir(value)


def test_invalid_ins_is_a_value_error():
    assert issubclass(InvalidIns, ValueError)


@pytest.mark.parametrize("system", [INS_NIR, INS_NIA, INS_NIR_TEST, INS_NIR_DEMO])
def test_every_ins_system_gets_the_key_check(system):
    assert check_identifier(system, "1 84 12 76 451 089 46") == "184127645108946"
    with pytest.raises(InvalidIns, match="control key"):
        check_identifier(system, "184127645108947")


def test_check_identifier_refuses_other_systems():
    with pytest.raises(InvalidIns, match="not an INS identifier system"):
        check_identifier("https://rpps.esante.gouv.fr", "10101234567")


def test_ins_identifier_in_a_patient():
    patient = {
        "resourceType": "Patient",
        "identifier": [
            {"system": "http://hopital.example/ipp", "value": "IPP-1"},
            {"system": INS_NIR_TEST, "value": "255081416802538"},
            {"system": INS_NIR, "value": "184127645108946"},
        ],
    }
    assert ins_identifier(patient) == (INS_NIR, "184127645108946")


def test_ins_identifier_takes_the_first_of_a_system():
    patient = {
        "identifier": [
            {"system": INS_NIR, "value": "184127645108946"},
            {"system": INS_NIR, "value": "255081416802538"},
        ]
    }
    assert ins_identifier(patient) == (INS_NIR, "184127645108946")


def test_ins_identifier_skips_old_identifiers():
    patient = {
        "identifier": [
            {"use": "old", "system": INS_NIR, "value": "184127645108946"},
            {"system": INS_NIA, "value": "255081416802538"},
        ]
    }
    assert ins_identifier(patient) == (INS_NIA, "255081416802538")


def test_ins_identifier_in_a_reference():
    reference = {"identifier": {"system": INS_NIR, "value": "184127645108946"}}
    assert ins_identifier(reference) == (INS_NIR, "184127645108946")


def test_ins_identifier_in_a_conditional_reference():
    reference = {"reference": f"Patient?identifier={INS_NIR}%7C184127645108946"}
    assert ins_identifier(reference) == (INS_NIR, "184127645108946")
    reference = {"reference": f"Patient?identifier={INS_NIR}|184127645108946&active=true"}
    assert ins_identifier(reference) == (INS_NIR, "184127645108946")


def test_ins_identifier_absent():
    assert ins_identifier({"reference": "Patient/123"}) is None
    assert ins_identifier({"identifier": [{"system": "https://rpps.esante.gouv.fr"}]}) is None
    assert ins_identifier({}) is None
