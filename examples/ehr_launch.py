#!/usr/bin/env python3
"""SMART EHR launch: labelled professional software hands Dr Lefèvre's session its patient.

https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-app-ehr-launch - the software
(confidential client `demo-pro-software`, registered as labelled) registers the patient it is
working on (POST /auth/launch) and gets an opaque `launch`; it sends the professional's browser to
the authorization endpoint with that `launch`, `user/` scopes and PKCE; the professional signs in
(password, one-time code) and approves; the token response names the launch patient.

    fhir-server serve --demo                     # in another terminal
    python examples/ehr_launch.py                # open the printed URL, sign in as dr.lefevre
    python examples/ehr_launch.py --auto         # the browser steps done with requests
"""

import sys

import requests
from smart_common import (
    Fhir,
    FlowError,
    add_login_args,
    base_parser,
    display_name,
    patient_launch,
    run_flow,
    step,
)

SCOPE = "launch openid fhirUser user/Patient.rs user/DocumentReference.rs"
# DEMO ONLY: the secret smart_auth/demo.py gives the demo software (examples/README.md).
DEMO_SECRET = "demo-pro-software-secret-not-for-production"


def register_launch(base: str, credentials: tuple[str, str], patient: str) -> str:
    url = f"{base.rstrip('/')}/auth/launch"
    step(f"POST {url} patient={patient} (as {credentials[0]}, HTTP Basic)")
    response = requests.post(url, data={"patient": patient}, auth=credentials, timeout=10)
    body = response.json()
    if response.status_code != 200:
        raise FlowError(f"launch registration: HTTP {response.status_code} {body}")
    print(f"   launch registered for Patient/{body['patient']}, valid {body['expires_in']} s")
    return body["launch"]


def run(args) -> None:
    credentials = (args.client_id, args.client_secret)
    # The EHR registers the launch first, then the app it launches discovers the server.
    launch = register_launch(args.base, credentials, args.patient)
    token, patient = patient_launch(args, {"launch": launch}, auth=credentials)
    print(
        f"Token response patient: {patient} "
        f"(need_patient_banner: {str(token.get('need_patient_banner')).lower()})"
    )
    # What a professional may read is the access policy's decision (consent/policy.py), not the
    # token's alone: the read may be refused even with user/Patient.rs in the token.
    fhir = Fhir(args.base, token["access_token"])
    try:
        resource = fhir.get(f"Patient/{patient}").json()
    except FlowError as refused:
        print(f"   the access policy did not let {args.username} read it: {refused}")
    else:
        print(f"Patient/{patient}: {display_name(resource)}")


def main(argv: list[str] | None = None) -> int:
    parser = base_parser(__doc__.split("\n\n")[0])
    add_login_args(parser, "dr.lefevre", "demo-lefevre-password")
    parser.add_argument("--client-id", default="demo-pro-software")
    parser.add_argument("--client-secret", default=DEMO_SECRET, help="default: the DEMO secret")
    parser.add_argument("--patient", default="Patient/demo-alice")
    parser.add_argument("--scope", default=SCOPE)
    return run_flow(run, parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
