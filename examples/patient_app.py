#!/usr/bin/env python3
"""SMART standalone patient launch with PKCE: a patient app reads the patient's documents.

https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-standalone-launch - the app
(public client `demo-patient-app`, no secret) sends the patient's browser to the authorization
endpoint with a PKCE S256 challenge; the patient signs in (password, then a one-time code) and
approves; the callback brings a code, exchanged with the verifier for a token naming the patient.

    fhir-server serve --demo                     # in another terminal
    python examples/patient_app.py               # open the printed URL, sign in as alice
    python examples/patient_app.py --auto        # the browser steps done with requests, the
                                                 # one-time code read from outbox.jsonl
"""

import sys

from smart_common import Fhir, add_login_args, base_parser, display_name, patient_launch, run_flow

SCOPE = "openid fhirUser launch/patient patient/Patient.rs patient/DocumentReference.rs"


def run(args) -> None:
    token, patient = patient_launch(args)
    print(f"Token obtained; patient in context: {patient}")
    fhir = Fhir(args.base, token["access_token"])
    print(f"Patient/{patient}: {display_name(fhir.get(f'Patient/{patient}').json())}")
    bundle = fhir.get(f"DocumentReference?patient=Patient/{patient}&_sort=-date").json()
    documents = [entry["resource"] for entry in bundle.get("entry", [])]
    print(f"{len(documents)} DocumentReference(s) for Patient/{patient}:")
    for doc in documents:
        kind = (doc.get("type", {}).get("coding") or [{}])[0].get("display", "")
        print(f"   DocumentReference/{doc['id']}  {doc.get('date', '')}  {kind}")


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    add_login_args(parser, "alice", "demo-alice-password")
    parser.add_argument("--client-id", default="demo-patient-app")
    parser.add_argument("--scope", default=SCOPE)
    return run_flow(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
