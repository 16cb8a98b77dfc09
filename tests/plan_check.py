"""The strict plan check: every query the server sends, on any engine, served by a declared index.

The server's databases (the store's, through fhir_server.store.db.connect, and mongoengine's, for
accounts, clients, codes, jobs, record statuses) are handed out wrapped: each database, collection
and cursor is an instance of a subclass of the engine's own class (so pymongo's, mongoengine's and
GridFS's type checks pass) whose query methods first ask fhir_server.store.plan whether a declared
index serves the filter, sort and limit. Declared: fhir_server.store.indexes for the store's
collections, each mongoengine model's `meta['indexes']` and unique fields for the others. A query
no index serves is recorded and fails the test (tests/conftest.py) with its collection, filter,
sort and the index it lacks. On MongoDB (MONGODB_URI) `explain()` can confirm: `collscans`.
"""

from collections.abc import Mapping
from contextlib import contextmanager

import mongoengine
import mongoengine.connection
from mongoengine.base import common
from pymongo.collection import Collection
from pymongo.cursor import Cursor
from pymongo.database import Database

from fhir_server.store import indexes
from fhir_server.store.plan import Index, check

try:  # the embedded store's classes are mongomock's
    from mongomock.collection import Collection as MockCollection
    from mongomock.collection import Cursor as MockCursor
    from mongomock.database import Database as MockDatabase
except ImportError:  # pragma: no cover
    MockCollection = MockCursor = MockDatabase = ()

DATABASES = (Database, MockDatabase)
COLLECTIONS = (Collection, MockCollection)
CURSORS = (Cursor, MockCursor)


def model_indexes() -> dict[str, list[Index]]:
    """The indexes each mongoengine model declares (meta['indexes'], unique fields), by collection."""
    out: dict[str, list[Index]] = {}
    for name, model in common._document_registry.items():
        meta = getattr(model, "_meta", {})
        if meta.get("abstract") or not hasattr(model, "_get_collection_name"):
            continue
        collection = model._get_collection_name()
        if not collection:
            continue
        for i, spec in enumerate(model._meta.get("index_specs") or []):
            keys = tuple((f, d if isinstance(d, int) else 1) for f, d in spec["fields"])
            out.setdefault(collection, []).append(
                Index(f"{name}.{i}", keys, bool(spec.get("unique")))
            )
        out.setdefault(collection, [])
    return out


class Violation(Exception):
    pass


class PlanCheck:
    """The queries of one test no declared index serves."""

    def __init__(self):
        self.unserved: list[str] = []
        self.models: dict[str, list[Index]] | None = None
        self.checked = 0
        self.off = 0

    def declared(self, collection: str) -> list[Index] | None:
        found = indexes.declared(collection)
        if found is not None:
            return found
        if self.models is None or collection not in self.models:
            self.models = model_indexes()
        return self.models.get(collection)

    @contextmanager
    def paused(self):
        """A test's own reads and writes (setting a clock back, reading what is stored): not the
        server's queries."""
        self.off += 1
        try:
            yield
        finally:
            self.off -= 1

    def query(self, collection: str, operation: str, query, sort=None, limit: int = 0) -> None:
        if self.off:
            return
        self.checked += 1
        if query is not None and not isinstance(query, Mapping):
            query = {"_id": query}
        sort = _sort_list(sort)
        declared = self.declared(collection)
        if declared is None:
            why = "its collection declares no indexes"
        else:
            why = check(declared, dict(query or {}), sort, limit or 0)
        if why is not None:
            self.unserved.append(
                f"{collection}.{operation}({dict(query or {})!r}, sort={sort}, limit={limit}): "
                f"not served by a declared index: {why}"
            )

    # -- wrapping -----------------------------------------------------------------------------
    def wrap(self, value):
        if isinstance(value, _Checked):
            return value
        if isinstance(value, DATABASES):
            return _make(_CheckedDatabase, value, self)
        if isinstance(value, COLLECTIONS):
            return _make(_CheckedCollection, value, self)
        if isinstance(value, CURSORS):
            return _make(_CheckedCursor, value, self)
        return value

    def connect(self, connect):
        """`fhir_server.store.db.connect`, its database wrapped."""

        def checked(*args, **kwargs):
            db, transactions = connect(*args, **kwargs)
            return self.wrap(db), transactions

        return checked

    def connect_documents(self, connect_documents):
        """`fhir_server.store.db.connect_documents`, mongoengine's database for it wrapped."""

        def checked(alias, *args, **kwargs):
            connect_documents(alias, *args, **kwargs)
            mongoengine.connection._dbs[alias] = self.wrap(mongoengine.connection.get_db(alias))

        return checked


def _sort_list(sort) -> list[tuple[str, int]]:
    if not sort:
        return []
    if isinstance(sort, str):
        return [(sort, 1)]
    if isinstance(sort, Mapping):
        return list(sort.items())
    if isinstance(sort, tuple) and len(sort) == 2 and isinstance(sort[0], str):
        return [sort]
    return [tuple(item) if not isinstance(item, str) else (item, 1) for item in sort]


_CLASSES: dict[tuple[type, type], type] = {}


def _make(mixin: type, raw, plan: PlanCheck):
    key = (mixin, type(raw))
    cls = _CLASSES.get(key)
    if cls is None:
        own = frozenset(n for k in mixin.__mro__ if k is not object for n in vars(k))
        cls = type(f"Checked{type(raw).__name__}", (mixin, type(raw)), {"_overrides": own})
        _CLASSES[key] = cls
    proxy = object.__new__(cls)
    object.__setattr__(proxy, "_raw", raw)
    object.__setattr__(proxy, "_plan", plan)
    object.__setattr__(proxy, "_state", {})
    return proxy


_OWN = {"_raw", "_plan", "_state", "unchecked", "__class__", "__dict__"}


class _Checked:
    """Everything not overridden is the wrapped object's, its databases, collections and cursors
    wrapped in turn."""

    def __getattribute__(self, name):
        if name in _OWN or name in type(self).__dict__.get("_overrides", ()):
            return object.__getattribute__(self, name)
        plan = object.__getattribute__(self, "_plan")
        raw = object.__getattribute__(self, "_raw")
        value = getattr(raw, name)
        if callable(value) and not isinstance(value, (*DATABASES, *COLLECTIONS, *CURSORS)):

            def call(*args, **kwargs):
                result = value(*args, **kwargs)
                return self if result is raw else plan.wrap(result)

            return call
        return plan.wrap(value)

    @property
    def unchecked(self):
        """The wrapped object: for a test's own reads, which are not the server's queries."""
        return object.__getattribute__(self, "_raw")

    def __setattr__(self, name, value):
        setattr(object.__getattribute__(self, "_raw"), name, value)

    def __eq__(self, other):
        return self._raw == getattr(other, "_raw", other)

    def __hash__(self):
        return hash(self._raw)

    def __repr__(self):
        return f"Checked({self._raw!r})"


class _CheckedDatabase(_Checked):
    def __getitem__(self, name):
        return self._plan.wrap(self._raw[name])

    def get_collection(self, name, *args, **kwargs):
        return self._plan.wrap(self._raw.get_collection(name, *args, **kwargs))


class _CheckedCollection(_Checked):
    def _check(self, operation, query, sort=None, limit=0):
        self._plan.query(self._raw.name, operation, query, sort, limit)

    def __getitem__(self, name):
        return self._plan.wrap(self._raw[name])

    def find(self, *args, **kwargs):
        query = args[0] if args else kwargs.get("filter")
        cursor = self._plan.wrap(self._raw.find(*args, **kwargs))
        state = cursor._state
        state.update(
            collection=self._raw.name,
            query=query,
            sort=kwargs.get("sort"),
            limit=kwargs.get("limit", 0),
        )
        return cursor

    def find_one(self, filter=None, *args, **kwargs):
        self._check("find_one", filter, kwargs.get("sort"), 1)
        return self._raw.find_one(filter, *args, **kwargs)

    def count_documents(self, filter, *args, **kwargs):
        self._check("count_documents", filter, None, kwargs.get("limit", 0))
        return self._raw.count_documents(filter, *args, **kwargs)

    def distinct(self, key, filter=None, *args, **kwargs):
        self._check("distinct", filter)
        return self._raw.distinct(key, filter, *args, **kwargs)

    def _one(operation):  # noqa: N805 - a method factory
        def run(self, filter, *args, **kwargs):
            self._check(operation, filter, kwargs.get("sort"), 1)
            return getattr(self._raw, operation)(filter, *args, **kwargs)

        return run

    def _many(operation):  # noqa: N805 - a method factory
        def run(self, filter, *args, **kwargs):
            self._check(operation, filter)
            return getattr(self._raw, operation)(filter, *args, **kwargs)

        return run

    update_one = _one("update_one")
    replace_one = _one("replace_one")
    delete_one = _one("delete_one")
    find_one_and_update = _one("find_one_and_update")
    find_one_and_replace = _one("find_one_and_replace")
    find_one_and_delete = _one("find_one_and_delete")
    update_many = _many("update_many")
    delete_many = _many("delete_many")

    def aggregate(self, pipeline, *args, **kwargs):
        match = next((s["$match"] for s in pipeline[:1] if "$match" in s), None)
        sort = next((s["$sort"] for s in pipeline[1:2] if "$sort" in s), None)
        self._check("aggregate", match, sort)
        return self._raw.aggregate(pipeline, *args, **kwargs)


class _CheckedCursor(_Checked):
    def _seen(self, limit=None):
        state = self._state
        if not state.get("checked") and "collection" in state:
            state["checked"] = True
            self._plan.query(
                state["collection"],
                "find",
                state.get("query"),
                state.get("sort"),
                state.get("limit", 0) if limit is None else limit,
            )

    def sort(self, key_or_list, direction=None):
        self._raw.sort(key_or_list, direction) if direction is not None else self._raw.sort(
            key_or_list
        )
        self._state["sort"] = [(key_or_list, direction)] if direction is not None else key_or_list
        return self

    def limit(self, limit):
        self._raw.limit(limit)
        self._state["limit"] = limit
        return self

    def skip(self, skip):
        self._raw.skip(skip)
        return self

    def clone(self):
        copy = self._plan.wrap(self._raw.clone())
        copy._state.update({k: v for k, v in self._state.items() if k != "checked"})
        return copy

    def __iter__(self):
        self._seen()
        return self

    def next(self):
        self._seen()
        return self._raw.next()

    __next__ = next

    def __getitem__(self, index):
        self._seen(limit=1 if isinstance(index, int) else None)
        result = self._raw[index]
        return self if result is self._raw else result


def collscans(db, queries) -> list:
    """On a real MongoDB: the queries whose winning plan scans the collection."""
    bad = []
    for collection, query, sort in queries:
        cursor = db[collection].find(query)
        if sort:
            cursor = cursor.sort(sort)
        plan = cursor.explain().get("queryPlanner", {}).get("winningPlan", {})
        if "COLLSCAN" in repr(plan):
            bad.append((collection, query, sort))
    return bad


def unchecked(db):
    """`db` itself when no check wraps it (a store built outside the check), else what it wraps."""
    return db.unchecked if isinstance(db, _Checked) else db
