"""The embedded store's storage engine: every collection and index in one SQLite database file.

https://www.sqlite.org/wal.html, https://www.sqlite.org/lang_transaction.html - documents are
BSON in one table, index entries in another (one B-tree for every declared index, its id first),
unique indexes enforced by a partial UNIQUE index. SQLite gives what the server needs of a
database: a committed transaction survives a crash of the process or the machine
(`synchronous=FULL`), several processes share the file (one writer at a time, readers never
blocked), and a unit of work spanning collections commits whole or not at all.

Connections are per process and per thread (opened after a fork, never inherited).
"""

import json
import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import bson
from pymongo.errors import DuplicateKeyError

from fhir_server.store.embedded import keys
from fhir_server.store.embedded.planner import Lookup, plan

FILE_NAME = "carnet.sqlite3"
MAX_KEYS = 6  # columns k0..k5 of the entries table
_KEY_COLUMNS = ", ".join(f"k{i}" for i in range(MAX_KEYS))
_PARAMS = 30000  # under SQLite's limit of bound parameters per statement
_INSERT_ENTRY = f"INSERT INTO entries (ixid, {_KEY_COLUMNS}, id, uniq) VALUES (?, {', '.join('?' * MAX_KEYS)}, ?, ?)"

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS documents (
    coll TEXT NOT NULL, id NOT NULL, body BLOB NOT NULL, UNIQUE (coll, id));
CREATE TABLE IF NOT EXISTS collections (coll TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS indexes (
    ixid INTEGER PRIMARY KEY, coll TEXT NOT NULL, name TEXT NOT NULL, spec TEXT NOT NULL,
    UNIQUE (coll, name));
CREATE TABLE IF NOT EXISTS entries (ixid INTEGER NOT NULL, {_KEY_COLUMNS}, id NOT NULL,
    uniq INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS entries_keys ON entries (ixid, {_KEY_COLUMNS});
CREATE INDEX IF NOT EXISTS entries_doc ON entries (ixid, id);
CREATE UNIQUE INDEX IF NOT EXISTS entries_unique ON entries (ixid, {_KEY_COLUMNS}) WHERE uniq = 1;
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value);
INSERT OR IGNORE INTO meta VALUES ('index_generation', 0);
"""


@dataclass(frozen=True)
class IndexDef:
    ixid: int
    name: str
    fields: list[str]
    spec: dict  # mongomock's index description: key, unique, sparse

    @property
    def unique(self) -> bool:
        return bool(self.spec.get("unique"))


class Engine:
    """One SQLite database under a data directory, shared by every client of this process."""

    def __init__(self, directory: str, synchronous: str = "FULL"):
        os.makedirs(directory, exist_ok=True)
        self.path = os.path.join(os.path.abspath(directory), FILE_NAME)
        self.synchronous = synchronous
        self._local = threading.local()
        self._indexes: dict[str, list[IndexDef]] = {}
        self._generation = -1
        self._lock = threading.Lock()
        self.conn().executescript(SCHEMA)

    # -- connections and transactions --------------------------------------------------------

    def conn(self) -> sqlite3.Connection:
        local = self._local
        if getattr(local, "pid", None) != os.getpid():
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self.synchronous}")
            conn.execute("PRAGMA busy_timeout=60000")
            conn.execute("PRAGMA cache_size=-8192")  # 8 MiB of pages at most, per connection
            local.conn, local.pid, local.depth = conn, os.getpid(), 0
        return local.conn

    @property
    def in_write(self) -> bool:
        """Whether this thread is inside a write transaction (`write`) of this engine."""
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (taking the file's write lock at once), or a savepoint inside one."""
        conn = self.conn()
        local = self._local
        if local.depth:
            name = f"sp{local.depth}"
            conn.execute(f"SAVEPOINT {name}")
            local.depth += 1
            try:
                yield conn
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            finally:
                local.depth -= 1
            conn.execute(f"RELEASE {name}")
            return
        conn.execute("BEGIN IMMEDIATE")
        local.depth = 1
        try:
            yield conn
        except BaseException:
            local.depth = 0
            conn.execute("ROLLBACK")
            raise
        local.depth = 0
        conn.execute("COMMIT")

    # -- index definitions --------------------------------------------------------------------

    def indexes(self, coll: str) -> list[IndexDef]:
        """The declared indexes of a collection, reloaded when any process changed them."""
        generation = self._current_generation(self.conn())
        if generation != self._generation:
            loaded: dict[str, list[IndexDef]] = {}
            rows = self.conn().execute("SELECT ixid, coll, name, spec FROM indexes ORDER BY ixid")
            for ixid, owner, name, spec in rows:
                spec = json.loads(spec)
                spec["key"] = [tuple(key) for key in spec["key"]]  # as mongomock writes it
                fields = [f for f, _ in spec["key"]]
                loaded.setdefault(owner, []).append(IndexDef(ixid, name, fields, spec))
            with self._lock:
                self._indexes, self._generation = loaded, generation
        return self._indexes.get(coll, [])

    def create_index(self, coll: str, name: str, spec: dict) -> None:
        spec = json.loads(json.dumps(spec, default=list))
        if len(spec["key"]) > MAX_KEYS:
            raise ValueError(f"an index of the embedded store has at most {MAX_KEYS} keys")
        if self._declared(self.conn(), coll, name) == spec:
            return  # already there: no write lock taken (every worker declares at start)
        with self.write() as conn:
            found = self._declared(conn, coll, name)
            if found == spec:
                return
            if found is not None:
                self.drop_index(coll, name)
            cursor = conn.execute(
                "INSERT INTO indexes (coll, name, spec) VALUES (?, ?, ?)",
                (coll, name, json.dumps(spec)),
            )
            self._touch(conn, coll)
            spec["key"] = [tuple(key) for key in spec["key"]]
            index = IndexDef(cursor.lastrowid, name, [f for f, _ in spec["key"]], spec)
            for id_key, body in conn.execute(
                "SELECT id, body FROM documents WHERE coll=?", (coll,)
            ).fetchall():
                self._add_entries(conn, index, id_key, bson.decode(body))
            known = self._generation == self._current_generation(conn)
            self._bump(conn)
            if known:  # this process knew every index: add this one rather than reload them all
                with self._lock:
                    self._indexes.setdefault(coll, []).append(index)
                    self._generation += 1

    def _declared(self, conn, coll: str, name: str) -> dict | None:
        found = conn.execute(
            "SELECT spec FROM indexes WHERE coll=? AND name=?", (coll, name)
        ).fetchone()
        return json.loads(found[0]) if found else None

    def _current_generation(self, conn) -> int:
        return conn.execute("SELECT value FROM meta WHERE key='index_generation'").fetchone()[0]

    def drop_index(self, coll: str, name: str) -> None:
        with self.write() as conn:
            found = conn.execute(
                "SELECT ixid FROM indexes WHERE coll=? AND name=?", (coll, name)
            ).fetchone()
            if found is None:
                raise KeyError(name)
            conn.execute("DELETE FROM entries WHERE ixid=?", found)
            conn.execute("DELETE FROM indexes WHERE ixid=?", found)
            self._bump(conn)

    def _bump(self, conn) -> None:
        conn.execute("UPDATE meta SET value = value + 1 WHERE key='index_generation'")

    # -- collections --------------------------------------------------------------------------

    def collections(self, database: str) -> list[str]:
        rows = self.conn().execute(
            "SELECT coll FROM collections WHERE coll >= ? AND coll < ? ORDER BY coll",
            (database + ".", database + "/"),
        )
        return [coll.removeprefix(database + ".") for (coll,) in rows]

    def create_collection(self, coll: str) -> None:
        with self.write() as conn:
            self._touch(conn, coll)

    def has_collection(self, coll: str) -> bool:
        row = self.conn().execute("SELECT 1 FROM collections WHERE coll=?", (coll,)).fetchone()
        return row is not None

    def drop_collection(self, coll: str) -> None:
        with self.write() as conn:
            for index in self.indexes(coll):
                conn.execute("DELETE FROM entries WHERE ixid=?", (index.ixid,))
            conn.execute("DELETE FROM indexes WHERE coll=?", (coll,))
            conn.execute("DELETE FROM documents WHERE coll=?", (coll,))
            conn.execute("DELETE FROM collections WHERE coll=?", (coll,))
            self._bump(conn)

    def _touch(self, conn, coll: str) -> None:
        conn.execute("INSERT OR IGNORE INTO collections VALUES (?)", (coll,))

    # -- documents ----------------------------------------------------------------------------

    def get(self, coll: str, id_key) -> dict | None:
        row = (
            self.conn()
            .execute("SELECT body FROM documents WHERE coll=? AND id=?", (coll, id_key))
            .fetchone()
        )
        return bson.decode(row[0]) if row else None

    def count(self, coll: str) -> int:
        return (
            self.conn()
            .execute("SELECT COUNT(*) FROM documents WHERE coll=?", (coll,))
            .fetchone()[0]
        )

    def put(self, coll: str, id_key, doc: dict) -> None:
        """Insert or replace one document and its index entries (a few statements, whatever the
        number of indexes: the entries of all of them are written together)."""
        body = bson.encode(doc)
        with self.write() as conn:
            self._touch(conn, coll)
            indexes = self.indexes(coll)
            try:
                conn.execute(
                    "INSERT INTO documents (coll, id, body) VALUES (?, ?, ?)", (coll, id_key, body)
                )
            except sqlite3.IntegrityError:  # already there: replaced, its old entries removed
                conn.execute(
                    "UPDATE documents SET body = ? WHERE coll = ? AND id = ?", (body, coll, id_key)
                )
                if indexes:
                    marks = ", ".join("?" * len(indexes))
                    conn.execute(
                        f"DELETE FROM entries WHERE ixid IN ({marks}) AND id = ?",
                        (*(index.ixid for index in indexes), id_key),
                    )
            self._add_all_entries(conn, indexes, id_key, doc)

    def delete(self, coll: str, id_key) -> None:
        with self.write() as conn:
            conn.execute("DELETE FROM documents WHERE coll=? AND id=?", (coll, id_key))
            indexes = self.indexes(coll)
            if indexes:
                marks = ", ".join("?" * len(indexes))
                conn.execute(
                    f"DELETE FROM entries WHERE ixid IN ({marks}) AND id = ?",
                    (*(index.ixid for index in indexes), id_key),
                )

    def _add_all_entries(self, conn, indexes: list[IndexDef], id_key, doc: dict) -> None:
        """The entries of every index: the non-unique ones in one statement, then each unique
        one on its own (so a duplicate names its index)."""
        rows = []
        for index in indexes:
            if index.unique:
                self._add_entries(conn, index, id_key, doc)
            else:
                rows.extend(self._entry_rows(index, id_key, doc))
        if rows:
            conn.executemany(_INSERT_ENTRY, rows)

    def _add_entries(self, conn, index: IndexDef, id_key, doc: dict) -> None:
        try:
            conn.executemany(_INSERT_ENTRY, self._entry_rows(index, id_key, doc))
        except sqlite3.IntegrityError as exc:
            raise DuplicateKeyError(
                f"E11000 duplicate key error collection: index: {index.name}", 11000
            ) from exc

    @staticmethod
    def _entry_rows(index: IndexDef, id_key, doc: dict) -> list[tuple]:
        rows = keys.entry_keys(doc, index.fields)
        if index.spec.get("sparse") and all(all(k == keys.NULL for k in row) for row in rows):
            return []
        pad = (0,) * (MAX_KEYS - len(index.fields))
        return [(index.ixid, *row, *pad, id_key, int(index.unique)) for row in rows]

    def scan(self, coll: str) -> Iterator[dict]:
        rows = (
            self.conn()
            .execute("SELECT body FROM documents WHERE coll=? ORDER BY rowid", (coll,))
            .fetchall()
        )
        return (bson.decode(body) for (body,) in rows)

    def candidates(self, coll: str, query: dict) -> Iterator[dict]:
        """The documents an index lookup finds for `query` (a superset of its matches)."""
        lookups = plan(query, self.indexes(coll))
        if lookups is None:
            return self.scan(coll)
        clauses, params = [], []
        for lookup in lookups:
            sql, args = _lookup_sql(lookup)
            clauses.append(sql)
            params.extend(args)
        if len(params) > _PARAMS:
            return self.scan(coll)
        rows = (
            self.conn()
            .execute(
                f"SELECT body FROM documents WHERE coll=? AND id IN ({' UNION '.join(clauses)}) "
                "ORDER BY rowid",
                (coll, *params),
            )
            .fetchall()
        )
        return (bson.decode(body) for (body,) in rows)


def _lookup_sql(lookup: Lookup) -> tuple[str, list]:
    if any(condition.keys == [] for condition in lookup.columns):
        return "SELECT NULL WHERE 0", []  # `$in: []` matches nothing
    if lookup.index is None:
        condition = lookup.columns[0]
        return f"VALUES {', '.join(['(?)'] * len(condition.keys))}", list(condition.keys)
    where, params = ["ixid = ?"], [lookup.index.ixid]
    for i, condition in enumerate(lookup.columns):
        column = f"k{i}"
        if condition.keys is not None:
            where.append(f"{column} IN ({', '.join('?' * len(condition.keys))})")
            params.extend(condition.keys)
        else:
            where.append(f"{column} >= ?")
            where.append(f"{column} {'<' if condition.high_open else '<='} ?")
            params.extend((condition.low, condition.high))
    return f"SELECT id FROM entries WHERE {' AND '.join(where)}", params


_engines: "weakref.WeakValueDictionary[str, Engine]" = weakref.WeakValueDictionary()
_engines_lock = threading.Lock()


def open_engine(directory: str) -> Engine:
    """The process's engine for a data directory (one per directory, shared by all clients)."""
    path = os.path.abspath(directory)
    with _engines_lock:
        engine = _engines.get(path)
        if engine is None:
            engine = _engines[path] = Engine(path)
        return engine
