"""Benchmark of the worker's memory under audited reads: does RSS grow with the AuditEvents?

    python bench/memory.py [--first 500] [--reads 5000] [--documents 200]

Builds the app in-process on the embedded store (a fresh data directory under the system's
temporary directory, removed afterwards), or on MongoDB when MONGODB_URI is set (a scratch
database, dropped afterwards). A patient's attending doctor (a professional, patient in
context) reads the patient's DocumentReferences one by one through HTTP (Flask's test client);
every read is allowed, so every read stores an AuditEvent. Prints the process's resident memory
(VmRSS) after --first reads and after --reads, and the difference (issue 11: within 20 MiB).

This is a script, not a test. It prints the machine and store it ran on.
"""

import argparse
import gc
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.rest_core import (  # noqa: E402
    FHIR_JSON,
    discard,
    document,
    machine,
    scratch_settings,
    store_description,
)
from carnet.app import build, create_app  # noqa: E402
from carnet_core.context import operator_context  # noqa: E402

PATIENT = "bench-mem-patient"
DOCTOR = "Practitioner/bench-mem-gp"


def rss_mib() -> float:
    """This process's resident memory now (not its peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--first", type=int, default=500, help="reads before the first figure")
    parser.add_argument("--reads", type=int, default=5000, help="reads before the second figure")
    parser.add_argument("--documents", type=int, default=200, help="the patient's documents")
    args = parser.parse_args(argv)

    import logging

    logging.getLogger("carnet").setLevel(logging.ERROR)
    rng = random.Random(5000)
    settings = scratch_settings()
    carnet = build(settings)
    client = create_app(settings, carnet).test_client()
    print("Carnet memory benchmark (audited reads)")
    print(f"machine : {machine()}")
    print(f"store   : {store_description()}")
    try:
        ctx = operator_context("bench")
        carnet.store.write(
            ctx,
            {
                "resourceType": "Patient",
                "id": PATIENT,
                "generalPractitioner": [{"reference": DOCTOR}],
            },
            method="PUT",
        )
        ids = []
        for _ in range(args.documents):
            resource = document(rng, PATIENT)
            resource["securityLabel"] = resource["securityLabel"][:1]  # nothing masked
            resource["id"] = str(uuid.uuid4())
            carnet.store.write(ctx, resource, method="POST", must_be_new=True)
            ids.append(resource["id"])
        token, _ = carnet.auth.tokens.issue(
            client_id="bench",
            scope="user/*.rs",
            actor="practitioner",
            subject="bench-mem-gp",
            fhir_user=DOCTOR,
            patient=f"Patient/{PATIENT}",
            lifetime=6 * 3600,
        )
        headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {token}"}
        audits = carnet.store.db["AuditEvent"]
        audited_before = audits.count_documents({})
        figures = {}
        started = time.perf_counter()
        for n in range(1, args.reads + 1):
            response = client.get(f"/fhir/DocumentReference/{ids[n % len(ids)]}", headers=headers)
            if response.status_code != 200:
                raise RuntimeError(f"read {n}: {response.status_code}")
            if n in (args.first, args.reads):
                gc.collect()
                figures[n] = rss_mib()
        elapsed = time.perf_counter() - started
        audited = audits.count_documents({}) - audited_before
    finally:
        discard(carnet)
    if audited < args.reads:
        raise RuntimeError(f"{args.reads} reads stored only {audited} AuditEvents")
    growth = figures[args.reads] - figures[args.first]
    print(f"{args.reads} reads by the attending doctor in {elapsed:.1f}s, {audited} AuditEvents")
    print(f"RSS after {args.first:>5} reads: {figures[args.first]:8.1f} MiB")
    print(f"RSS after {args.reads:>5} reads: {figures[args.reads]:8.1f} MiB")
    per_read = growth * 1024 / max(1, args.reads - args.first)
    print(
        f"difference: {growth:+.1f} MiB ({per_read:+.2f} KiB per audited read; "
        f"target within 20 MiB: {'met' if abs(growth) <= 20 else 'MISSED'})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
