"""smart_auth.scope_text: what the consent page says for each scope."""

from smart_auth.scope_text import describe


def texts(scope: str) -> list[str]:
    return [p.text for p in describe(scope)]


def test_v2_read_scope():
    assert texts("patient/DocumentReference.rs") == ["Read your documents"]


def test_v1_scopes_and_merging():
    assert texts("patient/Immunization.read patient/Immunization.write") == [
        "Read, add to, change and delete your vaccinations"
    ]


def test_writes_come_after_reads_and_are_marked():
    described = describe("patient/AllergyIntolerance.c patient/*.rs")
    assert [(p.text, p.writes) for p in described] == [
        ("Read your health data", False),
        ("Add to your allergies", True),
    ]


def test_professional_and_granular_scopes():
    assert texts("user/DocumentReference.rs?category=http://loinc.org|11488-4") == [
        "Read patients' documents (only category = http://loinc.org|11488-4)"
    ]


def test_unknown_type_and_other_scopes_are_still_shown():
    assert texts("patient/NutritionOrder.r openid offline_access made-up") == [
        "Read your nutrition order records",
        "Know who you are",
        "Keep its access when you are not using it, until you revoke it",
        "Use the permission 'made-up'",
    ]
