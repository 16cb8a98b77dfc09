"""What an audited read costs: a professional reads one document N times.

    python bench/audit.py [--reads 2000]

Builds the app in-process on the embedded store (a scratch data directory) or on MongoDB when
MONGODB_URI is set, seeds the consent tests' world (tests/consent/world.py), and times N reads of
one document by a colleague of the patient's care team through Flask's test client; each read
writes one AuditEvent (consent.audit). Prints ms per read and the documents each read adds to
the store (AuditEvent current and history collections). On the embedded store it also prints the
pages of write-ahead log one audited read, and one search of the patient's documents by the same
colleague, commit (the background checkpoint held back meanwhile): what each request's commit
writes and what the checkpoint later copies into the database file.

This is a script, not a test.
"""

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from carnet.app import build, create_app  # noqa: E402
from fhir_server.config import Settings  # noqa: E402
from fhir_server.store.indexes import current_name, history_name  # noqa: E402
from tests.conftest import FhirClient, issue_token  # noqa: E402
from tests.consent import world as w  # noqa: E402


def log_pages(data_dir: str, request, count: int) -> float:
    """Pages of write-ahead log `count` requests commit, per request (embedded store)."""
    from fhir_server.store.embedded.engine import open_engine

    engine = open_engine(data_dir)
    conn = engine.conn()
    engine.checkpointer.committed = lambda: None  # held back: the log keeps every page
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for _ in range(count):
            assert request().status_code == 200
        _, frames, _ = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    finally:
        del engine.checkpointer.committed
    return frames / count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reads", type=int, default=2000)
    args = parser.parse_args(argv)
    os.environ.setdefault("FHIR_SERVER_DATA_DIR", tempfile.mkdtemp(prefix="carnet-audit-"))
    settings = Settings.from_env(
        base_url="http://bench/fhir", mongodb_db=f"carnet_audit_{uuid.uuid4().hex[:8]}"
    )
    carnet = build(settings)
    app = create_app(settings, carnet)

    def client_for(scope, actor="system", **claims):
        return FhirClient(app.test_client(), issue_token(carnet, scope, actor, **claims))

    world = w.seed(client_for("system/*.cruds"), client_for)
    colleague = w.practitioner(client_for, "colleague", "alice", client_id="cabinet-soft")
    url = f"DocumentReference/{world.doc('alice', 'normal')}"
    db = carnet.store.db

    def stored() -> int:
        return sum(
            db[name("AuditEvent")].count_documents({}) for name in (current_name, history_name)
        )

    for _ in range(50):  # warm-up: caches, first-use imports
        assert colleague.get(url).status_code == 200
    before = stored()
    start = time.perf_counter()
    for _ in range(args.reads):
        assert colleague.get(url).status_code == 200
    elapsed = time.perf_counter() - start
    added = stored() - before
    engine = "MongoDB" if os.environ.get("MONGODB_URI") else "embedded store"
    print(f"{args.reads} audited reads on the {engine}: {1000 * elapsed / args.reads:.2f} ms/read")
    print(f"AuditEvent documents added per read (current + history): {added / args.reads:.2f}")
    if not os.environ.get("MONGODB_URI"):
        search = "DocumentReference?patient=Patient/alice&_count=20"
        for label, path in (("audited read", url), ("patient search", search)):
            pages = log_pages(settings.data_dir, lambda p=path: colleague.get(p), 100)
            print(f"write-ahead log pages per {label}: {pages:.1f} ({pages * 4:.0f} KiB)")
    if os.environ.get("MONGODB_URI"):
        db.client.drop_database(db.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
