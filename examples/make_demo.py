"""Regenerate the demo data set in examples/demo (run: python examples/make_demo.py).

Everything has a fixed id (PUT entries), so the README and examples/curl.sh can name resources:
Patient/demo-alice, Patient/demo-bernard, Patient/demo-chloe, Practitioner/demo-dr-lefevre, ...
The generated JSON files are committed; this script only documents how they were made.
"""

import base64
import hashlib
import json
import uuid
from pathlib import Path

OUT = Path(__file__).resolve().parent / "demo"

INS = "urn:oid:1.2.250.1.213.1.4.8"
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"
RPPS = "https://rpps.esante.gouv.fr"
IDNST = "urn:oid:1.2.250.1.71.4.2.2"
FINESS = "https://finess.esante.gouv.fr"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
TRE_A03 = "urn:oid:1.2.250.1.213.1.1.4.1"
TRE_R02 = "urn:oid:1.2.250.1.71.4.2.4"
TRE_A01 = "urn:oid:1.2.250.1.213.1.1.4.9"
TRE_A07 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
FORMAT = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
ASIP_FORMAT = "https://mos.esante.gouv.fr/NOS/TRE_A06-FormatCodeComplementaire/FHIR/TRE-A06-FormatCodeComplementaire"
PDSM = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
IDENTITY_RELIABILITY = (
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
)
NS = uuid.UUID("6f0c8a52-3b55-4c49-9f71-0c5d1e6a7b10")


def nir(number13: str) -> str:
    """A NIR with its key: key = 97 - (13-digit number mod 97)."""
    return f"{number13}{97 - int(number13) % 97:02d}"


def urn(name: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NS, name)}"


def put(resource: dict, full_url: str | None = None) -> dict:
    rtype, id = resource["resourceType"], resource["id"]
    return {
        "fullUrl": full_url or f"urn:uuid:{uuid.uuid5(NS, f'{rtype}/{id}')}",
        "resource": resource,
        "request": {"method": "PUT", "url": f"{rtype}/{id}"},
    }


def transaction(entries: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def coding(system: str, code: str, display: str | None = None) -> dict:
    c = {"system": system, "code": code}
    if display:
        c["display"] = display
    return c


def concept(system: str, code: str, display: str | None = None, text: str | None = None):
    out = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def pdf(lines: list[str]) -> bytes:
    """A tiny valid one-page PDF showing `lines` (ASCII)."""
    text = "BT /F1 12 Tf 50 780 Td 16 TL " + " ".join(
        "(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") '"
        for line in lines
    )
    text += " ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(text) + text.encode("ascii") + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


# -- the directory: organisations, practitioners, roles ------------------------------------------
def national_ids(national: str, prefix: str, registry: str, number: str) -> list[dict]:
    """A registry number (FINESS, RPPS) and the national id made of it (IDNST 1+, IDNPS 8+)."""
    return [
        {"system": national, "value": f"{prefix}{number}"},
        {"system": registry, "value": number},
    ]


def organisation(id, finess, kind, name, phone, line, postal, alias=None):
    """A health organisation, identified by its FINESS number."""
    out = {
        "resourceType": "Organization",
        "id": id,
        "identifier": national_ids(IDNST, "1", FINESS, finess),
        "active": True,
        "type": [concept(TRE_R02, *kind)],
        "name": name,
    }
    if alias:
        out["alias"] = [alias]
    out["telecom"] = [{"system": "phone", "value": phone, "use": "work"}]
    out["address"] = [{"line": [line], "city": "Paris", "postalCode": postal, "country": "FRA"}]
    return out


HEGP = organisation(
    "demo-hegp",
    "750803447",
    ("SA01", "Etablissement public de santé"),
    "Hôpital européen Georges-Pompidou",
    "+33 1 56 09 20 00",
    "20 rue Leblanc",
    "75015",
    alias="HEGP",
)
LABO = organisation(
    "demo-labo",
    "750045678",
    ("SA25", "Laboratoire de biologie médicale"),
    "Laboratoire Bio-Voltaire",
    "+33 1 43 79 12 34",
    "41 boulevard Voltaire",
    "75011",
)


def practitioner(id, rpps, family, given, gender, profession=("10", "Médecin")):
    return {
        "resourceType": "Practitioner",
        "id": id,
        "identifier": national_ids(IDNPS, "8", RPPS, rpps),
        "active": True,
        "name": [{"use": "official", "family": family, "given": [given], "prefix": ["Dr"]}],
        "gender": gender,
        "qualification": [
            {
                "code": concept(
                    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante",
                    *profession,
                )
            }
        ],
    }


LEFEVRE = practitioner("demo-dr-lefevre", "10002345678", "Lefèvre", "Marc", "male")
NGUYEN = practitioner("demo-dr-nguyen", "10003456789", "Nguyen", "Linh", "female")
ROUSSEL = practitioner("demo-dr-roussel", "10004567890", "Roussel", "Claire", "female")
SPECIALTY = (
    "https://mos.esante.gouv.fr/NOS/TRE_R38-SpecialiteOrdinale/FHIR/TRE-R38-SpecialiteOrdinale"
)


def role(id, who, org, specialty, display, gp=False):
    out = {
        "resourceType": "PractitionerRole",
        "id": id,
        "active": True,
        "practitioner": {"reference": f"Practitioner/{who['id']}"},
        "code": [
            concept(
                "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante",
                "10",
                "Médecin",
            )
        ],
        "specialty": [concept(SPECIALTY, specialty, display)],
    }
    if org:
        out["organization"] = {"reference": f"Organization/{org['id']}"}
    if gp:
        out["code"].append(
            concept(
                "https://mos.esante.gouv.fr/NOS/TRE_R85-RolePriseCharge/FHIR/TRE-R85-RolePriseCharge",
                "401",
                "Médecin traitant",
            )
        )
    return out


ROLES = [
    role("demo-role-lefevre", LEFEVRE, None, "SM54", "Médecine générale", gp=True),
    role("demo-role-nguyen", NGUYEN, HEGP, "SM04", "Cardiologie et maladies vasculaires"),
    role("demo-role-roussel", ROUSSEL, LABO, "SM05", "Biologie médicale"),
]


# -- patients ---------------------------------------------------------------------------------------
def patient(id, number13, family, given, gender, birth, city, postal, line):
    return {
        "resourceType": "Patient",
        "id": id,
        "extension": [
            {
                "url": IDENTITY_RELIABILITY,
                "extension": [
                    {
                        "url": "identityReliability",
                        "valueCoding": coding(
                            "https://mos.esante.gouv.fr/NOS/TRE_R352-StatutIdentite/FHIR/TRE-R352-StatutIdentite",
                            "QUAL",
                            "Identité qualifiée",
                        ),
                    }
                ],
            }
        ],
        "identifier": [
            {
                "use": "official",
                "type": concept(
                    "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203", "INS-NIR"
                ),
                "system": INS,
                "value": nir(number13),
            }
        ],
        "active": True,
        "name": [{"use": "official", "family": family, "given": given}],
        "gender": gender,
        "birthDate": birth,
        "address": [{"line": [line], "city": city, "postalCode": postal, "country": "FRA"}],
        "generalPractitioner": [
            {"reference": "Practitioner/demo-dr-lefevre", "display": "Dr Marc Lefèvre"}
        ],
    }


ALICE = patient(
    "demo-alice",
    "2840575056123",
    "Martin",
    ["Alice", "Marie"],
    "female",
    "1984-05-21",
    "Paris",
    "75011",
    "12 rue de la Roquette",
)
BERNARD = patient(
    "demo-bernard",
    "1560969123045",
    "Dubois",
    ["Bernard"],
    "male",
    "1956-09-03",
    "Lyon",
    "69003",
    "5 cours Lafayette",
)
CHLOE = patient(
    "demo-chloe",
    "2121175112014",
    "Martin",
    ["Chloé"],
    "female",
    "2012-11-30",
    "Paris",
    "75011",
    "12 rue de la Roquette",
)
TRUSTED = {
    "resourceType": "RelatedPerson",
    "id": "demo-alice-trusted",
    "active": True,
    "patient": {"reference": "Patient/demo-alice"},
    "relationship": [
        {
            "coding": [
                coding(
                    "https://mos.esante.gouv.fr/NOS/TRE_R260-HL7RoleClass/FHIR/TRE-R260-HL7RoleClass",
                    "ECON",
                    "Personne de confiance",
                ),
                coding("http://terminology.hl7.org/CodeSystem/v3-RoleCode", "BRO", "brother"),
            ]
        }
    ],
    "name": [{"family": "Martin", "given": ["Guillaume"]}],
    "telecom": [{"system": "phone", "value": "+33 6 98 76 54 32", "use": "mobile"}],
    "gender": "male",
    "period": {"start": "2024-01-15"},
}


def immunization(id, pat, code, display, date, lot, dose, performer="demo-dr-lefevre"):
    return {
        "resourceType": "Immunization",
        "id": id,
        "status": "completed",
        "vaccineCode": concept(
            "https://mos.esante.gouv.fr/NOS/TRE_R221-VaccinATC/FHIR/TRE-R221-VaccinATC",
            code,
            display,
        ),
        "patient": {"reference": f"Patient/{pat}"},
        "occurrenceDateTime": date,
        "primarySource": True,
        "lotNumber": lot,
        "route": concept("http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration", "IM"),
        "doseQuantity": {"value": dose, "unit": "mL", "system": UCUM, "code": "mL"},
        "performer": [{"actor": {"reference": f"Practitioner/{performer}"}}],
        "protocolApplied": [{"doseNumberPositiveInt": 1}],
    }


IMMUNIZATIONS = [
    immunization(
        "demo-alice-flu-2024", "demo-alice", "J07BB02", "Grippe", "2024-10-18", "W3A921V", 0.5
    ),
    immunization(
        "demo-alice-covid-2024", "demo-alice", "J07BX03", "Covid-19", "2024-11-02", "HK7734", 0.3
    ),
    immunization(
        "demo-bernard-flu-2024", "demo-bernard", "J07BB02", "Grippe", "2024-10-21", "W3A921V", 0.5
    ),
    immunization(
        "demo-chloe-hpv-2024",
        "demo-chloe",
        "J07BM03",
        "Papillomavirus",
        "2024-09-12",
        "X011245",
        0.5,
    ),
]


def allergy(id, pat, code, display, category, criticality, manifestation):
    return {
        "resourceType": "AllergyIntolerance",
        "id": id,
        "clinicalStatus": concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical", "active"
        ),
        "verificationStatus": concept(
            "http://terminology.hl7.org/CodeSystem/allergyintolerance-verification", "confirmed"
        ),
        "type": "allergy",
        "category": [category],
        "criticality": criticality,
        "code": concept(SNOMED, code, display),
        "patient": {"reference": f"Patient/{pat}"},
        "recorder": {"reference": "Practitioner/demo-dr-lefevre"},
        "reaction": [{"manifestation": [concept(SNOMED, *manifestation)]}],
    }


ALLERGIES = [
    allergy(
        "demo-alice-cashew",
        "demo-alice",
        "227493005",
        "Cashew nuts",
        "food",
        "high",
        ("39579001", "Anaphylactic reaction"),
    ),
    allergy(
        "demo-bernard-penicillin",
        "demo-bernard",
        "764146007",
        "Penicillin",
        "medication",
        "high",
        ("271807003", "Eruption of skin"),
    ),
]

WEIGHT = {
    "resourceType": "Observation",
    "id": "demo-alice-weight",
    "status": "final",
    "category": [
        concept("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")
    ],
    "code": concept(LOINC, "29463-7", "Body weight", "Poids"),
    "subject": {"reference": "Patient/demo-alice"},
    "effectiveDateTime": "2024-11-05T17:10:00+01:00",
    "performer": [{"reference": "Practitioner/demo-dr-lefevre"}],
    "valueQuantity": {"value": 64.5, "unit": "kg", "system": UCUM, "code": "kg"},
}

# -- documents ----------------------------------------------------------------------------------------
DOC_TYPES = {
    "11490-0": ("Discharge summary", "10", "Lettre de liaison de sortie"),
    "11502-2": ("Laboratory report", "10", "Compte rendu d'examens biologiques"),
    "11488-4": ("Consult note", "10", "Compte rendu de consultation"),
    "18748-4": ("Diagnostic imaging study", "31", "Compte rendu d'imagerie médicale"),
    "87273-9": ("Immunization note", "52", "Note de vaccination"),
    "57833-6": ("Prescription for medication", "42", "Prescription de médicaments"),
}
CLASS_DISPLAY = {
    "10": "Compte rendu",
    "31": "Imagerie médicale",
    "42": "Prescription",
    "52": "Certificat, déclaration",
}
FACILITY = {
    "demo-hegp": ("SA01", "Etablissement public de santé"),
    "demo-labo": ("SA25", "Laboratoire de biologie médicale"),
    None: ("SA07", "Cabinet individuel"),
}
AUTHORS = {None: LEFEVRE, "demo-hegp": NGUYEN, "demo-labo": ROUSSEL}

# (patient, number, LOINC type, date, organisation (None: the GP practice), pdf?, masked?, text)
DOCUMENTS = [
    (
        "demo-alice",
        1,
        "11490-0",
        "2024-03-14T16:20:00+01:00",
        "demo-hegp",
        True,
        False,
        "Sortie apres bilan de palpitations. Holter normal. Pas de traitement.",
    ),
    (
        "demo-alice",
        2,
        "11502-2",
        "2024-03-12T11:05:00+01:00",
        "demo-labo",
        False,
        True,
        "Serologies : resultats a commenter en consultation.",
    ),
    (
        "demo-alice",
        3,
        "11488-4",
        "2024-11-05T17:42:00+01:00",
        None,
        True,
        False,
        "Consultation de suivi. TA 12/8. Poids 64,5 kg.",
    ),
    (
        "demo-alice",
        4,
        "18748-4",
        "2024-03-13T09:30:00+01:00",
        "demo-hegp",
        True,
        False,
        "Echographie cardiaque transthoracique : FEVG 62 %, pas de valvulopathie.",
    ),
    (
        "demo-alice",
        5,
        "87273-9",
        "2024-10-18T10:20:00+02:00",
        None,
        False,
        False,
        "Vaccination antigrippale, lot W3A921V, bras gauche.",
    ),
    (
        "demo-bernard",
        1,
        "11488-4",
        "2024-06-20T10:00:00+02:00",
        None,
        True,
        False,
        "Diabete de type 2 equilibre. HbA1c 6,8 %. Poursuite metformine.",
    ),
    (
        "demo-bernard",
        2,
        "11502-2",
        "2024-06-18T08:15:00+02:00",
        "demo-labo",
        False,
        False,
        "HbA1c 6,8 %. Glycemie a jeun 1,12 g/L. Creatinine 88 umol/L.",
    ),
    (
        "demo-bernard",
        3,
        "11490-0",
        "2024-09-02T15:00:00+02:00",
        "demo-hegp",
        True,
        False,
        "Sortie apres pose de stent coronaire. Double antiagregation 12 mois.",
    ),
    (
        "demo-bernard",
        4,
        "57833-6",
        "2024-09-02T15:10:00+02:00",
        "demo-hegp",
        True,
        False,
        "Aspirine 75 mg 1/j ; clopidogrel 75 mg 1/j ; atorvastatine 80 mg 1/j.",
    ),
    (
        "demo-chloe",
        1,
        "87273-9",
        "2024-09-12T14:00:00+02:00",
        None,
        False,
        False,
        "Vaccination HPV, premiere dose, lot X011245.",
    ),
    (
        "demo-chloe",
        2,
        "11488-4",
        "2024-09-12T14:10:00+02:00",
        None,
        True,
        False,
        "Consultation de vaccination. Examen normal. Croissance harmonieuse.",
    ),
    (
        "demo-chloe",
        3,
        "18748-4",
        "2025-01-08T11:45:00+01:00",
        "demo-hegp",
        True,
        False,
        "Radiographie du poignet gauche : pas de fracture.",
    ),
]


def document_entries(
    pat: dict,
    number: int,
    loinc: str,
    date: str,
    org: str | None,
    as_pdf: bool,
    masked: bool,
    text: str,
) -> list[dict]:
    name = pat["name"][0]
    display, klass, title = DOC_TYPES[loinc]
    header = f"{title} - {' '.join(name['given'])} {name['family']} - {date[:10]}"
    header = header.encode("ascii", "replace").decode()
    if as_pdf:
        content, mime, fmt = (
            pdf([header, text]),
            "application/pdf",
            (FORMAT, "urn:ihe:iti:xds-sd:pdf:2008", "PDF embedded in CDA"),
        )
    else:
        content, mime, fmt = (
            f"{header}\n{text}\n".encode(),
            "text/plain",
            (FORMAT, "urn:ihe:iti:xds-sd:text:2008", "Text embedded in CDA"),
        )
    if loinc == "11502-2":
        fmt = (FORMAT, "urn:ihe:lab:xd-lab:2008", "CDA Laboratory Report")
    elif loinc == "87273-9":
        fmt = (ASIP_FORMAT, "urn:asip:ci-sis:vac-note:2021", "Note de vaccination")
    key = f"{pat['id']}-doc-{number:02d}"
    author = AUTHORS[org]
    custodian = org or "demo-hegp"
    labels = [concept(CONFIDENTIALITY, "N", "normal")]
    if masked:
        labels.append(concept(TRE_A07, "MASQUE_PS", "Masqué aux professionnels de santé"))
    facility = FACILITY[org]
    binary = {
        "resourceType": "Binary",
        "id": f"{key}-content",
        "contentType": mime,
        "data": base64.b64encode(content).decode(),
    }
    document = {
        "resourceType": "DocumentReference",
        "id": key,
        "meta": {"profile": [PDSM + "pdsm-comprehensive-document-reference"]},
        "contained": [
            {
                "resourceType": "Practitioner",
                "id": "author",
                "identifier": [author["identifier"][0]],
                "name": [{k: v for k, v in author["name"][0].items() if k != "use"}],
            }
        ],
        "extension": [{"url": PDSM + "pdsm-ext-is-archived", "valueBoolean": False}],
        "masterIdentifier": {
            "system": "urn:ietf:rfc:3986",
            "value": f"urn:oid:1.2.250.1.999.2.{uuid.uuid5(NS, key).int % 10**9}",
        },
        "identifier": [{"use": "official", "system": "urn:ietf:rfc:3986", "value": urn(key)}],
        "status": "current",
        "type": concept(LOINC, loinc, display, title),
        "category": [concept(TRE_A03, klass, CLASS_DISPLAY[klass])],
        "subject": {"reference": f"Patient/{pat['id']}"},
        "date": date,
        "author": [{"reference": "#author"}],
        "custodian": {"reference": f"Organization/{custodian}"},
        "description": title,
        "securityLabel": labels,
        "content": [
            {
                "attachment": {
                    "contentType": mime,
                    "language": "fr-FR",
                    "url": urn(f"{key}-content"),
                    "size": len(content),
                    "hash": base64.b64encode(hashlib.sha1(content).digest()).decode(),
                    "title": header,
                    "creation": date,
                },
                "format": coding(*fmt),
            }
        ],
        "context": {
            "period": {"start": date},
            "facilityType": concept(TRE_R02, *facility),
            "practiceSetting": concept(TRE_A01, "ETABLISSEMENT" if org else "AMBULATOIRE"),
            "sourcePatientInfo": {"reference": f"Patient/{pat['id']}"},
        },
    }
    return [put(document, urn(key)), put(binary, urn(f"{key}-content"))]


def documents_bundle(pat: dict) -> dict:
    entries = []
    for p, number, *rest in DOCUMENTS:
        if p == pat["id"]:
            entries += document_entries(pat, number, *rest)
    docs = [e for e in entries if e["resource"]["resourceType"] == "DocumentReference"]
    submission = {
        "resourceType": "List",
        "id": f"{pat['id']}-submissionset",
        "meta": {"profile": [PDSM + "pdsm-submissionset-comprehensive"]},
        "extension": [
            {
                "url": "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId",
                "valueIdentifier": {"value": "urn:oid:1.2.250.1.999.1"},
            }
        ],
        "identifier": [
            {"use": "official", "system": "urn:ietf:rfc:3986", "value": urn(pat["id"] + "-ss")}
        ],
        "status": "current",
        "mode": "working",
        "title": "Reprise de l'historique (démonstration)",
        "code": concept(
            "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "submissionset"
        ),
        "subject": {"reference": f"Patient/{pat['id']}"},
        "date": "2025-01-10T09:00:00+01:00",
        "source": {"reference": "Practitioner/demo-dr-lefevre"},
        "entry": [{"item": {"reference": d["fullUrl"]}} for d in docs],
    }
    return transaction([put(submission), *entries])


def write(name: str, content) -> None:
    path = OUT / name
    if name.endswith(".ndjson"):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in content))
    else:
        path.write_text(json.dumps(content, ensure_ascii=False, indent=2) + "\n")
    print(f"wrote {path}")


def main() -> None:
    OUT.mkdir(exist_ok=True)
    for old in OUT.glob("*.*json"):
        old.unlink()
    directory = [HEGP, LABO, LEFEVRE, NGUYEN, ROUSSEL, *ROLES]
    write("01-directory.json", transaction([put(r) for r in directory]))
    people = [ALICE, BERNARD, CHLOE, TRUSTED]
    write("02-patients.json", transaction([put(r) for r in people]))
    write("03-documents-alice.json", documents_bundle(ALICE))
    write("04-documents-bernard.json", documents_bundle(BERNARD))
    write("05-documents-chloe.json", documents_bundle(CHLOE))
    write("06-clinical.ndjson", [*IMMUNIZATIONS, *ALLERGIES, WEIGHT])


if __name__ == "__main__":
    main()
