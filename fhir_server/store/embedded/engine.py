"""The embedded store's storage engine: every collection and index in one SQLite database file.

https://www.sqlite.org/wal.html, https://www.sqlite.org/lang_transaction.html - documents are
BSON in one table, index entries in another (one B-tree for every declared index, its id first),
unique indexes enforced by a partial UNIQUE index. SQLite gives what the server needs of a
database: a committed transaction survives a crash of the process or the machine
(`synchronous=FULL`), several processes share the file (one writer at a time, readers never
blocked), and a unit of work spanning collections commits whole or not at all.

Connections are per process and per thread (opened after a fork, never inherited).

https://www.sqlite.org/wal.html#automatic_checkpoint - a commit appends to the write-ahead log
(and waits for its fsync); copying the log back into the database file (a checkpoint: the pages
written, the file fsynced) is done by a thread of this process, a moment after the commits
(`Checkpointer`), not by whichever commit crosses SQLite's threshold: that commit's request would
wait for the copy. A commit still checkpoints itself past `BACKSTOP_PAGES`, should the thread fall
behind; a checkpoint, wherever it runs, copies only what is already durable in the log.

A commit waits for the log's flush, except one holding nothing but a trail (`Engine.trail`: the
AuditEvents of a read or a search), which the checkpointer's next pass flushes instead.
"""

import atexit
import json
import os
import sqlite3
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import bson
from pymongo.errors import DuplicateKeyError

from fhir_server.store.embedded import keys
from fhir_server.store.embedded.planner import Lookup, plan, plan_order

FILE_NAME = "carnet.sqlite3"
MAX_KEYS = 6  # columns k0..k5 of the entries table
_KEY_COLUMNS = ", ".join(f"k{i}" for i in range(MAX_KEYS))
_PARAMS = 30000  # under SQLite's limit of bound parameters per statement
CHECKPOINT_DELAY = 0.5  # seconds between a commit and the background checkpoint that follows it
BACKSTOP_PAGES = 20000  # a commit checkpoints itself past this many pages of log (~80 MiB)
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
CREATE INDEX IF NOT EXISTS entries_of_doc ON entries (id, ixid);
DROP INDEX IF EXISTS entries_doc;
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
        self.checkpointer = Checkpointer(self)
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
            conn.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")  # see Checkpointer
            local.conn, local.pid, local.depth = conn, os.getpid(), 0
        return local.conn

    @property
    def in_write(self) -> bool:
        """Whether this thread is inside a write transaction (`write`) of this engine."""
        return bool(getattr(self._local, "depth", 0))

    @contextmanager
    def trail(self) -> Iterator[None]:
        """Writes of this thread that are a trail of what it did (the AuditEvents of a read): a
        transaction begun inside commits to the log before it returns, so it survives the death of
        the process, but does not wait for the disk's flush; the checkpointer's next pass, a
        moment later (`CHECKPOINT_DELAY`), flushes the log. A transaction begun outside (a
        write's, its AuditEvents included) waits for the flush, whatever is written inside."""
        local = self._local
        local.trail = getattr(local, "trail", 0) + 1
        try:
            yield
        finally:
            local.trail -= 1

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
        # https://www.sqlite.org/pragma.html#pragma_synchronous - in WAL mode, NORMAL commits
        # without syncing the log (which is synced before any checkpoint copies it); chosen
        # before the transaction begins, as SQLite allows no change inside one.
        later = bool(getattr(local, "trail", 0)) and self.synchronous == "FULL"
        if later:
            conn.execute("PRAGMA synchronous=NORMAL")
        try:
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
        finally:
            if later and not conn.in_transaction:
                conn.execute(f"PRAGMA synchronous={self.synchronous}")
        self.checkpointer.committed(flushed=not later)

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

    def insert(self, coll: str, id_key, body: bytes, doc: dict) -> None:
        """Insert one new document (`doc`, decoded from `body`) and its index entries."""
        with self.write() as conn:
            self._touch(conn, coll)
            try:
                conn.execute(
                    "INSERT INTO documents (coll, id, body) VALUES (?, ?, ?)", (coll, id_key, body)
                )
            except sqlite3.IntegrityError as exc:
                raise DuplicateKeyError(
                    f"E11000 duplicate key error collection: {coll} index: _id_", 11000
                ) from exc
            self._add_all_entries(conn, self.indexes(coll), id_key, doc)

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
        return (bson.decode(body) for body in self.scan_bodies(coll))

    def scan_bodies(self, coll: str) -> list[bytes]:
        rows = (
            self.conn()
            .execute("SELECT body FROM documents WHERE coll=? ORDER BY rowid", (coll,))
            .fetchall()
        )
        return [body for (body,) in rows]

    def candidates(self, coll: str, query: dict) -> Iterator[dict]:
        """The documents an index lookup finds for `query` (a superset of its matches)."""
        return (bson.decode(body) for body in self.candidate_bodies(coll, query))

    def candidate_bodies(self, coll: str, query: dict) -> list[bytes]:
        """The BSON of the documents an index lookup finds for `query`."""
        lookups = plan(query, self.indexes(coll))
        if lookups is None:
            return self.scan_bodies(coll)
        union, params = _union_sql(lookups)
        if len(params) > _PARAMS:
            return self.scan_bodies(coll)
        rows = (
            self.conn()
            .execute(
                f"SELECT body FROM documents WHERE coll=? AND id IN ({union}) ORDER BY rowid",
                (coll, *params),
            )
            .fetchall()
        )
        return [body for (body,) in rows]

    def ordered_bodies(self, coll: str, query: dict, sort: list) -> Iterator[bytes] | None:
        """The BSON of the candidates of `query` in `sort` order, or None when the engine cannot
        give that order (then they are sorted in memory).

        Served: a sort on `_id` alone. By an index of equality fields then `_id` (`pk_id` for one
        record), read in batches so that a reader wanting a few stops early, when no other index
        narrows the query more; else the narrowest index's candidates are ordered by SQLite on
        the documents' key; with no index at all, the documents are read in key order. An `_id`
        is never an array nor missing; its keys sort as MongoDB sorts values of one type (text
        keys of one type tag), which is checked on the keys read.
        """
        if len(sort) != 1 or sort[0][0] != "_id":
            return None
        descending = sort[0][1] < 0
        direction = "DESC" if descending else "ASC"
        indexes = self.indexes(coll)
        order = plan_order(query, indexes, "_id")
        lookups = plan(query, indexes)
        if lookups is not None and (order is None or _narrower(lookups, order)):
            union, params = _union_sql(lookups)
            if len(params) > _PARAMS:
                return None
            rows = (
                self.conn()
                .execute(
                    f"SELECT id, body FROM documents WHERE coll=? AND id IN "
                    f"({union}) ORDER BY id {direction}",
                    (coll, *params),
                )
                .fetchall()
            )
            if rows and not _one_kind(rows[0][0], rows[-1][0]):
                return None
            return (body for _, body in rows)
        if order is None:
            where, params, column, table = "coll = ?", [coll], "id", "documents"
        else:
            sql, params = _lookup_sql(order)
            where = sql.split(" WHERE ", 1)[1]
            column, table = f"k{len(order.columns)}", "entries"
        ends = (
            self.conn()
            .execute(f"SELECT MIN({column}), MAX({column}) FROM {table} WHERE {where}", params)
            .fetchone()
        )
        if ends[0] is None:
            return iter(())
        if not _one_kind(*ends):
            return None
        if table == "documents":
            select = f"SELECT {column}, body FROM documents WHERE {where}"
        else:
            select = (
                f"SELECT {column}, d.body FROM entries "
                f"JOIN documents d ON d.coll = ? AND d.id = entries.id WHERE {where}"
            )
            params = [coll, *params]
        after = f" AND {column} {'<' if descending else '>'} ?"
        tail = f" ORDER BY {column} {direction} LIMIT ?"
        return self._batches(select, after, tail, params)

    def _batches(self, select: str, after: str, tail: str, params: list) -> Iterator[bytes]:
        """Rows of `select` in order, a batch at a time (each read whole: no statement is left
        open while the caller works), each batch after the last key of the one before."""
        rows = self.conn().execute(select + tail, (*params, 32)).fetchall()
        size = 32
        while rows:
            for _, body in rows:
                yield body
            if len(rows) < size:
                return
            size = min(size * 4, 4096)
            rows = self.conn().execute(select + after + tail, (*params, rows[-1][0], size))
            rows = rows.fetchall()


class Checkpointer:
    """Copies the write-ahead log back into the database file on a thread of its own, a moment
    after commits (one pass for all the commits of that moment), so that no request waits for it.

    A passive checkpoint: it copies what no reader still needs and never blocks a reader or a
    writer. The thread is this process's (started again after a fork) and stops when the engine
    is gone. Whatever it has not copied yet is in the log, which every connection reads and a
    restart replays: durability is the commit's fsync, not the checkpoint's.
    """

    def __init__(self, engine: "Engine"):
        self._engine = weakref.ref(engine)
        self._pending = threading.Event()
        self._pid: int | None = None
        self._lock = threading.Lock()
        self._unflushed = False

    def committed(self, flushed: bool = True) -> None:
        """A commit of this process went to the log: a checkpoint is due (and, if the commit did
        not wait for the disk, a flush of the log)."""
        if self._pid != os.getpid():
            self._start()
        if not flushed:
            self._unflushed = True
        self._pending.set()

    def _start(self) -> None:
        with self._lock:
            if self._pid == os.getpid():
                return
            self._pending = threading.Event()
            self._pid = os.getpid()
            thread = threading.Thread(
                target=_checkpoints, args=(self._engine, self._pending), daemon=True
            )
            thread.name = "carnet-checkpointer"
            thread.start()
            atexit.register(self._at_exit)  # a process that ends normally leaves no trail unflushed

    def _at_exit(self) -> None:
        if self._pid == os.getpid():
            self.flush_if_due()

    def run_once(self, conn: sqlite3.Connection) -> None:
        self.flush_if_due()
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def flush_if_due(self) -> None:
        """Flush the log if a commit of this process did not wait for its flush."""
        if not self._unflushed:
            return
        self._unflushed = False  # a commit after this line asks for the next pass
        try:
            self.flush_log()
        except OSError:
            self._unflushed = True  # the next pass tries again
            raise

    def flush_log(self) -> None:
        """Waits until the disk holds the whole log: every commit made so far by any process."""
        engine = self._engine()
        if engine is None:
            return
        try:
            fd = os.open(engine.path + "-wal", os.O_RDONLY)
        except FileNotFoundError:
            return  # no log: the last connection copied it into the database file and synced it
        try:
            os.fdatasync(fd)
        finally:
            os.close(fd)


def _checkpoints(engine_ref, pending: threading.Event) -> None:
    """The checkpointer's loop: wait for a commit, let the moment's other commits come, copy.
    Each pass opens its own connection and closes it (an idle thread holds no file open), one
    that never creates the file (a data directory removed meanwhile stays removed); the thread
    ends once its engine is gone."""
    while True:
        if not pending.wait(timeout=5):
            if engine_ref() is None:
                return
            continue
        time.sleep(CHECKPOINT_DELAY)
        pending.clear()
        engine = engine_ref()
        if engine is None:
            return
        try:
            conn = sqlite3.connect(Path(engine.path).as_uri() + "?mode=rw", uri=True)
            try:
                conn.execute(f"PRAGMA synchronous={engine.synchronous}")
                engine.checkpointer.run_once(conn)
            finally:
                conn.close()
        except (sqlite3.Error, OSError):
            pass  # busy or gone: the next commit asks again, and the backstop stays
        del engine


def _one_kind(low, high) -> bool:
    """Whether every key from `low` to `high` is text of one type tag (strings or ObjectIds),
    which SQLite orders as MongoDB orders their values."""
    return (
        isinstance(low, str)
        and isinstance(high, str)
        and low[:1] in ("s", "o")
        and low[:1] == high[:1]
    )


def _score(lookup: Lookup) -> int:
    return sum(2 if condition.keys is not None else 1 for condition in lookup.columns)


def _narrower(lookups: list[Lookup], order: Lookup) -> bool:
    """Whether the planner's lookups narrow more than the ordering index's equality prefix."""
    return len(lookups) > 1 or lookups[0].index is None or _score(lookups[0]) > _score(order)


def _union_sql(lookups: list[Lookup]) -> tuple[str, list]:
    """One SELECT of the document ids the lookups find together (their UNION), and its args."""
    clauses, params = [], []
    for lookup in lookups:
        sql, args = _lookup_sql(lookup)
        clauses.append(sql)
        params.extend(args)
    return " UNION ".join(clauses), params


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
