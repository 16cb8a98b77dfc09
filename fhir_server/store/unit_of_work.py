"""All-or-nothing writes: one transaction on a MongoDB replica set and on the embedded store.

The embedded store's transaction is one SQLite transaction. A standalone MongoDB server (no
replica set: a developer's) has no transactions; there each write registers how to undo itself
and a failure undoes them in reverse order, which holds unless the process dies midway.

https://hl7.org/fhir/R4/http.html#transaction - a transaction Bundle and every single write (current
version + history version) either happens whole or not at all.
"""

import logging
import threading
from collections.abc import Callable
from contextlib import contextmanager

log = logging.getLogger("carnet.store")
_request = threading.local()  # the after-commit actions a request's transaction holds back


class UnitOfWork:
    def __init__(self, session=None):
        self.session = session
        self._undo: list[Callable[[], None]] = []
        self.after_commit: list[Callable[[], None]] = []

    def on_rollback(self, action: Callable[[], None]) -> None:
        """Register how to undo one write (used when there is no server-side transaction)."""
        if self.session is None:
            self._undo.append(action)

    def rollback(self) -> None:
        while self._undo:
            action = self._undo.pop()
            try:
                action()
            except (
                Exception
            ):  # keep undoing the rest; the failure is logged, never swallowed silently
                log.exception("undo step failed")


def when_committed(action: Callable[[], None]) -> None:
    """Run `action` once what this thread has written is committed: now, or, inside a request's
    transaction, after its commit (a background job started by a request must see its record);
    never if the request's transaction is rolled back."""
    held = getattr(_request, "held", None)
    if held is not None:
        held.append(action)
    else:
        action()


@contextmanager
def unit_of_work(client, transactions: bool, outer: UnitOfWork | None = None):
    """Yield a UnitOfWork; nested calls join the outer one."""
    if outer is not None:
        yield outer
        return
    if transactions:
        with client.start_session() as session, session.start_transaction():
            uow = UnitOfWork(session)
            yield uow
        held = getattr(_request, "held", None)
        if held is not None:  # inside a request's transaction: its commit is the one that counts
            held.extend(uow.after_commit)
            return
        for action in uow.after_commit:
            action()
        return
    uow = UnitOfWork()
    try:
        yield uow
    except BaseException:
        uow.rollback()
        raise
    for action in uow.after_commit:
        action()


@contextmanager
def request_transaction(client):
    """One transaction for a whole request where the engine nests them (the embedded store):
    the units of work inside become savepoints of it, so a write and its AuditEvent are committed
    together, by one commit (one fsync), or not at all. Elsewhere (MongoDB), nothing."""
    engine = getattr(client, "engine", None)
    if engine is None or engine.in_write:
        yield
        return
    _request.held = []
    try:
        with engine.write():
            yield
        held = _request.held
    finally:
        _request.held = None
    for action in held:
        action()


@contextmanager
def trail(client):
    """The writes inside are a trail of what a request did (its AuditEvents), not what it was
    asked to change: on the embedded store, a transaction of their own does not wait for the
    disk's flush (the checkpointer's, a moment later, does). Elsewhere (MongoDB), nothing."""
    engine = getattr(client, "engine", None)
    if engine is None:
        yield
        return
    with engine.trail():
        yield
