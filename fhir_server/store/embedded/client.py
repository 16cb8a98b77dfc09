"""A pymongo-compatible client over the embedded engine: MongoDB's query language, SQLite's storage.

The query language (filters, updates, projections, sorts, cursors, GridFS, what mongoengine
calls) is mongomock's; where mongomock keeps documents in a dict, this client keeps them in
`engine.Engine` and reads them through its indexes. Each write runs in a SQLite transaction (the
read-modify-write of an update included), and `start_session().start_transaction()` makes one
transaction of many writes across collections, as on a MongoDB replica set.
"""

import functools
import itertools
import threading
from collections.abc import Mapping
from contextlib import contextmanager

import bson
import bson.errors
import mongomock
from mongomock import helpers
from mongomock.collection import Collection as MockCollection
from mongomock.collection import Cursor as MockCursor
from mongomock.database import Database as MockDatabase
from mongomock.filtering import filter_applies

from fhir_server.store.embedded import keys
from fhir_server.store.embedded.engine import Engine, open_engine


def _key(object_id):
    if isinstance(object_id, Mapping):
        return keys.encode(dict(object_id))
    key = keys.encode(object_id)
    if key is None:
        raise ValueError(f"an _id of type {type(object_id).__name__} is not supported")
    return key


class CollectionStore:
    """One collection's documents and indexes, in the engine (mongomock's CollectionStore API)."""

    def __init__(self, engine: Engine, qualified: str, name: str):
        self.engine = engine
        self.coll = qualified
        self.name = name
        self.tracked = threading.local()

    # what mongomock.Collection reads
    @property
    def is_created(self) -> bool:
        return self.engine.has_collection(self.coll)

    @property
    def is_empty(self) -> bool:
        return self.engine.count(self.coll) == 0

    def create(self) -> None:
        self.engine.create_collection(self.coll)

    def drop(self) -> None:
        self.engine.drop_collection(self.coll)

    @property
    def indexes(self) -> dict:
        return {index.name: index.spec for index in self.engine.indexes(self.coll)}

    @indexes.setter
    def indexes(self, value: dict) -> None:  # mongomock's drop_indexes() sets {}
        for name in self.indexes:
            if name not in value:
                self.engine.drop_index(self.coll, name)

    def create_index(self, name: str, spec: dict) -> None:
        self.engine.create_index(self.coll, name, spec)

    def drop_index(self, name: str) -> None:
        self.engine.drop_index(self.coll, name)

    def __contains__(self, object_id) -> bool:
        return self.engine.get(self.coll, _key(object_id)) is not None

    def __getitem__(self, object_id) -> dict:
        doc = self.engine.get(self.coll, _key(object_id))
        if doc is None:
            raise KeyError(object_id)
        return doc

    def __setitem__(self, object_id, doc: dict) -> None:
        self.engine.put(self.coll, _key(object_id), doc)

    def __delitem__(self, object_id) -> None:
        self.engine.delete(self.coll, _key(object_id))

    def __len__(self) -> int:
        return self.engine.count(self.coll)

    @property
    def documents(self):
        return self.engine.scan(self.coll)

    def ordered(self, query: dict, sort: list):
        """The documents matching `query` in `sort` order, read in that order from an index (so
        a reader of the first few stops early), or None when no index gives that order."""
        bodies = self.engine.ordered_bodies(self.coll, query, sort)
        if bodies is None:
            return None
        return self._matches(bodies, query)

    def matching(self, query: dict):
        """The documents matching `query`; while an update runs, each is kept to be written back."""
        return self._matches(self.engine.candidate_bodies(self.coll, query), query)

    def _matches(self, bodies, query: dict):
        tracked = getattr(self.tracked, "docs", None)
        for body in bodies:
            doc = Read(bson.decode(body))
            if filter_applies(query, doc):
                if tracked is not None:
                    tracked.append((body, doc))
                doc.body = body
                yield doc


class Read(dict):
    """A document as read from the engine (its datetimes naive UTC, as mongomock's matcher wants
    them), with the BSON it was decoded from: a whole one is returned by decoding that again with
    timezone-aware datetimes, in C, rather than by walking it in Python."""

    body: bytes | None = None


_AWARE = bson.CodecOptions(tz_aware=True)


def _aware(doc):
    if type(doc) is Read and doc.body is not None:
        return bson.decode(doc.body, codec_options=_AWARE)
    return helpers.make_datetime_timezone_aware_in_document(doc)


class DatabaseStore:
    def __init__(self, engine: Engine, name: str):
        self.engine = engine
        self.name = name
        self._stores: dict[str, CollectionStore] = {}

    def __getitem__(self, coll: str) -> CollectionStore:
        store = self._stores.get(coll)
        if store is None:
            store = self._stores[coll] = CollectionStore(self.engine, f"{self.name}.{coll}", coll)
        return store

    def __contains__(self, coll: str) -> bool:
        return self.engine.has_collection(f"{self.name}.{coll}")

    @property
    def _collections(self) -> dict:
        return {name: self[name] for name in self.list_created_collection_names()}

    def list_created_collection_names(self) -> list[str]:
        return self.engine.collections(self.name)

    def create_collection(self, name: str) -> CollectionStore:
        store = self[name]
        store.create()
        return store

    def rename(self, name: str, new_name: str) -> None:
        raise NotImplementedError("renaming a collection is not supported by the embedded store")

    @property
    def is_created(self) -> bool:
        return bool(self.list_created_collection_names())


class ServerStore:
    def __init__(self, engine: Engine):
        self.engine = engine
        self._databases: dict[str, DatabaseStore] = {}

    def __getitem__(self, name: str) -> DatabaseStore:
        if name not in self._databases:
            self._databases[name] = DatabaseStore(self.engine, name)
        return self._databases[name]

    def __contains__(self, name: str) -> bool:
        return self[name].is_created

    def list_created_database_names(self) -> list[str]:
        names = self.engine.conn().execute("SELECT coll FROM collections").fetchall()
        return sorted({coll.split(".", 1)[0] for (coll,) in names})


def _no_session(method):
    """Accept pymongo's `session=`: the engine's transaction is the calling thread's."""

    @functools.wraps(method)
    def call(self, *args, session=None, **kwargs):
        return method(self, *args, **kwargs)

    return call


def _writing(method):
    """Run a write in one transaction, so its read-modify-write cannot interleave with another."""

    @functools.wraps(method)
    def call(self, *args, **kwargs):
        with self._store.engine.write():
            return method(self, *args, **kwargs)

    return call


def _same_kind(self, other):
    """mongomock's with_options() builds its own classes: keep this module's."""
    if other is self or type(other) is type(self):
        return other
    mine = type(self).__new__(type(self))
    mine.__dict__.update(other.__dict__)
    return mine


class Cursor(MockCursor):
    """mongomock's cursor, but with a limit only the documents it returns are copied out.

    mongomock copies every document a query matches before it applies the limit; a patient's
    search for the newest 20 of 100 documents would copy 100. The matcher still checks every
    candidate, and the sort still sees every match: only the copying stops at skip + limit.
    """

    _computed_for = None

    def _compute_results(self, with_limit_and_skip=False):
        wanted = None
        if with_limit_and_skip and self._limit:
            wanted = self._skip + abs(self._limit)
        complete = (self._factory, None)
        if self._results is None or self._computed_for not in ((self._factory, wanted), complete):
            docs = itertools.islice(self._factory(), wanted)
            if self.collection.codec_options.tz_aware:
                docs = map(_aware, docs)
            self._results = list(docs)
            self._computed_for = (self._factory, wanted)
            self._factory_last_generated_results = self._factory
        results = self._results
        if with_limit_and_skip:
            results = results[self._skip :]
            if self._limit:
                results = results[: abs(self._limit)]
        return results


class Collection(MockCollection):
    @property
    def _store(self) -> CollectionStore:
        return self._db_store[self._name]

    def find(self, *args, session=None, **kwargs):
        cursor = MockCollection.find(self, *args, **kwargs)
        cursor.__class__ = Cursor
        return cursor

    def find_one(self, filter=None, *args, **kwargs):
        """The first match, as pymongo finds it (a limit of one: no other match is copied)."""
        if filter is not None and not isinstance(filter, Mapping):
            filter = {"_id": filter}
        for doc in self.find(filter, *args, **kwargs).limit(-1):
            return doc
        return None

    def count_documents(self, filter, *, session=None, limit=0, skip=0, **kwargs):
        """mongomock's count, but one with a limit stops reading at skip + limit matches."""
        if not limit:
            return MockCollection.count_documents(self, filter, skip=skip, **kwargs)
        spec = helpers.patch_datetime_awareness_in_document(filter)
        found = sum(1 for _ in itertools.islice(self._iter_documents(spec), skip + limit))
        return max(found - skip, 0)

    def _copy_only_fields(self, doc, fields, container):
        """The whole document needs no copy: each one read is decoded afresh from the engine."""
        if fields is None and container is dict and type(doc) in (dict, Read):
            return doc
        return MockCollection._copy_only_fields(self, doc, fields, container)

    def with_options(self, *args, **kwargs):
        return _same_kind(self, MockCollection.with_options(self, *args, **kwargs))

    def _get_dataset(self, spec, sort, fields, as_class):
        """mongomock's, but a sort an index gives is read in its order, not sorted in memory."""
        if (
            sort
            and not isinstance(sort, dict)
            and getattr(self._store.tracked, "docs", None) is None
        ):
            ordered = self._store.ordered(spec, list(sort))
            if ordered is not None:
                filter_applies(spec, {})  # still refuse a malformed filter
                return (self._copy_only_fields(doc, fields, as_class) for doc in ordered)
        return MockCollection._get_dataset(self, spec, sort, fields, as_class)

    def _iter_documents(self, filter):
        docs = self._store.matching(filter)
        first = next(docs, None)
        if first is None:
            filter_applies(filter, {})  # still refuse a malformed filter
            return iter(())
        return _chain(first, docs)

    def _ensure_uniques(self, new_data):
        """Unique indexes are the engine's (a UNIQUE constraint): nothing to scan here."""

    @_writing
    def _insert(self, data, session=None, ordered=True):
        """One document with its `_id`, straight to BSON and the engine; mongomock's path (which
        walks the document twice in Python: its datetimes, its keys) for the rest."""
        if type(data) is not dict or "_id" not in data or isinstance(data["_id"], Mapping):
            return MockCollection._insert(self, data, session, ordered)
        for key in data:
            if not isinstance(key, str) or key.startswith("$"):
                raise bson.errors.InvalidDocument(f"a top-level field name {key!r} is not allowed")
        body = bson.encode(data)  # aware datetimes to UTC, as MongoDB stores them
        self._store.engine.insert(self._store.coll, _key(data["_id"]), body, bson.decode(body))
        return data["_id"]

    _delete = _writing(MockCollection._delete)
    _find_and_modify = _writing(MockCollection._find_and_modify)

    @_writing
    def _update(self, spec, document, *args, **kwargs):
        tracked = self._store.tracked
        tracked.docs = []
        try:
            result = MockCollection._update(self, spec, document, *args, **kwargs)
            changed = [doc for before, doc in tracked.docs if bson.encode(doc) != before]
        finally:
            tracked.docs = None
        for doc in changed:
            self._store[doc["_id"]] = doc
        return result


for _name in (
    "insert_one",
    "insert_many",
    "update_one",
    "update_many",
    "replace_one",
    "delete_one",
    "delete_many",
    "estimated_document_count",
    "find_one_and_update",
    "find_one_and_replace",
    "find_one_and_delete",
    "create_index",
    "create_indexes",
    "drop_index",
    "drop_indexes",
    "index_information",
    "list_indexes",
    "distinct",
    "aggregate",
    "drop",
):
    setattr(Collection, _name, _no_session(getattr(MockCollection, _name)))


def _chain(first, rest):
    yield first
    yield from rest


class Database(MockDatabase):
    def get_collection(self, name, codec_options=None, read_preference=None, **kwargs):
        try:
            return self._collection_accesses[name]
        except KeyError:
            self._ensure_valid_collection_name(name)
            collection = self._collection_accesses[name] = Collection(
                self,
                name=name,
                read_preference=read_preference or self.read_preference,
                codec_options=codec_options or self._codec_options,
                _db_store=self._store,
            )
            return collection

    def with_options(self, *args, **kwargs):
        return _same_kind(self, MockDatabase.with_options(self, *args, **kwargs))

    list_collection_names = _no_session(MockDatabase.list_collection_names)
    drop_collection = _no_session(MockDatabase.drop_collection)


class Session:
    """pymongo's ClientSession, as far as Carnet's units of work use it."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.end_session()

    def end_session(self) -> None:
        """Nothing to release: a transaction ends with its `with` block."""

    @contextmanager
    def start_transaction(self, **options):
        with self.engine.write():
            yield self

    @property
    def in_transaction(self) -> bool:
        return self.engine.in_write


class EmbeddedClient(mongomock.MongoClient):
    """A MongoClient on the embedded store under `data_dir` (bound by `client_class`)."""

    data_dir: str | None = None

    def __init__(self, *args, data_dir: str | None = None, **kwargs):
        self.engine = open_engine(data_dir or self.data_dir)
        kwargs.pop("uuidRepresentation", None)
        super().__init__(*args, _store=ServerStore(self.engine), **kwargs)

    def get_database(self, name=None, codec_options=None, **kwargs):
        if name is None:
            return self.get_default_database(codec_options=codec_options, **kwargs)
        db = self._database_accesses.get(name)
        if db is None:
            db = self._database_accesses[name] = Database(
                self,
                name,
                read_preference=self.read_preference,
                codec_options=codec_options or self._codec_options,
                _store=self._store[name],
            )
        return db

    def start_session(self, *args, **kwargs) -> Session:
        return Session(self.engine)

    def drop_database(self, name_or_db) -> None:
        name = name_or_db if isinstance(name_or_db, str) else name_or_db.name
        for coll in self.engine.collections(name):
            self.engine.drop_collection(f"{name}.{coll}")


def client_class(data_dir: str) -> type[EmbeddedClient]:
    """A client class bound to one data directory (what mongoengine's `mongo_client_class` takes)."""
    return type("EmbeddedClient", (EmbeddedClient,), {"data_dir": data_dir})
