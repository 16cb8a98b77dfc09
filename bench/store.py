"""Benchmark of candidate embedded store engines on Carnet's own document shapes (issue 11).

    python bench/store.py [--sizes 10000,100000] [--engines mongomock,carnet,litemongo,mongoeco,...]
                          [--queries 200] [--inserts 200] [--op-budget 20] [--py313 PATH]

Each engine runs in a child process of its own (so its RSS is its own), in the interpreter that
has it: mongomock, litemongo and montydb in this one; mongoeco (Python >= 3.13 only) in --py313
(default: .venv313/bin/python of this checkout, else $CARNET_PY313). `carnet` is Carnet's own
embedded store (fhir_server.store.embedded: mongomock's matcher over one indexed SQLite file). `mongoeco-wire` is the real
pymongo driver of this interpreter talking to mongoeco's MongoDB wire-protocol server, run as a
separate --py313 process on an SQLite file: the production code path (pymongo, gridfs,
mongoengine) on the embedded store. An engine whose package is missing is skipped, not failed.

The documents are current DocumentReference versions as fhir_server.store.repository writes them
(`_id`, `pk`, `vid`, `lu`, `res`, `acl`, `tk`/`tt`/`rf`/`dt`/`has`/`so` search values), ~100 per
patient at every size, under the indexes of fhir_server.store.indexes. For each size the store is
grown by insert_many to the size, then timed: insert_one (one create), find_one by `_id`, the
patient's newest 20 (`pk` + sort on `_id` + limit), count_documents by `pk`, and a token search
(`pk` + `tk` equality on an array field). An operation stops sampling after --op-budget seconds
(at least 5 samples), so a store that scans stays measurable at 100k.

With --mongoeco-fix (the default) the mongoeco processes skip a whole-collection scan that its
SQLite engine does on every insert_one of a non-numeric `_id` (see bench/STORE_FINDINGS.md).
"""

import argparse
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from fhir_server.store.indexes import CURRENT_INDEXES  # noqa: E402

ENGINES = ["mongomock", "carnet", "litemongo", "montydb", "mongoeco", "mongoeco-wire"]
NEEDS_313 = {"mongoeco"}  # run in --py313; mongoeco-wire runs its server there
PER_PATIENT = 100
BATCH = 1000
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
TYPES = ["11488-4", "11490-0", "11502-2", "18748-4", "87273-9", "57833-6"]
SEARCHED = "type=http://loinc.org|11490-0"


# -- documents --------------------------------------------------------------------------------
def stored_document(rng: random.Random, n: int) -> dict:
    """The current document of the n-th DocumentReference (patient n // PER_PATIENT)."""
    patient = f"Patient/p{n // PER_PATIENT:06d}"
    loinc = rng.choice(TYPES)
    when = EPOCH + timedelta(minutes=rng.randrange(5 * 365 * 24 * 60))
    lu = EPOCH + timedelta(seconds=n)
    id = f"{n:012x}-{rng.getrandbits(64):016x}"  # time-ordered like repository.new_id
    ident = f"urn:uuid:{rng.getrandbits(128):032x}"
    binary = f"Binary/{rng.getrandbits(128):032x}"
    res = {
        "resourceType": "DocumentReference",
        "id": id,
        "meta": {"versionId": "1", "lastUpdated": lu.isoformat()},
        "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": ident},
        "status": "current",
        "type": {"coding": [{"system": "http://loinc.org", "code": loinc, "display": "Note"}]},
        "category": [{"coding": [{"system": "urn:oid:1.2.250.1.213.1.1.4.1", "code": "10"}]}],
        "subject": {"reference": patient},
        "date": when.isoformat(),
        "author": [{"reference": "Practitioner/pr1"}],
        "custodian": {"reference": "Organization/demo-hegp"},
        "securityLabel": [{"coding": [{"system": "v3-Confidentiality", "code": "N"}]}],
        "content": [
            {
                "attachment": {"contentType": "application/pdf", "url": binary, "size": 90210},
                "format": {"system": "formatcode", "code": "urn:ihe:iti:xds-sd:pdf:2008"},
            }
        ],
        "context": {"period": {"start": when.isoformat()}},
    }
    tokens = [
        "category=10",
        "category=urn:oid:1.2.250.1.213.1.1.4.1|10",
        "contenttype=application/pdf",
        "format=urn:ihe:iti:xds-sd:pdf:2008",
        f"identifier={ident}",
        f"identifier=urn:ietf:rfc:3986|{ident}",
        f"location={binary}",
        "security-label=N",
        "status=current",
        f"type={loinc}",
        "type=http://loinc.org|",
        f"type=http://loinc.org|{loinc}",
    ]
    return {
        "_id": id,
        "pk": patient,
        "vid": 1,
        "lu": lu,
        "res": res,
        "acl": {
            "labels": ["v3-Confidentiality|N"],
            "dep": ["Practitioner/pr1", "Organization/demo-hegp"],
            "by": ["Practitioner/pr1", "Organization/demo-hegp"],
            "visible_from": datetime(1970, 1, 1, tzinfo=UTC),
        },
        "tk": tokens,
        "tt": ["type=note"],
        "rf": ["custodian=Organization/demo-hegp", f"patient={patient}", f"subject={patient}"],
        "dt": [
            {"p": "_lastUpdated", "lo": lu, "hi": lu + timedelta(milliseconds=1)},
            {"p": "date", "lo": when, "hi": when + timedelta(seconds=1)},
        ],
        "has": ["_lastUpdated", "identifier", "patient", "type", "category", "status", "subject"],
        "so": {"date": when, "type": loinc},
    }


# -- engines ------------------------------------------------------------------------------------
def skip_expensive_id_scan() -> None:
    """mongoeco 4.11: insert_one re-reads every document to compare `_id`s by numeric value
    (1 == 1.0); the primary-key lookup it also does is enough when the `_id` holds no number."""
    from mongoeco.core.identity import id_contains_numeric_value
    from mongoeco.engines import SQLiteEngine

    validate = SQLiteEngine._validate_document_against_unique_indexes

    def validate_without_scan(self, db_name, coll_name, document, **options):
        if options.get("scan_payload_id") and not id_contains_numeric_value(document.get("_id")):
            options["scan_payload_id"] = False
        return validate(self, db_name, coll_name, document, **options)

    SQLiteEngine._validate_document_against_unique_indexes = validate_without_scan


def open_engine(name: str, data: Path, args):
    """(database, description, close) for one engine on a data directory."""
    data.mkdir(parents=True, exist_ok=True)
    if name == "mongomock":
        import mongomock

        client = mongomock.MongoClient(tz_aware=True)
        return client["carnet"], f"mongomock {mongomock.__version__} (memory)", client.close
    if name == "carnet":
        from fhir_server.store.embedded.client import EmbeddedClient

        client = EmbeddedClient(data_dir=str(data / "carnet"), tz_aware=True)
        return (
            client["carnet"],
            "carnet embedded (SQLite, fhir_server.store.embedded)",
            client.close,
        )
    if name == "litemongo":
        import litemongo

        client = litemongo.connect(str(data / "litemongo"), tz_aware=True)
        return client["carnet"], f"litemongo {litemongo.__version__} (SQLite)", client.close
    if name == "montydb":
        import montydb

        montydb.set_storage(str(data / "monty"), storage="sqlite")
        client = montydb.MontyClient(str(data / "monty"))
        return client["carnet"], f"montydb {montydb.__version__} (SQLite)", client.close
    if name == "mongoeco":
        import mongoeco
        from mongoeco.engines import SQLiteEngine

        if args.mongoeco_fix:
            skip_expensive_id_scan()
        client = mongoeco.MongoClient(SQLiteEngine(str(data / "mongoeco.db")))
        fix = " +fix" if args.mongoeco_fix else ""
        return (
            client["carnet"],
            f"mongoeco {mongoeco.__version__} (SQLite, direct{fix})",
            client.close,
        )
    if name == "mongoeco-wire":
        import pymongo

        server = subprocess.Popen(
            [py313(args), __file__, "--serve-mongoeco", str(data / "wire.db")]
            + ([] if args.mongoeco_fix else ["--no-mongoeco-fix"]),
            stdout=subprocess.PIPE,
            text=True,
        )
        port = int(server.stdout.readline().split()[-1])
        client = pymongo.MongoClient(
            f"mongodb://127.0.0.1:{port}/?directConnection=true", tz_aware=True
        )
        args.server_pid = server.pid

        def close():
            client.close()
            server.terminate()
            server.wait()

        fix = " +fix" if args.mongoeco_fix else ""
        return (
            client["carnet"],
            f"pymongo {pymongo.__version__} -> mongoeco wire server{fix}",
            close,
        )
    raise SystemExit(f"unknown engine {name}")


def py313(args) -> str:
    return args.py313 or os.environ.get("CARNET_PY313") or str(ROOT / ".venv313/bin/python")


def serve_mongoeco(path: str, fix: bool) -> None:
    """Run mongoeco's wire server on an SQLite file; print its port, serve until terminated."""
    import asyncio
    import signal

    from mongoeco.engines import SQLiteEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    if fix:
        skip_expensive_id_scan()

    async def run():
        async with AsyncMongoEcoProxyServer(engine=SQLiteEngine(path)) as server:
            print("port", server.address.port, flush=True)
            stop = asyncio.Event()
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
            await stop.wait()

    asyncio.run(run())


def available(name: str, args) -> str | None:
    """Why `name` cannot run here, or None."""
    module = {"mongoeco-wire": "mongoeco", "carnet": "fhir_server.store.embedded.client"}.get(
        name, name
    )
    python = py313(args) if module == "mongoeco" else sys.executable
    if not Path(python).exists():
        return f"no Python 3.13 at {python} (--py313)"
    probe = subprocess.run([python, "-c", f"import {module}, pymongo"], capture_output=True)
    return None if probe.returncode == 0 else f"{module} is not installed in {python}"


# -- measurement ----------------------------------------------------------------------------------
def rss_mib(pid: int | None = None) -> float:
    if pid is None:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(x for x in status.splitlines() if x.startswith("VmRSS")).split()[1]) / 1024


def timed(operation, count: int, budget: float) -> list[float]:
    samples, started = [], time.perf_counter()
    for i in range(count):
        t = time.perf_counter()
        operation(i)
        samples.append((time.perf_counter() - t) * 1000)
        if len(samples) >= 5 and time.perf_counter() - started > budget:
            break
    return samples


def summary(samples: list[float]) -> dict:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"p50": statistics.median(ordered), "p99": p99, "n": len(ordered)}


def measure(coll, rng, ids: list, patients: list, fresh: list, args) -> dict:
    """Samples (ms) of each timed operation on the store as it is."""
    q = args.queries
    return {
        "insert": timed(lambda i: coll.insert_one(fresh[i]), len(fresh), args.op_budget),
        "find_id": timed(lambda i: coll.find_one({"_id": rng.choice(ids)}), q, args.op_budget),
        "pk_sort": timed(
            lambda i: list(coll.find({"pk": rng.choice(patients)}, sort=[("_id", -1)], limit=20)),
            q,
            args.op_budget,
        ),
        "count": timed(
            lambda i: coll.count_documents({"pk": rng.choice(patients)}), q, args.op_budget
        ),
        "tk": timed(
            lambda i: list(
                coll.find(
                    {"pk": rng.choice(patients), "tk": SEARCHED},
                    sort=[("_id", -1)],
                    limit=20,
                )
            ),
            q,
            args.op_budget,
        ),
    }


def run_engine(name: str, args) -> None:
    """Child process: grow one engine through the sizes and print one RESULT line per size."""
    data = Path(tempfile.mkdtemp(prefix=f"carnet-bench-{name}-"))
    try:
        db, description, close = open_engine(name, data, args)
        coll = db["DocumentReference"]
        for index, keys in CURRENT_INDEXES.items():
            coll.create_index(keys, name=index)
        rng = random.Random(11)
        loaded, ids = 0, []
        for size in args.sizes:
            started, before = time.perf_counter(), loaded
            while loaded < size:
                batch = [stored_document(rng, n) for n in range(loaded, min(size, loaded + BATCH))]
                coll.insert_many(batch)
                ids += [d["_id"] for d in batch]
                loaded += len(batch)
            load_rate = (loaded - before) / max(time.perf_counter() - started, 1e-9)
            coll.count_documents({"pk": "Patient/p000000"})  # warms lazily built indexes
            patients = [f"Patient/p{n:06d}" for n in range(size // PER_PATIENT)]
            fresh = [stored_document(rng, size * 10 + i) for i in range(args.inserts)]
            for doc in fresh:  # keep ~PER_PATIENT per patient: creates go to existing patients
                doc["pk"] = rng.choice(patients)
            ops = measure(coll, rng, ids, patients, fresh, args)
            rss = rss_mib() + (rss_mib(args.server_pid) if args.server_pid else 0)
            result = {
                "engine": name,
                "store": description,
                "size": size,
                "load_per_s": load_rate,
                "rss_mib": rss,
                **{op: summary(samples) for op, samples in ops.items()},
            }
            result["inserts_per_s"] = 1000 / statistics.mean(ops["insert"])
            print("RESULT " + json.dumps(result), flush=True)
        close()
    finally:
        shutil.rmtree(data, ignore_errors=True)


# -- report ----------------------------------------------------------------------------------------
OPS = ["insert", "find_id", "pk_sort", "count", "tk"]


def report(results: list[dict]) -> None:
    print(f"\n{'engine':<14}{'size':>8}{'load/s':>9}{'ins/s':>8}", end="")
    for op in OPS:
        print(f"{op + ' p50/p99 ms':>22}", end="")
    print(f"{'RSS MiB':>9}")
    for r in results:
        print(
            f"{r['engine']:<14}{r['size']:>8}{r['load_per_s']:>9.0f}{r['inserts_per_s']:>8.0f}",
            end="",
        )
        for op in OPS:
            print(f"{r[op]['p50']:>14.2f} /{r[op]['p99']:>6.1f}", end="")
        print(f"{r['rss_mib']:>9.0f}")
    print("\nstores: " + "; ".join(sorted({f"{r['engine']} = {r['store']}" for r in results})))
    by = {(r["engine"], r["size"]): r for r in results}
    sizes = sorted({r["size"] for r in results})
    if len(sizes) > 1:
        small, large = sizes[0], sizes[-1]
        print(f"\nratio p99 at {large} / p99 at {small} (1.0 = flat; the issue asks <= 1.3):")
        for engine in dict.fromkeys(r["engine"] for r in results):
            if (engine, small) in by and (engine, large) in by:
                a, b = by[(engine, small)], by[(engine, large)]
                cells = "  ".join(f"{op} {b[op]['p99'] / a[op]['p99']:.2f}" for op in OPS)
                print(f"  {engine:<14}{cells}")
    for size in sizes:
        base = by.get(("mongomock", size))
        if base is None:
            continue
        print(f"\nratio p50 engine / mongomock at {size} (< 1 = faster than mongomock):")
        for (engine, s), r in by.items():
            if s == size and engine != "mongomock":
                cells = "  ".join(f"{op} {r[op]['p50'] / base[op]['p50']:.2f}" for op in OPS)
                print(f"  {engine:<14}{cells}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--inserts", type=int, default=200)
    parser.add_argument("--op-budget", type=float, default=20.0, help="seconds per operation")
    parser.add_argument("--py313", default=None, help="a Python >= 3.13 that has mongoeco")
    parser.add_argument("--mongoeco-fix", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--serve-mongoeco", help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(",")]
    args.server_pid = None
    if args.serve_mongoeco:
        return serve_mongoeco(args.serve_mongoeco, args.mongoeco_fix)
    if args.child:
        return run_engine(args.child, args)
    print(
        f"Python {sys.version.split()[0]}; sizes {args.sizes}; {PER_PATIENT} documents per patient"
    )
    results = []
    for name in args.engines.split(","):
        why = available(name, args)
        if why:
            print(f"{name}: skipped ({why})")
            continue
        python = py313(args) if name in NEEDS_313 else sys.executable
        forwarded = [a for a in sys.argv[1:] if not a.startswith("--engines")]
        if "--engines" in sys.argv[1:]:
            at = sys.argv.index("--engines")
            forwarded = sys.argv[1:at] + sys.argv[at + 2 :]
        done = subprocess.run(
            [python, __file__, *forwarded, "--child", name], capture_output=True, text=True
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("RESULT ")]
        results += [json.loads(x[len("RESULT ") :]) for x in lines]
        for r in results[-len(lines) :] if lines else []:
            print(f"{name} at {r['size']}: done", flush=True)
        if done.returncode != 0:
            print(f"{name}: failed\n{done.stderr[-2000:]}", flush=True)
    report(results)


if __name__ == "__main__":
    main()
