"""A data directory made by an earlier version opens on this one: the embedded engine's schema
changes are made when it opens the file (the index of a document's entries now leads with the
document, so a write changes one page of it instead of one per index)."""

import os
import sqlite3

import pytest

from fhir_server.store.embedded.engine import FILE_NAME, Engine

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("MONGODB_URI")), reason="the embedded store's own schema"
)

SPEC = {"key": [["name", 1]], "unique": False}


def _entry_indexes(path) -> set[str]:
    with sqlite3.connect(path) as conn:
        return {row[1] for row in conn.execute("PRAGMA index_list(entries)")}


def test_an_earlier_store_gets_the_new_entry_index_and_keeps_working(tmp_path):
    first = Engine(str(tmp_path))
    first.create_index("db.people", "name", SPEC)
    first.put("db.people", "s1", {"_id": "1", "name": "Dupont"})
    first.put("db.people", "s2", {"_id": "2", "name": "Durand"})
    # The earlier schema: entries found by (index, document), not (document, index).
    with first.write() as conn:
        conn.execute("DROP INDEX entries_of_doc")
        conn.execute("CREATE INDEX entries_doc ON entries (ixid, id)")
    assert "entries_doc" in _entry_indexes(tmp_path / FILE_NAME)

    again = Engine(str(tmp_path))
    found = _entry_indexes(tmp_path / FILE_NAME)
    assert "entries_of_doc" in found and "entries_doc" not in found
    again.put("db.people", "s1", {"_id": "1", "name": "Martin"})  # its old entry replaced
    again.delete("db.people", "s2")
    with sqlite3.connect(tmp_path / FILE_NAME) as conn:
        rows = conn.execute("SELECT id, k0 FROM entries ORDER BY id").fetchall()
        plan = conn.execute(
            "EXPLAIN QUERY PLAN DELETE FROM entries WHERE ixid IN (1, 2) AND id = 's1'"
        ).fetchall()
    assert [(id_key, key[1:]) for id_key, key in rows] == [("s1", "Martin")]
    assert "entries_of_doc" in str(plan)
