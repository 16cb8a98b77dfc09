"""A minor's legal representative acts on the child's record as the patient would, except for
documents deposited INVISIBLE_REPRESENTANTS_LEGAUX (TRE_A07,
docs/domain.md#kept-from-legal-representatives); every access audited.
"""

import pytest

from consent import codes
from smart_auth.accounts import AccountError, create_account
from tests.conftest import FhirClient, assert_outcome
from tests.consent import world as w
from tests.smart_auth.oauth_flows import pkce

PASSWORD = "correct horse battery staple"


@pytest.fixture
def record(fhir, client_for):
    fhir.put("Patient/chloe", {"resourceType": "Patient", "id": "chloe", "birthDate": "2012-03-04"})
    fhir.put(
        "RelatedPerson/mum",
        {
            "resourceType": "RelatedPerson",
            "id": "mum",
            "patient": {"reference": "Patient/chloe"},
            "relationship": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode",
                            "code": "MTH",
                        }
                    ]
                }
            ],
        },
    )
    doctor = w.practitioner(client_for, "paediatrician", "chloe")
    return {
        "plain": doctor.create(w.document("chloe", "vaccinations"))["id"],
        "confidential": doctor.create(
            w.document("chloe", "confidential consultation", [codes.INVISIBLE_REPRESENTATIVES])
        )["id"],
    }


def mum_client(client_for):
    return client_for(
        "patient/*.cruds", "patient", fhir_user="RelatedPerson/mum", patient="Patient/chloe"
    )


def test_the_representative_reads_the_record_but_what_is_kept_from_representatives(
    record, client_for
):
    mum = mum_client(client_for)
    assert mum.get(f"DocumentReference/{record['plain']}").status_code == 200
    assert mum.get(f"DocumentReference/{record['confidential']}").status_code == 404
    assert mum.search("DocumentReference?_total=accurate")["total"] == 1
    # The minor herself sees it.
    chloe = w.patient(client_for, "chloe")
    assert chloe.get(f"DocumentReference/{record['confidential']}").status_code == 200


def test_the_representative_writes_the_privacy_choices_but_not_the_professionals_labels(
    record, client_for, fhir
):
    mum = mum_client(client_for)
    consent = w.privacy_consent("chloe", "deny", ["Practitioner/other"])
    assert mum.post("Consent", consent).status_code == 201
    assert mum.post(f"DocumentReference/{record['plain']}/$mask").status_code == 200
    doc = fhir.get(f"DocumentReference/{record['plain']}").get_json()
    doc["securityLabel"].append(w.label(codes.INVISIBLE_REPRESENTATIVES))
    body = assert_outcome(mum.put(f"DocumentReference/{record['plain']}", doc), 403)
    assert codes.INVISIBLE_REPRESENTATIVES in body["issue"][0]["diagnostics"]


def test_the_child_reads_who_looked_at_her_record_including_her_representative(record, client_for):
    mum_client(client_for).get(f"DocumentReference/{record['plain']}")
    chloe = w.patient(client_for, "chloe")
    events = [e["resource"] for e in chloe.search("AuditEvent?_count=100").get("entry", [])]
    by_mum = [e for e in events if e["agent"][0]["who"].get("reference") == "RelatedPerson/mum"]
    assert by_mum and by_mum[0]["agent"][0]["policy"] == [
        "urn:carnet:consent-rule:legal-representative"
    ]


def test_the_access_history_the_representative_reads_names_nothing_kept_from_them(
    record, client_for
):
    doctor = w.practitioner(client_for, "paediatrician", "chloe")
    plain, confidential = record["plain"], record["confidential"]
    doctor.search(f"DocumentReference?_id={plain},{confidential}")
    mum = mum_client(client_for)
    events = [e["resource"] for e in mum.search("AuditEvent?_count=100").get("entry", [])]
    assert any(plain in repr(e) for e in events)
    assert confidential not in repr(events)
    # The child herself reads that access to her confidential document.
    chloe = w.patient(client_for, "chloe")
    assert confidential in repr(chloe.search("AuditEvent?_count=100"))


def test_a_representatives_login_puts_the_represented_record_in_context(app, oauth, carnet, record):
    account = create_account(
        "mum.martin",
        PASSWORD,
        "RelatedPerson/mum",
        "email",
        "mum@example.fr",
        None,
        "Patient/chloe",
    )
    software = oauth.public_app()
    verifier, challenge = pkce()
    _, query, _ = oauth.authorize(
        software, account, "openid fhirUser launch/patient patient/*.rs", challenge
    )
    token = oauth.exchange(software, query["code"], verifier).get_json()
    assert token["patient"] == "chloe"
    claims = carnet.auth.tokens.verify(token["access_token"])
    assert claims["fhirUser"] == "RelatedPerson/mum" and claims["actor"] == "patient"
    mum = FhirClient(app.test_client(), token["access_token"])
    assert mum.get(f"DocumentReference/{record['plain']}").status_code == 200
    assert mum.get(f"DocumentReference/{record['confidential']}").status_code == 404


@pytest.mark.parametrize(
    "fhir_user, represents",
    [
        ("RelatedPerson/mum", None),
        ("Patient/chloe", "Patient/chloe"),
        ("RelatedPerson/x", "Group/1"),
    ],
)
def test_only_a_representatives_account_names_whom_it_represents(carnet, fhir_user, represents):
    with pytest.raises(AccountError, match="represents"):
        create_account("someone", PASSWORD, fhir_user, "email", "s@example.fr", None, represents)
