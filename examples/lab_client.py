#!/usr/bin/env python3
"""A medical laboratory pushes a lab report by IHE MHD ITI-65, then finds (ITI-67) and fetches it (ITI-68).

https://profiles.ihe.net/ITI/MHD/ITI-65.html as PDSm asks, like hospital_client.py (whose flow it
reuses) for another sender: the client `demo-lab`, acting for Organization/demo-labo, with a token
narrowed to what the flow needs (SMART v2 scopes: create the SubmissionSet, the DocumentReference
and its Binary; search and read them back). The report goes to Patient/demo-bernard by his INS.

    fhir-server serve --demo                  # in another terminal
    python examples/lab_client.py             # INS 156096912304594 (Patient/demo-bernard)

The Bundle is built from examples/mhd/iti65-lab-report.json. The default key is the DEMO key in
examples/keys/: never use it anywhere else.
"""

import sys

from hospital_client import run

SCOPE = "system/List.c system/DocumentReference.crs system/Binary.cr"


def main(argv: list[str] | None = None) -> int:
    return run(
        argv,
        __doc__.split("\n\n")[0],
        client_id="demo-lab",
        ins="156096912304594",
        scope=SCOPE,
        template="iti65-lab-report.json",
        what="Lab report",
        lines=[
            "Laboratoire de biologie medicale (demo) - Compte rendu d'examens biologiques",
            "Hemogramme, ionogramme - document fictif",
        ],
    )


if __name__ == "__main__":
    sys.exit(main())
