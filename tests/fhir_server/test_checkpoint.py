"""The embedded store's write-ahead log is copied back into the database file by a thread of the
server a moment after the commits, not by the commit of whichever request crosses SQLite's
threshold (that request would wait for the copy and its fsync: issue 11's search tail)."""

import os
import shutil
import sqlite3
import time

import pytest

from fhir_server.store.embedded.engine import FILE_NAME

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("MONGODB_URI")), reason="the embedded store's own log"
)


def in_database_file(data_dir, tmp_path, resource_id: str) -> bool:
    """Whether the resource is in the database file itself (a copy of the file without its log)."""
    copy = tmp_path / "file-alone.sqlite3"
    shutil.copy(data_dir / FILE_NAME, copy)
    with sqlite3.connect(copy) as conn:
        row = conn.execute(
            "SELECT 1 FROM documents WHERE coll LIKE '%.Patient' AND id = ?", ("s" + resource_id,)
        ).fetchone()
    copy.unlink()
    return row is not None


def test_what_a_request_commits_reaches_the_database_file_with_no_other_commit(
    fhir, data_dir, tmp_path
):
    created = fhir.create({"resourceType": "Patient", "name": [{"family": "Checkpointed"}]})
    assert fhir.get(f"Patient/{created['id']}").status_code == 200  # in the log at once
    deadline = time.monotonic() + 15
    while not in_database_file(data_dir, tmp_path, created["id"]):
        assert time.monotonic() < deadline, "the log was never copied into the database file"
        time.sleep(0.1)
