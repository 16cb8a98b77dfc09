"""Benchmark of the REST core: create throughput, read and patient-search latency.

    python bench/rest_core.py [--sizes 10000,100000] [--queries 200] [--per-patient 100]
                              [--http-creates 300] [--budget 900]

Builds the app in-process (carnet.app.build/create_app) on the embedded store (a fresh data
directory under the system's temporary directory for each size, removed afterwards), or on
MongoDB when MONGODB_URI is set (a scratch database, dropped afterwards), and drives it with
Flask's test client (no network, no gunicorn: the figures are the server's own cost).

For each size, the bulk of the DocumentReferences (--per-patient per patient at every size, so a
patient's search has the same work at every size; or over --patients patients) is loaded
through `carnet.store.write` with the operator context: the same work as a create (validation
aside: compartment key, search values, ACL, current + history documents) minus HTTP and
validation; then --http-creates more are POSTed through HTTP and timed. Creates/s is measured on
that HTTP sample, at the target size. It is compared with raw pymongo `insert_one` of the same
JSON into a scratch collection of the same store, and with `Store.write` of the same kind of
documents (the create path minus HTTP and validation), timed in the same run. Once every size
is loaded, the reads and searches are timed, the sizes taking turns in --rounds rounds, so that
the machine's drift over a long run does not enter the comparison. With several sizes it prints
the p99 ratios between the largest and the smallest (issue 11: read p99 <= 25 ms, patient
search p99 <= 80 ms, each within 1.3x from 10k to 100k documents).

This is a script, not a test. It prints the machine and store it ran on.
"""

import argparse
import copy
import gc
import os
import platform
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carnet import heap  # noqa: E402
from carnet.app import build, create_app  # noqa: E402
from carnet_core.context import operator_context  # noqa: E402
from consent.acl import access_fields  # noqa: E402
from fhir_server.config import Settings  # noqa: E402
from fhir_server.store.db import connect_documents  # noqa: E402
from fhir_server.store.repository import now  # noqa: E402
from smart_auth import models  # noqa: E402

FHIR_JSON = "application/fhir+json"
TYPES = [
    ("11488-4", "10", "Consult note"),
    ("11490-0", "10", "Discharge summary"),
    ("11502-2", "10", "Laboratory report"),
    ("18748-4", "31", "Diagnostic imaging study"),
    ("87273-9", "52", "Immunization note"),
    ("57833-6", "42", "Prescription for medication"),
]
TRE_A07 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatutVisibiliteDocument/FHIR/"
    "TRE-A07-StatutVisibiliteDocument"
)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


# -- environment ----------------------------------------------------------------------------------
def machine() -> str:
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "unknown RAM"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB RAM"
                break
    except OSError:
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def store_description() -> str:
    uri = os.environ.get("MONGODB_URI")
    if not uri:
        import sqlite3

        return (
            f"embedded (fhir_server.store.embedded: one SQLite {sqlite3.sqlite_version} file, "
            "WAL, synchronous=FULL but a read's or a search's AuditEvents flushed by the "
            "checkpointer, in a temporary data directory)"
        )
    from urllib.parse import urlsplit

    parts = urlsplit(uri)
    host = parts.hostname or parts.netloc.rsplit("@", 1)[-1]
    return f"MongoDB at {host}{f':{parts.port}' if parts.port else ''}"


# -- data -----------------------------------------------------------------------------------------
def document(rng: random.Random, patient: str) -> dict:
    loinc, klass, display = rng.choice(TYPES)
    when = (EPOCH + timedelta(minutes=rng.randrange(5 * 365 * 24 * 60))).strftime(
        "%Y-%m-%dT%H:%M:%S+01:00"
    )
    doc = {
        "resourceType": "DocumentReference",
        "meta": {
            "profile": [
                "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
                "pdsm-comprehensive-document-reference"
            ]
        },
        "contained": [
            {
                "resourceType": "Practitioner",
                "id": "author",
                "identifier": [
                    {
                        "system": "urn:oid:1.2.250.1.71.4.2.1",
                        "value": f"8{rng.randrange(10**10, 10**11)}",
                    }
                ],
                "name": [{"family": "Lefèvre", "given": ["Marc"]}],
            }
        ],
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": display}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": klass}]}],
        "subject": {"reference": f"Patient/{patient}"},
        "date": when,
        "author": [{"reference": "#author"}],
        "custodian": {"reference": "Organization/demo-hegp"},
        "securityLabel": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality",
                        "code": "N",
                    }
                ]
            }
        ],
        "content": [
            {
                "attachment": {
                    "contentType": "application/pdf",
                    "url": f"Binary/{uuid.uuid4()}",
                    "size": rng.randrange(2_000, 900_000),
                    "hash": "2jmj7l5rSw0yVb/vlWAYkK/YBwk=",
                    "title": display,
                },
                "format": {
                    "system": "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode",
                    "code": "urn:ihe:iti:xds-sd:pdf:2008",
                },
            }
        ],
        "context": {"period": {"start": when}},
    }
    if rng.random() < 0.05:
        doc["securityLabel"].append({"coding": [{"system": TRE_A07, "code": "MASQUE_PS"}]})
    return doc


def insert_direct(carnet, resources: list[dict]) -> None:
    """Bulk load for the embedded store: the documents store.write would produce, inserted with
    insert_many. (mongomock scans the whole collection for every find_one, even on _id, so
    loading 100k through store.write is quadratic there: hours.) Version 1, method POST."""
    store = carnet.store
    moment = now()
    current, history = [], []
    for res in resources:
        resource, values, pk = store.new_version(copy.deepcopy(res), 1, moment)
        doc = {
            "_id": resource["id"],
            "pk": pk or f"DocumentReference/{resource['id']}",
            "vid": 1,
            "lu": moment,
            "res": resource,
            "acl": access_fields(resource),
            **values,
        }
        current.append(doc)
        history.append(
            {
                "_id": f"{doc['_id']}/1",
                "id": doc["_id"],
                "vid": 1,
                "pk": doc["pk"],
                "lu": moment,
                "method": "POST",
                "created": True,
                "deleted": False,
                "res": resource,
                "acl": doc["acl"],
            }
        )
    store.db["DocumentReference"].insert_many(current)
    store.db["DocumentReference_history"].insert_many(history)


class GcClock:
    """The time the cyclic garbage collector runs, summed (gc.callbacks): a request's share of
    it is the difference across the request."""

    def __init__(self):
        self.total = 0.0
        self._started = 0.0
        gc.callbacks.append(self._phase)

    def _phase(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.total += time.perf_counter() - self._started


gc_clock = GcClock()


def disk_reads() -> int:
    """Bytes this process has read from the disk so far (getrusage: not the page cache's)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_inblock * 512


def slowest_line(size: int, pauses: list[tuple[float, float, int]]) -> str:
    """The slowest 2% of the patient searches, the collector's share of each and what each read
    from the disk (the machine's page cache did not hold it)."""
    worst = sorted(pauses, reverse=True)[: max(1, len(pauses) // 50)]
    cells = ", ".join(
        f"{total:.0f} ms (GC {gc_ms:.0f}, disk {read // 1024} KiB)" for total, gc_ms, read in worst
    )
    return f"slowest patient searches at {size}: {cells}"


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p99 in milliseconds."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(round(0.99 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p99 * 1000


def targets(results: dict[int, dict]) -> str:
    """Issue 11's latency targets against these figures: p99 bounds, and the growth between sizes."""
    small, large = min(results), max(results)
    lines = []
    for key, name, bound in (("read", "read", 25.0), ("search", "patient search", 80.0)):
        p99s = {size: r[key][1] for size, r in results.items()}
        worst = max(p99s.values())
        line = f"{name:<15} p99 max {worst:7.2f} ms (target <= {bound:.0f}: "
        line += f"{'met' if worst <= bound else 'MISSED'})"
        if large != small:
            ratio = p99s[large] / p99s[small]
            line += f"; p99 at {large} / p99 at {small} = {ratio:.2f} "
            line += f"(target <= 1.3: {'met' if ratio <= 1.3 else 'MISSED'})"
        lines.append(line)
    return "\n".join(lines)


def settle(carnet) -> None:
    """Let the store come to rest after an untimed load: on the embedded store, its log copied
    into the database file and emptied, the machine's dirty pages written out, and the database
    file read through once, so that the timed requests neither pay for the load's write-back nor
    meet a store colder than one in service (see `warm`). MongoDB: nothing (its server keeps its
    own cache)."""
    if carnet.settings.mongodb_uri:
        return
    from fhir_server.store.embedded.engine import open_engine

    engine = open_engine(carnet.settings.data_dir)
    engine.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.sync()
    warm(engine.path)


def warm(path: str) -> None:
    """Read the file at `path` through, into the machine's page cache.

    A store in service whose data fits in memory is read from the page cache. This benchmark
    loads its 100,000 documents over minutes, and the machine it was measured on pages out file
    pages left untouched for about a minute (DAMON's `pageout` scheme, /sys/kernel/mm/damon):
    without this, the timed requests would read what the load wrote from the disk, each such read
    waiting behind the checkpoints' writes. The figures print how much the timed requests still
    read from the disk."""
    with open(path, "rb", buffering=0) as f:
        while f.read(1 << 20):
            pass


# -- a scratch store -------------------------------------------------------------------------------
def scratch_settings() -> Settings:
    """Settings on a scratch store: a fresh data directory for the embedded store, a fresh
    database on MONGODB_URI; `discard` removes both."""
    return Settings.from_env(
        base_url="http://bench/fhir",
        mongodb_db=f"carnet_bench_{uuid.uuid4().hex[:8]}",
        data_dir=tempfile.mkdtemp(prefix="carnet-bench-"),
    )


def discard(carnet) -> None:
    """Remove the scratch store `carnet` was built on (scratch_settings)."""
    if carnet.settings.mongodb_uri:
        carnet.store.db.client.drop_database(carnet.settings.mongodb_db)
    shutil.rmtree(carnet.settings.data_dir, ignore_errors=True)


# -- one size ----------------------------------------------------------------------------------------
def load_size(size: int, args, log) -> "Loaded":
    rng = random.Random(size)
    settings = scratch_settings()
    carnet = build(settings)
    app = create_app(settings, carnet)
    heap.settle()  # as a served worker does once its app is built
    client = app.test_client()
    headers = {"Accept": FHIR_JSON}
    # A platform client's token, long-lived: a 100k run outlasts the default lifetime.
    token, _ = carnet.auth.tokens.issue(
        client_id="bench",
        scope="system/*.cruds",
        actor="system",
        subject="bench",
        lifetime=6 * 3600,
        platform=True,  # the operator's own client: reads and writes every record
    )
    headers["Authorization"] = f"Bearer {token}"
    ctx = operator_context("bench")
    patients = [f"bench-p{n:05d}" for n in range(args.patients or max(1, size // args.per_patient))]
    http_n = min(args.http_creates, size)
    bulk_n = max(0, size - http_n - min(args.write_sample, size))
    result: dict = {"size": size, "http_n": http_n, "bulk_n": bulk_n}
    try:
        ids: list[str] = []
        start = time.perf_counter()
        deadline = start + args.budget
        direct = args.bulk == "direct" or (
            args.bulk == "auto" and not os.environ.get("MONGODB_URI")
        )
        result["bulk_mode"] = "direct" if direct else "store.write"
        batch: list[dict] = []
        for i in range(bulk_n):
            resource = document(rng, patients[i % len(patients)])
            resource["id"] = str(uuid.uuid4())
            if direct:
                batch.append(resource)
                if len(batch) == 1000:
                    insert_direct(carnet, batch)
                    batch = []
            else:
                carnet.store.write(ctx, resource, method="POST", must_be_new=True)
            if len(ids) < 50_000:
                ids.append(resource["id"])
            if (i + 1) % 10_000 == 0:
                log(f"  {i + 1}/{bulk_n} loaded ({result['bulk_mode']})")
            if time.perf_counter() > deadline:
                raise TimeoutError(f"bulk load exceeded the {args.budget}s budget at {i + 1}")
        if batch:
            insert_direct(carnet, batch)
        elapsed = time.perf_counter() - start
        result["bulk_rate"] = bulk_n / elapsed if elapsed and bulk_n else 0.0
        settle(carnet)

        # store.write (the create path minus HTTP and validation), timed at this size.
        write_n = min(args.write_sample, size)
        samples = [document(rng, rng.choice(patients)) for _ in range(write_n)]
        start = time.perf_counter()
        for resource in samples:
            resource["id"] = str(uuid.uuid4())
            carnet.store.write(ctx, resource, method="POST", must_be_new=True)
        result["write_rate"] = write_n / (time.perf_counter() - start)
        result["write_n"] = write_n

        bodies = [document(rng, rng.choice(patients)) for _ in range(http_n)]
        start = time.perf_counter()
        for body in bodies:
            response = client.post(
                "/fhir/DocumentReference",
                json=body,
                headers={**headers, "Content-Type": FHIR_JSON, "Prefer": "return=minimal"},
            )
            if response.status_code != 201:
                raise RuntimeError(f"create failed: {response.get_data(as_text=True)[:300]}")
            ids.append(response.headers["Location"].split("/")[-3])
        elapsed = time.perf_counter() - start
        result["http_rate"] = http_n / elapsed

        raw = carnet.store.db[f"bench_raw_{uuid.uuid4().hex[:6]}"]
        raw_bodies = [copy.deepcopy(b) for b in bodies]
        start = time.perf_counter()
        for body in raw_bodies:
            raw.insert_one(body)
        elapsed = time.perf_counter() - start
        result["raw_rate"] = http_n / elapsed
        raw.drop()
        # The benchmark's own documents go before the timed requests: a served worker holds no
        # such heap, which every full pass of the garbage collector would walk (about 25,000
        # objects, 20 ms a pass).
        del samples, bodies, raw_bodies

        count = carnet.store.db["DocumentReference"].count_documents({})
        if count != size:
            raise RuntimeError(f"expected {size} stored DocumentReferences, found {count}")
        base = "/fhir/DocumentReference?patient=Patient/{}&_count=20"
        loaded = patients[: max(1, min(len(patients), bulk_n))]  # patients with documents
        q = args.queries
        urls = {
            "read": [f"/fhir/DocumentReference/{rng.choice(ids)}" for _ in range(q)],
            "search": [base.format(rng.choice(loaded)) for _ in range(q)],
            "search_type": [
                base.format(rng.choice(loaded)) + f"&type=http://loinc.org|{rng.choice(TYPES)[0]}"
                for _ in range(q)
            ],
        }
        result["per_patient"] = size / len(patients)
    except BaseException:
        discard(carnet)
        raise
    return Loaded(size, carnet, client, headers, urls, result)


@dataclass
class Loaded:
    """A size's store, loaded and its creates timed, waiting for its timed reads and searches."""

    size: int
    carnet: object
    client: object
    headers: dict
    urls: dict[str, list[str]]
    result: dict
    samples: dict[str, list[float]] = field(default_factory=dict)

    def take_turn(self) -> None:
        """Make this size's app the one served: mongoengine's records (the signing keys its token
        is checked against, clients, revocations) are bound process-wide, as `build` binds them,
        so they are bound to this size's store again; then one untimed read, which loads them."""
        settings = self.carnet.settings
        connect_documents(
            models.ALIAS, settings.mongodb_uri, settings.mongodb_db, settings.data_dir
        )
        response = self.client.get(self.urls["read"][0], headers=self.headers)
        if response.status_code != 200:
            raise RuntimeError(f"{self.urls['read'][0]}: {response.status_code}")

    def timed(self, kind: str, urls: list[str], slowest: list | None = None) -> None:
        expect_entries = kind == "search"
        samples = self.samples.setdefault(kind, [])
        for url in urls:
            paused, read = gc_clock.total, disk_reads()
            t0 = time.perf_counter()
            response = self.client.get(url, headers=self.headers)
            samples.append(time.perf_counter() - t0)
            read = disk_reads() - read
            self.result["disk_read"] += read
            if slowest is not None:
                slowest.append((samples[-1] * 1000, (gc_clock.total - paused) * 1000, read))
            if response.status_code != 200:
                raise RuntimeError(f"{url}: {response.status_code}")
            if expect_entries and not response.get_json().get("entry"):
                raise RuntimeError(f"{url}: no entries")


def time_reads_and_searches(stores: list[Loaded], rounds: int) -> None:
    """Each kind of request (read, patient search, search with a type), in `rounds` rounds that
    visit every size in turn: a drift of the machine's speed over the run (measured: medians
    doubling between two phases ten minutes apart) falls on every size alike instead of on the
    ratio between them."""
    for loaded in stores:
        settle(loaded.carnet)  # the file of the size loaded first has cooled since its load
        loaded.result["search_pauses"], loaded.result["disk_read"] = [], 0
    for kind in ("read", "search", "search_type"):
        for r in range(rounds):
            for loaded in stores:
                if len(stores) > 1:
                    loaded.take_turn()
                urls = loaded.urls[kind]
                share = urls[r * len(urls) // rounds : (r + 1) * len(urls) // rounds]
                pauses = loaded.result["search_pauses"] if kind == "search" else None
                loaded.timed(kind, share, pauses)
    for loaded in stores:
        for kind, samples in loaded.samples.items():
            loaded.result[kind] = percentiles(samples)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="stored DocumentReferences")
    parser.add_argument("--queries", type=int, default=200, help="reads and searches per size")
    parser.add_argument(
        "--per-patient", type=int, default=100, help="documents per patient, at every size"
    )
    parser.add_argument(
        "--patients", type=int, default=0, help="a fixed number of patients (overrides the above)"
    )
    parser.add_argument("--http-creates", type=int, default=300, help="timed HTTP creates")
    parser.add_argument(
        "--write-sample", type=int, default=200, help="timed store.write creates (no HTTP)"
    )
    parser.add_argument(
        "--bulk",
        choices=("auto", "store", "direct"),
        default="auto",
        help="bulk load through store.write, or insert_many of the same documents "
        "(auto: direct on the embedded store, store.write on MongoDB)",
    )
    parser.add_argument("--budget", type=float, default=900, help="seconds allowed per bulk load")
    parser.add_argument(
        "--rounds",
        type=int,
        default=10,
        help="the timed reads and searches of every size, interleaved in this many rounds",
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    import logging

    logging.getLogger("carnet").setLevel(logging.ERROR)
    logging.getLogger("carnet.store").setLevel(logging.ERROR)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    spread = (
        f"documents spread over {args.patients} patients"
        if args.patients
        else f"{args.per_patient} documents per patient at every size"
    )
    print("Carnet REST core benchmark")
    print(f"machine : {machine()}")
    print(f"store   : {store_description()}")
    print(
        "method  : Flask test client in-process (no network). Per size: the bulk is loaded "
        "untimed, and the store left to come to rest\n          (its log checkpointed, the "
        "machine's dirty pages synced, its file read through\n          into the page cache: again "
        "before the reads),\n"
        f"          then {args.write_sample} creates timed through store.write (operator context: "
        "the create path minus HTTP and validation),\n"
        f"          then {args.http_creates} creates timed through HTTP POST "
        "(Prefer: return=minimal), and the same JSON through raw insert_one;\n"
        f"          {args.queries} reads and {args.queries} searches of each kind, random ids and "
        f"patients; {spread};\n          once every size is loaded, the reads and searches of "
        f"the sizes are timed in turn, in {args.rounds} rounds (a drift\n          of the "
        "machine's speed falls on every size alike, not on the ratio between them)."
    )
    print()
    header = (
        f"{'stored':>8} {'bulk load':>11} {'HTTP create/s':>13} {'raw insert/s':>12} "
        f"{'ratio':>10} {'store.write/s':>13} {'HTTP/write':>9} {'read p50/p99 ms':>16} {'search p50/p99 ms':>18} "
        f"{'+type p50/p99 ms':>17}"
    )
    print(header)
    print("-" * len(header))
    status = 0
    stores: list[Loaded] = []
    try:
        for size in sizes:
            log(f"size {size}: loading ...")
            t0 = time.perf_counter()
            try:
                stores.append(load_size(size, args, log))
            except TimeoutError as exc:
                print(f"{size:>8} skipped: {exc}")
                status = 1
                continue
            log(f"size {size}: loaded in {time.perf_counter() - t0:.0f}s")
        log(f"reads and searches, {args.rounds} rounds over the sizes ...")
        time_reads_and_searches(stores, args.rounds)
    finally:
        for loaded in stores:
            discard(loaded.carnet)
    done = {}
    for loaded in stores:
        r = done[loaded.size] = loaded.result
        print(
            f"{loaded.size:>8} {r['bulk_mode']:>11} {r['http_rate']:>13.1f} {r['raw_rate']:>12.0f} "
            f"{'1:' + format(r['raw_rate'] / r['http_rate'], '.0f'):>10} {r['write_rate']:>13.1f} "
            f"{r['http_rate'] / r['write_rate']:>8.2f}x "
            f"{r['read'][0]:>7.2f}/{r['read'][1]:<8.2f} "
            f"{r['search'][0]:>8.2f}/{r['search'][1]:<9.2f} "
            f"{r['search_type'][0]:>8.2f}/{r['search_type'][1]:<8.2f}",
            flush=True,
        )
    print()
    if done:
        for size, r in done.items():
            print(slowest_line(size, r["search_pauses"]))
            print(
                f"the timed reads and searches at {size} read {r['disk_read'] // 1024} KiB from the disk"
            )
        print(targets(done))
        worst = min(r["http_rate"] / r["write_rate"] for r in done.values())
        print(
            f"HTTP create / store.write  min {worst:.2f}x "
            f"(target >= 0.35: {'met' if worst >= 0.35 else 'MISSED'})"
        )
        print()
    print(
        "ratio = HTTP create throughput : raw pymongo insert_one throughput of the same JSON into "
        "the same store.\nHTTP/write = HTTP create throughput / store.write throughput, same store, "
        "same run (issue 13: >= 0.35x).\nLatencies are per request through the full Flask stack, in milliseconds.\n"
        "bulk load 'direct' = the documents store.write builds (same new_version/extract/acl), "
        "inserted with insert_many (faster to load).\nThe embedded store reads through its indexes; mongomock (the former default) had none: "
        "every find, even by _id, scanned the collection."
    )
    return status


if __name__ == "__main__":
    sys.exit(main())
