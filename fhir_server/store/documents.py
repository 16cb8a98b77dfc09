"""The store's collections, below the access policy: https://hl7.org/fhir/R4/http.html

Each resource type's current and history collections (fhir_server.store.indexes names them), and
the observers told of every query (the test suite checks each is served by an index). Its one read,
`find`, is unfiltered: it serves only what the policy decides on (consent.facts), never an answer
to a caller; every read on a caller's behalf goes through fhir_server.store.repository.Store, which
ANDs the policy's predicate into it.
"""

from collections.abc import Callable

from pymongo.collection import Collection

from fhir_server.store import indexes

QueryObserver = Callable[[str, dict, list | None], None]


class Documents:
    def __init__(self, db):
        self.db = db
        self.observers: list[QueryObserver] = []

    def current(self, resource_type: str) -> Collection:
        return self.db[indexes.current_name(resource_type)]

    def history(self, resource_type: str) -> Collection:
        return self.db[indexes.history_name(resource_type)]

    def observe(self, collection: str, query: dict, sort: list | None) -> None:
        for observer in self.observers:
            observer(collection, query, sort)

    def find(self, resource_type: str, query: dict, limit: int = 0) -> list[dict]:
        """Current documents matching `query`, unfiltered: the policy's input, never an answer."""
        self.observe(indexes.current_name(resource_type), query, None)
        return list(self.current(resource_type).find(query, None, sort=None, limit=limit))
