"""Unique claims: what keeps conditional create and MHD idempotency true under concurrency.

A search for "is it there already?" followed by an insert lets two requests both see nothing and
both insert (two MongoDB transactions each see their own snapshot). So the insert also claims a
key in the `claims` collection, whose unique `_id` the store itself enforces, in the same unit of
work: of two concurrent creates one commits, the other's claim fails (DuplicateKeyError, or a
write conflict inside a MongoDB transaction), its unit of work is undone, and the request runs its
search again, now finding what the first one made. HAPI FHIR keeps a table of conditional-create
URLs under a unique constraint for the same reason.

A claim names the resource it made. It is released when that resource is deleted, and taken over
by a new create when the resource it names no longer answers for it (updated so that it no longer
matches, or deleted while the claim stayed).
"""

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlencode

from pymongo.errors import DuplicateKeyError, OperationFailure

from carnet_core.errors import Conflict
from fhir_server.store.unit_of_work import UnitOfWork

T = TypeVar("T")

COLLECTION = "claims"

# How often a request runs its search again after losing a claim before giving up with 409.
ATTEMPTS = 5


class ClaimTaken(Conflict):
    """Another unit of work holds this key: undo, search again, answer with what it made.

    A 409 "try again" if it ever reaches a client (a caller that cannot run its search again)."""

    def __init__(self, what: str):
        super().__init__(f"{what} was created meanwhile by another request; try again")


@dataclass
class Claim:
    """A key to hold with the resource a unit of work creates.

    `holds(id, uow)`: does resource `id`, named by an existing claim, still answer for the key
    (as the caller sees it)? If not, the new resource takes the claim over."""

    key: str
    resource_type: str
    what: str
    holds: Callable[[str, UnitOfWork], bool]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def conditional_create_key(resource_type: str, params: list[tuple[str, str]]) -> str:
    """One key per conditional-create search, however its parameters are ordered."""
    return "create:" + _digest(resource_type, urlencode(sorted(params)))


def identifier_key(resource_type: str, scope: str, system: str, value: str) -> str:
    """One key per business identifier (e.g. an MHD masterIdentifier) within `scope` (a record)."""
    return "identifier:" + _digest(resource_type, scope, system, value)


def current_key(resource_type: str, scope: str, rule: str) -> str:
    """One key per "one current at a time" rule (`rule`) within `scope` (a record)."""
    return "current:" + _digest(resource_type, scope, rule)


def retrying(run: Callable[[], T]) -> T:
    """`run()`, run again (its unit of work undone) each time it loses a claim, a few times."""
    attempt = 1
    while True:
        try:
            return run()
        except ClaimTaken:
            if attempt == ATTEMPTS:
                raise
            time.sleep(0.005 * attempt)  # on MongoDB the winner may not have committed yet
            attempt += 1


def _lost(exc: OperationFailure) -> bool:
    """A failed claim write that means "someone else holds it" (not a broken store)."""
    return isinstance(exc, DuplicateKeyError) or exc.has_error_label("TransientTransactionError")


class Claims:
    def __init__(self, db, observe: Callable[[str, dict, list | None], None]):
        self.coll = db[COLLECTION]
        self.observe = observe

    def take(self, claim: Claim, id: str, tx: UnitOfWork) -> None:
        """Claim `claim.key` for `resource_type/id` in `tx`; ClaimTaken if another holds it."""
        held = self._find({"_id": claim.key}, tx)
        try:
            if not held:
                self.coll.insert_one(
                    {"_id": claim.key, "rt": claim.resource_type, "id": id}, session=tx.session
                )
                tx.on_rollback(lambda: self.coll.delete_one({"_id": claim.key, "id": id}))
                return
            previous = held[0]["id"]
            if previous == id:  # a new version of the resource that holds it
                return
            if claim.holds(previous, tx):
                raise ClaimTaken(claim.what)
            moved = self.coll.update_one(
                {"_id": claim.key, "id": previous},
                {"$set": {"rt": claim.resource_type, "id": id}},
                session=tx.session,
            )
        except OperationFailure as exc:
            if _lost(exc):
                raise ClaimTaken(claim.what) from exc
            raise
        if moved.modified_count != 1:
            raise ClaimTaken(claim.what)
        tx.on_rollback(
            lambda: self.coll.update_one({"_id": claim.key, "id": id}, {"$set": {"id": previous}})
        )

    def release(self, resource_type: str, id: str, tx: UnitOfWork) -> None:
        """The claims held by a resource being deleted: free for the next create."""
        held = self._find({"rt": resource_type, "id": id}, tx)
        if not held:
            return
        self.coll.delete_many({"_id": {"$in": [c["_id"] for c in held]}}, session=tx.session)
        tx.on_rollback(lambda: self.coll.insert_many(held))

    def _find(self, query: dict, tx: UnitOfWork) -> list[dict]:
        self.observe(COLLECTION, query, None)
        return list(self.coll.find(query, session=tx.session))
