"""What each candidate embedded store engine can do, beyond speed (issue 11): a yes/no table.

    python bench/store_facts.py [--engines litemongo,mongoeco,mongoeco-wire,...] [--py313 PATH]

Each check runs in a child process per engine (the interpreter that has it, as bench/store.py):
- durable: an acknowledged insert_one survives SIGKILL of the writing process (or of the wire
  server), found after reopening the same data directory;
- two_procs: a second process on the same data directory sees the first one's writes, and the
  first one sees the second's (for the wire server: two clients of one server process);
- txn_abort: `with client.start_session() as s, s.start_transaction():` over two collections,
  then an exception: neither write is left; txn_commit: both are there after a commit;
- unique_threads: 8 threads insert the same unique key: exactly one document, DuplicateKeyError;
- multikey / compound_sort: explain() of a query on an array field and of `pk` + sort;
- query operators, `find_one_and_update` / `replace_one` filtered on `vid` (optimistic
  concurrency), GridFS, mongoengine on top of the client.
A check prints yes, no, or what it raised.
"""

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import store  # noqa: E402  (bench/store.py: engines and interpreters)

ENGINES = ["mongomock", "litemongo", "montydb", "mongoeco", "mongoeco-wire"]


def client_of(db):
    return getattr(db, "_client", None) or db.client  # mongoeco's Database has no `client`


def check(results: dict, name: str, probe) -> None:
    try:
        value = probe()
        results[name] = "yes" if value is True else "no" if value is False else str(value)
    except Exception as exc:  # a fact: what the engine raised
        results[name] = f"raises {type(exc).__name__}: {str(exc)[:80]}"


def write_then_wait(engine: str, data: Path, args) -> None:
    """Writer child: insert one document, say so once acknowledged, then wait to be killed."""
    db, _, _ = store.open_engine(engine, data, args)
    db["durable"].insert_one({"_id": "acked", "n": 1})
    print(json.dumps({"server_pid": args.server_pid}), flush=True)
    threading.Event().wait(60)


def durable(engine: str, data: Path, args) -> bool:
    child = subprocess.Popen(
        [sys.executable, __file__, "--write-then-wait", engine, "--dir", str(data)]
        + (["--py313", args.py313] if args.py313 else []),
        stdout=subprocess.PIPE,
        text=True,
    )
    said = json.loads(child.stdout.readline())
    if said["server_pid"]:
        os.kill(said["server_pid"], signal.SIGKILL)
    child.kill()
    child.wait()
    db, _, close = store.open_engine(engine, data, args)
    found = db["durable"].find_one({"_id": "acked"}) is not None
    close()
    return found


def two_processes(engine: str, data: Path, args) -> bool:
    db, _, close = store.open_engine(engine, data, args)
    db["shared"].insert_one({"_id": "a"})
    db["shared"].count_documents({})  # builds any in-process cache before the other writes
    other = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import store, argparse\n"
        f"a = argparse.Namespace(py313={args.py313!r}, mongoeco_fix=True, server_pid=None)\n"
        f"db, _, close = store.open_engine({engine!r}, store.Path({str(data)!r}), a)\n"
        "seen = db['shared'].find_one({'_id': 'a'}) is not None\n"
        "db['shared'].insert_one({'_id': 'b'}); close(); print(seen)\n"
    )
    if engine == "mongoeco-wire":  # a second client of the same server process
        import pymongo

        uri = f"mongodb://{db.client.address[0]}:{db.client.address[1]}/?directConnection=true"
        second = pymongo.MongoClient(uri)
        seen = second["carnet"]["shared"].find_one({"_id": "a"}) is not None
        second["carnet"]["shared"].insert_one({"_id": "b"})
        second.close()
    else:
        python = store.py313(args) if engine in store.NEEDS_313 else sys.executable
        done = subprocess.run([python, "-c", other], capture_output=True, text=True, timeout=120)
        if done.returncode:
            close()
            return f"second process failed: {done.stderr.strip().splitlines()[-1][:80]}"
        seen = done.stdout.strip() == "True"
    back = db["shared"].find_one({"_id": "b"}) is not None
    close()
    return f"other sees: {seen}, sees other: {back}"


def transaction(db, commit: bool):
    client = client_of(db)
    db["t1"].delete_many({})
    db["t2"].delete_many({})
    try:
        with client.start_session() as session, session.start_transaction():
            db["t1"].insert_one({"_id": 1}, session=session)
            db["t2"].insert_one({"_id": 1}, session=session)
            if not commit:
                raise KeyError("abort")
    except KeyError:
        pass
    left = db["t1"].count_documents({}) + db["t2"].count_documents({})
    return left == (2 if commit else 0) or f"{left} of 2 writes left"


def unique_threads(db) -> object:
    coll = db["unique"]
    coll.create_index([("key", 1)], unique=True, name="key")
    errors = []

    def claim(n):
        try:
            coll.insert_one({"_id": f"t{n}", "key": "If-None-Exist:identifier=x"})
        except Exception as exc:
            errors.append(type(exc).__name__)

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    count = coll.count_documents({"key": "If-None-Exist:identifier=x"})
    return count == 1 or f"{count} documents; errors {sorted(set(errors))}"


def explain(cursor) -> str:
    plan = cursor.explain()
    details = plan.get("details", {}).get("engine_details")  # mongoeco: SQLite's query plan
    if details:
        return " | ".join(details)[:160]
    text = json.dumps(plan, default=str)
    return next((m for m in ("IXSCAN", "COLLSCAN") if m in text), text[:80])


def queries(db, results: dict) -> None:
    coll = db["q"]
    coll.insert_many(
        [
            {"_id": "a", "pk": "P/1", "vid": 1, "tk": ["x=1", "y=2"], "dt": [{"p": "d", "lo": 1}]},
            {"_id": "b", "pk": "P/1", "vid": 1, "tk": ["x=2"], "dt": [{"p": "d", "lo": 5}]},
        ]
    )
    coll.create_index([("tk", 1)], name="tk")
    coll.create_index([("pk", 1), ("_id", 1)], name="pk_id")
    check(results, "regex", lambda: coll.count_documents({"tk": {"$regex": "^x="}}) == 2)
    check(
        results,
        "elemMatch",
        lambda: coll.count_documents({"dt": {"$elemMatch": {"p": "d", "lo": {"$gte": 3}}}}) == 1,
    )
    check(
        results,
        "in_or",
        lambda: coll.count_documents({"$or": [{"tk": {"$in": ["y=2"]}}, {"_id": "b"}]}) == 2,
    )
    check(
        results,
        "update_many",
        lambda: coll.update_many({"pk": "P/1"}, {"$set": {"m": 1}}).modified_count == 2,
    )
    check(
        results,
        "vid_cas",
        lambda: (
            coll.find_one_and_update({"_id": "a", "vid": 1}, {"$set": {"vid": 2}}) is not None
            and coll.find_one_and_update({"_id": "a", "vid": 1}, {"$set": {"vid": 3}}) is None
            and coll.replace_one({"_id": "b", "vid": 9}, {"vid": 10}).matched_count == 0
        ),
    )
    check(results, "multikey", lambda: explain(coll.find({"tk": "x=1"})))
    check(results, "compound_sort", lambda: explain(coll.find({"pk": "P/1"}).sort("_id", -1)))


def gridfs_works(db, engine: str) -> bool:
    import gridfs

    vendored = {"mongomock": "mongomock", "litemongo": "litemongo._vendor.mongomock"}
    if engine in vendored:  # mongomock's own GridFS integration, as fhir_server.store.db does
        __import__(vendored[engine] + ".gridfs", fromlist=["x"]).enable_gridfs_integration()
    fs = gridfs.GridFS(db)
    file_id = fs.put(b"%PDF-1.4 " * 1000, filename="doc.pdf")
    return fs.get(file_id).read() == b"%PDF-1.4 " * 1000


def mongoengine_works(db, engine: str) -> object:
    import mongoengine

    if engine == "mongoeco-wire":
        mongoengine.connect(
            "carnet", host=f"mongodb://{db.client.address[0]}:{db.client.address[1]}"
        )
    else:
        client = client_of(db)
        mongoengine.connect("carnet", mongo_client_class=lambda *a, **k: client)

    class Account(mongoengine.Document):
        email = mongoengine.StringField(unique=True)

    Account(email="a@example.org").save()
    found = Account.objects(email="a@example.org").count() == 1
    try:
        Account(email="a@example.org").save()
        return "unique not enforced"
    except mongoengine.NotUniqueError:
        return found


def run_engine(engine: str, args) -> dict:
    results: dict = {"engine": engine}
    data = Path(tempfile.mkdtemp(prefix=f"carnet-facts-{engine}-"))
    if engine != "mongomock":
        check(results, "durable", lambda: durable(engine, data / "d", args))
        check(results, "two_procs", lambda: two_processes(engine, data / "m", args))
    db, description, close = store.open_engine(engine, data / "f", args)
    results["store"] = description
    check(results, "txn_commit", lambda: transaction(db, commit=True))
    check(results, "txn_abort", lambda: transaction(db, commit=False))
    check(results, "unique_threads", lambda: unique_threads(db))
    queries(db, results)
    check(results, "gridfs", lambda: gridfs_works(db, engine))
    check(results, "mongoengine", lambda: mongoengine_works(db, engine))
    close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engines", default=",".join(ENGINES))
    parser.add_argument("--py313", default=None)
    parser.add_argument("--child")
    parser.add_argument("--write-then-wait")
    parser.add_argument("--dir")
    args = parser.parse_args()
    args.mongoeco_fix, args.server_pid = True, None
    if args.write_then_wait:
        return write_then_wait(args.write_then_wait, Path(args.dir), args)
    if args.child:
        print("FACTS " + json.dumps(run_engine(args.child, args)), flush=True)
        return
    for engine in args.engines.split(","):
        why = store.available(engine, args)
        if why:
            print(f"{engine}: skipped ({why})")
            continue
        python = store.py313(args) if engine in store.NEEDS_313 else sys.executable
        extra = ["--py313", args.py313] if args.py313 else []
        done = subprocess.run(
            [python, __file__, "--child", engine, *extra],
            capture_output=True,
            text=True,
            timeout=900,
        )
        lines = [x for x in done.stdout.splitlines() if x.startswith("FACTS ")]
        if not lines:
            print(f"{engine}: failed\n{done.stderr[-1500:]}")
            continue
        for key, value in json.loads(lines[0][len("FACTS ") :]).items():
            print(f"{engine:<14} {key:<15} {value}")


if __name__ == "__main__":
    main()
