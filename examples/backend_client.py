#!/usr/bin/env python3
"""SMART Backend Services: a hospital system pushes a document for Patient/demo-alice and reads it.

https://hl7.org/fhir/smart-app-launch/backend-services.html - the client signs an assertion
(RFC 7523: iss = sub = client_id, aud = the token endpoint, exp at most 5 minutes ahead, a fresh
jti) with its private key (RS384), posts it for a `system/` token, then posts a transaction Bundle:
a DocumentReference and its Binary content linked by urn:uuid, and reads both back.

    fhir-server serve --demo                          # in another terminal
    python examples/backend_client.py                 # the whole flow
    TOKEN=$(python examples/backend_client.py --print-token) examples/curl.sh

The default key is the DEMO key committed in examples/keys/ (registered by --demo for the client
`demo-hospital`): never use it anywhere else.
"""

import base64
import json
import secrets
import sys
import time
import uuid
from datetime import UTC, datetime

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey
from smart_common import KEYS_DIR, Fhir, FlowError, base_parser, discover, shorten, step

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def client_assertion(client_id: str, key: RSAKey, token_endpoint: str) -> str:
    now = int(time.time())
    claims = {
        "iss": client_id,
        "sub": client_id,
        "aud": token_endpoint,
        "exp": now + 240,
        "jti": secrets.token_urlsafe(16),
    }
    header = {"alg": "RS384", "kid": key.kid, "typ": "JWT"}
    return jwt.encode(header, claims, key, algorithms=["RS384"])


def get_token(base: str, client_id: str, key: RSAKey, scope: str, quiet: bool = False) -> dict:
    config = (
        discover(base)
        if not quiet
        else requests.get(
            f"{base.rstrip('/')}/fhir/.well-known/smart-configuration", timeout=10
        ).json()
    )
    form = {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(client_id, key, config["token_endpoint"]),
    }
    if not quiet:
        step(
            f"POST {config['token_endpoint']} client_credentials, assertion signed RS384 "
            f"with key {key.kid}, scope {scope}"
        )
    response = requests.post(config["token_endpoint"], data=form, timeout=10)
    if response.status_code != 200:
        raise FlowError(f"token endpoint: HTTP {response.status_code} {response.text}")
    return response.json()


def document_bundle(patient: str, text: str) -> dict:
    """ITI-65 style: a DocumentReference and its content, linked by urn:uuid."""
    doc_uuid, binary_uuid = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    content = text.encode("utf-8")
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": doc_uuid,
                "resource": {
                    "resourceType": "DocumentReference",
                    "status": "current",
                    "type": {
                        "coding": [
                            {
                                "system": "http://loinc.org",
                                "code": "11490-0",
                                "display": "Discharge summary",
                            }
                        ]
                    },
                    "subject": {"reference": patient},
                    "date": datetime.now(UTC).isoformat(timespec="seconds"),
                    "custodian": {"reference": "Organization/demo-hegp"},
                    "description": "Compte rendu de sortie (backend_client.py)",
                    "content": [
                        {
                            "attachment": {
                                "contentType": "text/plain",
                                "url": binary_uuid,
                                "size": len(content),
                                "title": "Compte rendu de sortie",
                            }
                        }
                    ],
                },
                "request": {"method": "POST", "url": "DocumentReference"},
            },
            {
                "fullUrl": binary_uuid,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": "text/plain",
                    "data": base64.b64encode(content).decode(),
                },
                "request": {"method": "POST", "url": "Binary"},
            },
        ],
    }


def push_and_read_back(fhir: Fhir, patient: str) -> str:
    text = f"Sortie le {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC, demo {secrets.token_hex(4)}\n"
    step(f"Transaction: a DocumentReference for {patient} and its Binary (urn:uuid references)")
    answer = fhir.post("", document_bundle(patient, text)).json()
    # Locations are Type/id/_history/n, relative or absolute.
    created = [
        entry["response"]["location"].split("/_history")[0].split("/")[-2:]
        for entry in answer["entry"]
    ]
    for rtype, rid in created:
        print(f"   created {rtype}/{rid}")
    doc_id = created[0][1]
    document = fhir.get(f"DocumentReference/{doc_id}").json()
    attachment = document["content"][0]["attachment"]
    print(
        f"   DocumentReference/{doc_id}: subject {document['subject']['reference']}, "
        f"content {attachment['url']}"
    )
    if document["subject"]["reference"] != patient:
        raise FlowError("the document read back is not the patient's")
    if not attachment["url"].startswith("Binary/"):
        raise FlowError(f"the attachment's urn:uuid was not resolved: {attachment['url']}")
    content = fhir.get(attachment["url"], headers={"Accept": "*/*"}).content.decode("utf-8")
    print(f"   {attachment['url']} content: {content.strip()!r}")
    if content != text:
        raise FlowError("the content read back differs from the content sent")
    print(f"Document pushed and read back: DocumentReference/{doc_id}")
    return doc_id


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    parser.add_argument("--client-id", default="demo-hospital")
    parser.add_argument(
        "--key",
        help="the private JWK the assertion is signed with "
        "(default: the DEMO key examples/keys/<client-id>.private.jwk.json)",
    )
    parser.add_argument("--scope", default="system/*.cruds")
    parser.add_argument("--patient", default="Patient/demo-alice")
    parser.add_argument(
        "--print-token",
        action="store_true",
        help="print only an access token (for TOKEN=$(...) examples/curl.sh)",
    )
    args = parser.parse_args(argv)
    args.key = args.key or str(KEYS_DIR / f"{args.client_id}.private.jwk.json")
    with open(args.key, encoding="utf-8") as file:
        key = RSAKey.import_key(json.load(file))
    try:
        token = get_token(args.base, args.client_id, key, args.scope, quiet=args.print_token)
        if args.print_token:
            print(token["access_token"])
            return 0
        print(
            f"   token obtained: scope {token['scope']}, expires in {token['expires_in']} s, "
            f"access_token {shorten(token['access_token'])}"
        )
        push_and_read_back(Fhir(args.base, token["access_token"]), args.patient)
    except (FlowError, requests.RequestException) as error:
        print(f"Failed: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
