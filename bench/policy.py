"""Benchmark of the consent policy's cost: patient-search latency with and without it, same data.

    python bench/policy.py [--size 10000] [--patients 1000] [--queries 200]

One store, loaded once with --size DocumentReferences over --patients patients (5% masked, 2%
invisible to the patient, as bench/rest_core.py writes them), each patient with an attending
doctor, and a privacy Consent for one in ten. Two apps are built over that same database: the
real one, and one whose policy lets everything through (its read predicate is empty and it reads
no facts). The same searches are timed on both, interleaved query by query, for three callers: the patient on their own
record, their attending doctor (in the patient's context: the policy reads the record's facts),
and a care-team professional without a patient in context (the facts of every record naming them).
Audit writes happen in both apps (only the policy differs). Prints p50 / p99 and the ratio.

This is a script, not a test. It prints the machine and store it ran on.
"""

import argparse
import random
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import rest_core  # noqa: E402

from carnet.app import build, create_app  # noqa: E402
from carnet_core.context import operator_context  # noqa: E402
from consent import codes  # noqa: E402
from consent.policy import ReadRule  # noqa: E402

FHIR_JSON = "application/fhir+json"


class NoPolicy:
    """Everything readable, no facts read: the baseline the real policy is compared with."""

    def __init__(self, real):
        self.real = real

    def read_rule(self, ctx, resource_type):
        return ReadRule("bench-no-policy", {})

    def rule_for(self, ctx, pk):
        return "bench-no-policy"

    def __getattr__(self, name):
        return getattr(self.real, name)


def seed(carnet, args, rng) -> list[str]:
    ctx = operator_context("bench")
    patients = [f"bench-p{n:05d}" for n in range(args.patients)]
    for n, pid in enumerate(patients):
        carnet.store.write(
            ctx,
            {
                "resourceType": "Patient",
                "id": pid,
                "generalPractitioner": [{"reference": f"Practitioner/gp{n % 50}"}],
            },
            method="PUT",
        )
        if n % 10 == 0:
            carnet.store.write(
                ctx,
                {
                    "resourceType": "Consent",
                    "id": f"consent-{pid}",
                    "status": "active",
                    "scope": {
                        "coding": [
                            {"system": codes.CONSENT_SCOPE_SYSTEM, "code": codes.PATIENT_PRIVACY}
                        ]
                    },
                    "category": [{"coding": [{"system": "http://loinc.org", "code": "59284-0"}]}],
                    "patient": {"reference": f"Patient/{pid}"},
                    "policyRule": {"text": "care team"},
                    "provision": {
                        "type": "permit",
                        "actor": [{"reference": {"reference": "Practitioner/nurse"}}],
                    },
                },
                method="PUT",
            )
    batch = []
    for i in range(args.size):
        doc = rest_core.document(rng, patients[i % len(patients)])
        doc["id"] = str(uuid.uuid4())
        if rng.random() < 0.02:
            doc["securityLabel"].append(
                {"coding": [{"system": codes.VISIBILITY_SYSTEM, "code": codes.INVISIBLE_PATIENT}]}
            )
        batch.append(doc)
        if len(batch) == 1000:
            rest_core.insert_direct(carnet, batch)
            batch = []
    if batch:
        rest_core.insert_direct(carnet, batch)
    return patients


def token(carnet, scope: str, actor: str, **claims) -> str:
    value, _ = carnet.auth.tokens.issue(
        client_id="bench", scope=scope, actor=actor, lifetime=6 * 3600, **claims
    )
    return value


def timed(client, urls: list[str], bearer: str) -> tuple[float, float]:
    return timed_each(client, urls, [bearer] * len(urls))


def timed_each(client, urls: list[str], bearers: list[str]) -> tuple[float, float]:
    """p50 / p99 (ms) of GETting each url with its own token."""
    samples = []
    for url, bearer in zip(urls, bearers, strict=True):
        headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {bearer}"}
        t0 = time.perf_counter()
        response = client.get(url, headers=headers)
        samples.append(time.perf_counter() - t0)
        if response.status_code != 200:
            raise RuntimeError(f"{url}: {response.status_code} {response.get_data(as_text=True)}")
    return rest_core.percentiles(samples)


def interleaved(apps: dict, urls: list[str], bearers: list[str]) -> dict:
    """p50 / p99 (ms) per app, the apps taking turns query by query (which app goes first
    alternating too), so that a change in the machine's load weighs on both alike."""
    samples: dict = {label: [] for label in apps}
    labels = list(apps)
    for n, (url, bearer) in enumerate(zip(urls, bearers, strict=True)):
        headers = {"Accept": FHIR_JSON, "Authorization": f"Bearer {bearer}"}
        for label in labels if n % 2 == 0 else reversed(labels):
            t0 = time.perf_counter()
            response = apps[label].get(url, headers=headers)
            samples[label].append(time.perf_counter() - t0)
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code} {response.get_data(True)}")
    return {label: rest_core.percentiles(found) for label, found in samples.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=10000, help="stored DocumentReferences")
    parser.add_argument("--patients", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=200)
    args = parser.parse_args(argv)
    rng = random.Random(args.size)
    print(f"machine: {rest_core.machine()}")
    print(f"store:   {rest_core.store_description()}")
    settings = rest_core.scratch_settings()
    real = build(settings)
    try:
        start = time.perf_counter()
        patients = seed(real, args, rng)
        print(
            f"loaded {args.size} DocumentReferences over {args.patients} patients "
            f"in {time.perf_counter() - start:.1f}s"
        )
        baseline = build(settings, db=real.store.db, transactions=real.store.transactions)
        # Nothing of the policy left: not in queries, nor in the audit's rule names.
        baseline.store.policy = NoPolicy(baseline.store.policy)
        baseline.audit.policy = baseline.store.policy
        for observer in baseline.audit.observers:
            observer.policy = baseline.store.policy
        apps = {
            "with policy": create_app(settings, real).test_client(),
            "without policy": create_app(settings, baseline).test_client(),
        }
        picks = [rng.choice(patients) for _ in range(args.queries)]
        search = "/fhir/DocumentReference?patient=Patient/{}&_count=20"
        cases = []
        patient_urls = [search.format(p) for p in picks]
        cases.append(
            (
                "patient, own record",
                patient_urls,
                lambda p: token(real, "patient/*.rs", "patient", subject=p, fhir_user=p, patient=p),
            )
        )
        cases.append(
            (
                "attending doctor, patient in context",
                patient_urls,
                lambda p: token(
                    real,
                    "user/*.rs",
                    "practitioner",
                    subject="gp",
                    fhir_user=f"Practitioner/gp{patients.index(p.split('/')[1]) % 50}",
                    patient=p,
                ),
            )
        )
        cases.append(
            (
                "care-team nurse, no patient in context",
                patient_urls,
                lambda p: token(
                    real,
                    "user/*.rs",
                    "practitioner",
                    subject="nurse",
                    fhir_user="Practitioner/nurse",
                ),
            )
        )
        print(
            f"{'caller':42} {'with policy p50/p99':>22} {'without p50/p99':>18} {'ratio p50':>10}"
        )
        for name, urls, make in cases:
            bearers = [make(f"Patient/{pid}") for pid in picks]
            for client in apps.values():
                timed(client, urls[:5], bearers[0])  # warm-up
            figures = interleaved(apps, urls, bearers)
            with_, without = figures["with policy"], figures["without policy"]
            print(
                f"{name:42} {with_[0]:9.1f} / {with_[1]:7.1f} ms {without[0]:7.1f} / "
                f"{without[1]:6.1f} ms {with_[0] / without[0]:9.2f}x"
            )
    finally:
        rest_core.discard(real)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
