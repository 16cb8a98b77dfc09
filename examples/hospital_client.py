#!/usr/bin/env python3
"""A hospital pushes a discharge letter (PDF) by IHE MHD ITI-65, then finds (ITI-67) and fetches it (ITI-68).

https://profiles.ihe.net/ITI/MHD/ITI-65.html as the French profile PDSm asks: a transaction Bundle
with a SubmissionSet List, a DocumentReference and the PDF as a Binary; the patient is named by
INS (`Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|<matricule>`), and the server resolves it to
the patient's record (or opens it). The token comes from SMART Backend Services (backend_client.py),
the client `demo-hospital` acting for Organization/demo-hegp. The push is then repeated, to show it
is idempotent: the server answers with what it already holds and stores nothing new.

    fhir-server serve --demo                  # in another terminal
    python examples/hospital_client.py        # for Patient/demo-alice (INS 284057505612387)

The Bundle is built from examples/mhd/iti65-discharge-letter.json (its identity traits are the
template's; only the INS, the identifiers and the document change). The default key is the DEMO key
in examples/keys/: never use it anywhere else.
"""

import base64
import copy
import hashlib
import json
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import requests
from backend_client import get_token
from joserfc.jwk import RSAKey
from smart_common import KEYS_DIR, Fhir, FlowError, base_parser, shorten, step

MHD_DIR = Path(__file__).resolve().parent / "mhd"
INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"


def pdf(lines: list[str]) -> bytes:
    """A one-page PDF showing `lines` (ASCII), with a correct cross-reference table."""
    text = " ".join(f"({line.replace('(', '[').replace(')', ']')}) '" for line in lines)
    stream = f"BT /F1 12 Tf 72 770 Td 14 TL {text} ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream)} >>\nstream\n{stream}\nendstream",
    ]
    out, offsets = "%PDF-1.4\n", []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n"
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n"
    return out.encode("ascii")


def provide_bundle(template: str, ins: str, content: bytes) -> dict:
    """The template's ITI-65 Bundle for another INS and document, with new unique identifiers."""
    bundle = json.loads((MHD_DIR / template).read_text("utf-8"))
    old = bundle["entry"][0]["resource"]["subject"]["identifier"]["value"]
    bundle = json.loads(json.dumps(bundle).replace(old, ins))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        kind = resource["resourceType"]
        if kind == "List":  # the SubmissionSet's uniqueId: one per submission
            resource["identifier"][0]["value"] = f"urn:oid:2.25.{uuid.uuid4().int}"
            resource["date"] = now
        elif kind == "DocumentReference":  # the document's uniqueId: one per document
            resource["masterIdentifier"]["value"] = f"urn:oid:2.25.{uuid.uuid4().int}"
            resource["date"] = now
            attachment = resource["content"][0]["attachment"]
            attachment["size"] = len(content)
            attachment["hash"] = base64.b64encode(hashlib.sha1(content).digest()).decode()
            attachment["creation"] = now
        elif kind == "Binary":
            resource["data"] = base64.b64encode(content).decode()
    bundle["timestamp"] = now
    return bundle


def _locations(answer: dict) -> list[tuple[str, str]]:
    """(status, Type/id) of each entry of a transaction-response."""
    return [
        (
            entry["response"]["status"],
            "/".join(entry["response"]["location"].split("/_history")[0].split("/")[-2:]),
        )
        for entry in answer["entry"]
    ]


def push_find_fetch(fhir: Fhir, bundle: dict, ins: str, what: str) -> str:
    """ITI-65, ITI-67 and ITI-68 for one document; returns its DocumentReference reference."""
    step(f"ITI-65 Provide Document Bundle: {what} for INS {ins}")
    pushed = _locations(fhir.post("", copy.deepcopy(bundle)).json())
    for status, where in pushed:
        print(f"   {status}: {where}")
    document = next(where for _, where in pushed if where.startswith("DocumentReference/"))
    step(f"ITI-67 Find Document References by the patient's INS, status current ({what})")
    query = urlencode({"patient.identifier": f"{INS_SYSTEM}|{ins}", "status": "current"})
    found = fhir.get(f"DocumentReference?{query}").json()
    ids = [f"DocumentReference/{e['resource']['id']}" for e in found.get("entry", [])]
    if document not in ids:
        raise FlowError(f"{document} is not among the documents found: {ids}")
    resource = next(
        e["resource"] for e, i in zip(found["entry"], ids, strict=True) if i == document
    )
    attachment = resource["content"][0]["attachment"]
    print(f"   {len(ids)} document(s) found; {document} is in {resource['subject']['reference']}")
    step(f"ITI-68 Retrieve Document: GET {attachment['url']}")
    content = fhir.get(attachment["url"], headers={"Accept": attachment["contentType"]}).content
    digest = base64.b64encode(hashlib.sha1(content).digest()).decode()
    if len(content) != attachment["size"] or digest != attachment["hash"]:
        raise FlowError("the content retrieved is not the one pushed (size or SHA-1 differs)")
    print(f"   {attachment['url']}: {len(content)} bytes, SHA-1 as declared")
    step("ITI-65 again, the same Bundle (a retry after a lost answer)")
    again = _locations(fhir.post("", copy.deepcopy(bundle)).json())
    if [where for _, where in again] != [where for _, where in pushed] or any(
        status != "200 OK" for status, _ in again
    ):
        raise FlowError(f"the repeated push was not answered with the stored resources: {again}")
    print("   stored once: answered 200 OK with the same locations")
    print(f"{what} pushed, found and retrieved: {document} in {resource['subject']['reference']}")
    return document


def run(argv, description: str, *, client_id, ins, scope, template, what, lines) -> int:
    """The whole flow for one sending system (the hospital here, the laboratory in lab_client.py)."""
    parser = base_parser(description)
    parser.add_argument("--client-id", default=client_id)
    parser.add_argument(
        "--key",
        default=str(KEYS_DIR / f"{client_id}.private.jwk.json"),
        help="the private JWK the assertion is signed with (default: the DEMO key)",
    )
    parser.add_argument("--scope", default=scope)
    parser.add_argument("--ins", default=ins, help=f"the patient's INS (default {ins})")
    parser.add_argument("--pdf", type=Path, help="a PDF file to send (default: a generated one)")
    args = parser.parse_args(argv)
    with open(args.key, encoding="utf-8") as file:
        key = RSAKey.import_key(json.load(file))
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    content = args.pdf.read_bytes() if args.pdf else pdf([*lines, f"Emis le {stamp} UTC (demo)"])
    try:
        token = get_token(args.base, args.client_id, key, args.scope)
        print(
            f"   token obtained: scope {token['scope']}, access_token "
            f"{shorten(token['access_token'])}"
        )
        bundle = provide_bundle(template, args.ins, content)
        push_find_fetch(Fhir(args.base, token["access_token"]), bundle, args.ins, what)
    except (FlowError, requests.RequestException) as error:
        print(f"Failed: {error}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    return run(
        argv,
        __doc__.split("\n\n")[0],
        client_id="demo-hospital",
        ins="284057505612387",
        scope="system/*.cruds",
        template="iti65-discharge-letter.json",
        what="Discharge letter",
        lines=[
            "Hopital europeen Georges-Pompidou (demo) - Lettre de liaison a la sortie",
            "Sejour en cardiologie - document fictif",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
