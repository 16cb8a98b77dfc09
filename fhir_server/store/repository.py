"""Storage of FHIR resources in MongoDB: current versions, history, search values.

Implements the persistence behind https://hl7.org/fhir/R4/http.html (read, vread, create, update,
delete, history) and the query primitive behind search. Every read method takes the caller's
AccessContext and ANDs the consent policy's predicate into the query it issues: there is no way to
read the store without the policy (docs/architecture.md#invariants, "no read without a policy
predicate").
"""

import copy
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from carnet_core.context import AccessContext
from carnet_core.errors import (
    Conflict,
    FhirError,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    TooCostly,
)
from consent.acl import access_fields
from consent.policy import Policy, WriteIntent
from fhir_server import jsonio
from fhir_server.indexing.compartment import compartment_key
from fhir_server.indexing.extract import extract
from fhir_server.indexing.registry import Registry
from fhir_server.resources import IMMUTABLE_TYPES, SUPPORTED_TYPES
from fhir_server.store import indexes, plan
from fhir_server.store.binary_access import binary_ids, follow_document
from fhir_server.store.claims import Claim, Claims
from fhir_server.store.documents import Documents
from fhir_server.store.unit_of_work import UnitOfWork, trail, unit_of_work
from smart_auth.enforcement import ScopeEnforcer

log = logging.getLogger("carnet.store")


def new_id() -> str:
    """A time-ordered id (UUID version 7 layout), so default paging follows creation order."""
    ms = int(time.time() * 1000)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 68) << 64) | (0x2 << 62) | (rand & ((1 << 62) - 1))
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def now() -> datetime:
    moment = datetime.now(UTC)
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def instant(moment: datetime) -> str:
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


@dataclass
class Stored:
    """One stored version as the API needs it."""

    resource_type: str
    id: str
    vid: int
    last_updated: datetime
    resource: dict | None  # None for a deletion
    doc: dict

    @property
    def deleted(self) -> bool:
        return self.resource is None

    @classmethod
    def of_current(cls, resource_type: str, doc: dict) -> "Stored":
        """A current document, as `Store.find` returns it."""
        return cls(resource_type, doc["_id"], doc["vid"], doc["lu"], _resource(doc), doc)

    @classmethod
    def of_history(cls, resource_type: str, doc: dict) -> "Stored":
        """A history document (one version, a deletion included)."""
        return cls(resource_type, doc["id"], doc["vid"], doc["lu"], _resource(doc), doc)


def _copy(node):
    """A copy of a JSON value (what copy.deepcopy does for these, several times faster)."""
    if type(node) is dict:
        return {key: _copy(value) for key, value in node.items()}
    if type(node) is list:
        return [_copy(value) for value in node]
    if isinstance(node, str | int | float | bool | Decimal | None):
        return node
    return copy.deepcopy(node)


def _has_decimal(node) -> bool:
    if isinstance(node, dict):
        return any(_has_decimal(v) for v in node.values())
    if isinstance(node, list):
        return any(_has_decimal(v) for v in node)
    return isinstance(node, Decimal)


def _insert(coll, doc: dict, tx: UnitOfWork, race: str) -> None:
    """Insert `doc` in the unit of work, removed again if it rolls back; a duplicate `_id` means
    a concurrent write got there first (409, `race` saying what happened)."""
    try:
        coll.insert_one(doc, session=tx.session)
    except DuplicateKeyError as exc:
        raise Conflict(f"{race}; try again") from exc
    tx.on_rollback(lambda: coll.delete_one({"_id": doc["_id"]}))


def _resource(doc: dict) -> dict | None:
    """The stored resource, its decimals back from Decimal128 (see fhir_server.jsonio)."""
    res = doc.get("res")
    return jsonio.from_bson(res) if doc.get("dec") and res is not None else res


def _content(resource: dict) -> str:
    """The resource as canonical JSON without what the server sets on each version."""
    meta = {k: v for k, v in resource.get("meta", {}).items() if k not in _VERSION_META}
    content = {k: v for k, v in resource.items() if k != "meta"}
    if meta:
        content["meta"] = meta
    return jsonio.canonical(content)


def unchanged(current: dict, resource: dict) -> bool:
    """Would storing `resource` change nothing of the stored document `current`?"""
    stored = _resource(current)
    return stored is not None and _content(stored) == _content(resource)


_VERSION_META = ("versionId", "lastUpdated")

# Sort keys an unfiltered search may use: each leads a declared index.
UNFILTERED_SORTS = frozenset({"_id", "lu"})


class Store:
    def __init__(
        self,
        documents: Documents,
        policy: Policy,
        registry: Registry,
        base_url: str,
        transactions: bool,
        enforcer: ScopeEnforcer,
    ):
        self.documents = documents
        self.db = documents.db
        self.observers = documents.observers
        self.policy = policy
        self.enforcer = enforcer
        self.registry = registry
        self.base_url = base_url
        self.transactions = transactions
        self.claims = Claims(documents.db, documents.observe)

    # -- set-up -----------------------------------------------------------------------------
    def ensure_indexes(self) -> None:
        for resource_type in SUPPORTED_TYPES:
            current = self.documents.current(resource_type)
            for name, keys in indexes.current_indexes(resource_type).items():
                current.create_index(keys, name=name)
            for name, keys in indexes.HISTORY_INDEXES.items():
                self.documents.history(resource_type).create_index(keys, name=name)
            dropped = indexes.dropped_indexes(resource_type)
            if dropped:
                present = set(current.index_information())
                for name in dropped:
                    if name in present:
                        current.drop_index(name)
        for name, keys in indexes.CLAIM_INDEXES.items():
            self.claims.coll.create_index(keys, name=name)

    def unit_of_work(self, outer: UnitOfWork | None = None):
        return unit_of_work(self.db.client, self.transactions, outer)

    def trail(self):
        """Writes that record what a request did (see `unit_of_work.trail`)."""
        return trail(self.db.client)

    # -- the policy-filtered query primitive -------------------------------------------------
    def _policy_filter(self, ctx: AccessContext, resource_type: str, query: dict) -> dict:
        # Who may read what (consent) AND what the token's scopes let this app read (SMART).
        parts = [
            p
            for p in (
                query,
                self.policy.read_rule(ctx, resource_type).predicate,
                self.enforcer.read_predicate(ctx, resource_type),
            )
            if p
        ]
        if not parts:
            return {}
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def check_plan(
        self,
        ctx: AccessContext,
        resource_type: str,
        query: dict,
        sort: list[tuple[str, int]] | None,
        limit: int,
    ) -> None:
        """Refuse (TooCostly) a search no declared index would serve as MongoDB's planner serves
        it (fhir_server.store.plan), the policy's predicate included: it is never run as a scan."""
        full = self._policy_filter(ctx, resource_type, query)
        why = plan.check(indexes.current(resource_type), full, sort, limit)
        if why is not None:
            # The reason names the store's own fields and the policy's conditions: the operator's
            # log keeps it; the caller is told in terms of its search (fhir_server.search.engine).
            log.info("%s search refused as too costly: %s", resource_type, why)
            raise TooCostly(
                f"This {resource_type} search cannot be served by an index; add a parameter "
                "that narrows it (patient, subject, identifier...)"
            )

    def find(
        self,
        ctx: AccessContext,
        resource_type: str,
        query: dict,
        *,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
        projection: dict | None = None,
        uow: UnitOfWork | None = None,
        trail: bool = True,
    ) -> list[dict]:
        """Current versions matching `query` that `ctx` may see (recorded in its trail, for the
        audit, unless the caller records itself what it shows: `trail=False`)."""
        full = self._policy_filter(ctx, resource_type, query)
        if not full and sort and sort[0][0] not in UNFILTERED_SORTS:
            raise TooCostly(
                f"Sorting all {resource_type} resources by '{sort[0][0].removeprefix('so.')}' would scan "
                "the whole collection; add a search parameter that narrows the search",
                expression=["_sort"],
            )
        self.documents.observe(indexes.current_name(resource_type), full, sort)
        cursor = self.documents.current(resource_type).find(
            full, projection, sort=sort, limit=limit, session=uow.session if uow else None
        )
        docs = list(cursor)
        if projection is None and trail:  # sub-queries (chains, _has) return ids, not resources
            self._trail(ctx, resource_type, docs)
        return docs

    @staticmethod
    def _trail(ctx: AccessContext, resource_type: str, docs: list[dict]) -> None:
        for doc in docs:  # current and history documents both carry the version
            id = doc.get("id", doc["_id"])
            ctx.trail.record(
                doc.get("pk"),
                f"{resource_type}/{id}/_history/{doc['vid']}",
                doc.get("acl", {}).get("labels"),
            )

    def find_counted(
        self,
        ctx: AccessContext,
        resource_type: str,
        query: dict,
        *,
        sort: list[tuple[str, int]],
        page: int,
        limit: int = 0,
    ) -> tuple[list[dict], int]:
        """The first `page` current versions matching `query` that `ctx` may see, and how many
        match (up to `limit` if given), from one read of the matches (a bounded set: one record)."""
        docs = self.find(ctx, resource_type, query, sort=sort, limit=limit, trail=False)
        head = docs[:page]
        self._trail(ctx, resource_type, head)  # only what the answer shows
        return head, len(docs)

    def count(self, ctx: AccessContext, resource_type: str, query: dict, *, limit: int = 0) -> int:
        """How many current versions match `query` that `ctx` may see (at most `limit` if given)."""
        full = self._policy_filter(ctx, resource_type, query)
        coll = self.documents.current(resource_type)
        if not full:  # the whole collection: its count is metadata, not a scan
            found = coll.estimated_document_count()
            return min(found, limit) if limit else found
        self.documents.observe(indexes.current_name(resource_type), full, None)
        return coll.count_documents(full, **({"limit": limit} if limit else {}))

    def _find_history(
        self, ctx: AccessContext, resource_type: str, query: dict, sort, limit: int = 0
    ):
        if resource_type in IMMUTABLE_TYPES:
            return self._find_immutable(ctx, resource_type, query, sort, limit)
        full = self._policy_filter(ctx, resource_type, query)
        self.documents.observe(indexes.history_name(resource_type), full, sort)
        docs = list(self.documents.history(resource_type).find(full, sort=sort, limit=limit))
        self._trail(ctx, resource_type, docs)
        return docs

    def _find_immutable(
        self, ctx: AccessContext, resource_type: str, query: dict, sort, limit: int
    ) -> list[dict]:
        """The history of a type whose resources never change: their current documents, each the
        creation of its one version (history ids `id` and `vid` asked of `_id` and `vid`)."""
        query = {("_id" if k == "id" else k): v for k, v in query.items()}
        if sort and sort[0][0] == "id":
            sort = [("_id", 1)]  # one version per id
        docs = self.find(ctx, resource_type, query, sort=sort, limit=limit)
        return [
            {**doc, "id": doc["_id"], "method": "POST", "created": True, "deleted": False}
            for doc in docs
        ]

    # -- reads ------------------------------------------------------------------------------
    def read(
        self, ctx: AccessContext, resource_type: str, id: str, uow: UnitOfWork | None = None
    ) -> Stored:
        """https://hl7.org/fhir/R4/http.html#read - 404 unknown or not visible, 410 deleted."""
        found = self.find(ctx, resource_type, {"_id": id}, limit=1, uow=uow)
        if found:
            return Stored.of_current(resource_type, found[0])
        raise self._absent(ctx, resource_type, id)

    def _absent(self, ctx: AccessContext, resource_type: str, id: str) -> FhirError:
        """What a read answers for an id with no current version `ctx` may see: 410 when the
        caller sees its deletion, else 404, the same whether something hidden is there or not."""
        latest = self._find_history(ctx, resource_type, {"id": id}, [("vid", -1)], limit=1)
        if latest and latest[0].get("deleted"):
            return Gone(f"{resource_type}/{id} was deleted", expression=[f"{resource_type}/{id}"])
        return NotFound(f"{resource_type}/{id} is not known", expression=[f"{resource_type}/{id}"])

    def vread(self, ctx: AccessContext, resource_type: str, id: str, vid: int) -> Stored:
        """https://hl7.org/fhir/R4/http.html#vread"""
        found = self._find_history(ctx, resource_type, {"id": id, "vid": vid}, None, limit=1)
        if not found:
            raise NotFound(f"{resource_type}/{id}/_history/{vid} is not known")
        stored = Stored.of_history(resource_type, found[0])
        if stored.deleted:
            raise Gone(f"{resource_type}/{id}/_history/{vid} is a deletion")
        return stored

    def history(
        self,
        ctx: AccessContext,
        resource_type: str,
        id: str | None,
        *,
        since: datetime | None,
        before: tuple | None,
        limit: int,
    ) -> list[Stored]:
        """https://hl7.org/fhir/R4/http.html#history - newest first, keyset-paged on (lu, _id)."""
        query: dict = {}
        sort = [("lu", -1), ("_id", -1)]
        if id is not None:
            query["id"] = id
            sort = [("id", 1), ("vid", -1)]
        if since is not None:
            query["lu"] = {"$gte": since}
        if before is not None:
            if id is not None:
                query["vid"] = {"$lt": before[0]}
            else:
                lu, key = before
                query["$or"] = [{"lu": {"$lt": lu}}, {"lu": lu, "_id": {"$lt": key}}]
        docs = self._find_history(ctx, resource_type, query, sort, limit)
        return [Stored.of_history(resource_type, d) for d in docs]

    def has_history(self, ctx: AccessContext, resource_type: str, id: str) -> bool:
        return bool(
            self._find_history(ctx, resource_type, {"id": id}, [("id", 1), ("vid", -1)], limit=1)
        )

    # -- writes -----------------------------------------------------------------------------
    def _latest_vid(self, resource_type: str, id: str, uow: UnitOfWork) -> int:
        # Unfiltered on purpose: version numbering is not a read of anyone's data.
        latest = self.documents.history(resource_type).find_one(
            {"id": id}, {"vid": 1}, sort=[("vid", -1)], session=uow.session
        )
        return latest["vid"] if latest else 0

    def new_version(
        self, resource: dict, vid: int, moment: datetime
    ) -> tuple[dict, dict, str | None]:
        """`resource` as version `vid` written at `moment` (its meta set), with its search values
        and its compartment key (None outside any patient's record)."""
        meta = {**resource.get("meta", {}), "versionId": str(vid), "lastUpdated": instant(moment)}
        resource = {
            "resourceType": resource["resourceType"],
            "id": resource["id"],
            "meta": meta,
            **resource,
        }
        resource["meta"] = meta
        pk = compartment_key(resource, self.registry, self.base_url)
        values = extract(resource, self.registry)
        return resource, values, pk

    def write(
        self,
        ctx: AccessContext,
        resource: dict,
        *,
        method: str,
        expected_vid: int | None = None,
        must_be_new: bool = False,
        uow: UnitOfWork | None = None,
        prepare: Callable[[dict, UnitOfWork], tuple[dict, dict]] | None = None,
        claim: Claim | None = None,
        built_here: bool = False,
    ) -> tuple[Stored, bool]:
        """Store a new version of `resource` (its id set by the caller). Returns (stored, created).

        `expected_vid`: the version the caller based its change on (If-Match); 412 when stale.
        `claim`: a unique key the new resource holds, taken in the same unit of work
        (fhir_server.store.claims; ClaimTaken when another resource holds it).
        `built_here`: the server built `resource` (an AuditEvent) and hands it over: plain JSON
        without decimals that nobody changes afterwards, stored as it is rather than copied and
        walked (an audited request writes one or two).
        """
        resource_type, id = resource["resourceType"], resource["id"]
        with self.unit_of_work(uow) as tx:
            current = None
            # A new server-assigned id needs no lookup: the unique _id refuses a clash on insert.
            if not must_be_new:
                visible = self.find(ctx, resource_type, {"_id": id}, limit=1, uow=tx)
                if visible:
                    current = visible[0]
                elif not self.policy.hides_nothing(ctx, resource_type):
                    # No create through update inside a record: answered as a read would be.
                    raise self._absent(ctx, resource_type, id)
                elif self.documents.current(resource_type).find_one(
                    {"_id": id}, {"_id": 1}, session=tx.session
                ):
                    # A version exists that this caller may not see: say no more than that
                    # (checked before If-Match, whose answer would show its version).
                    raise Forbidden(f"{resource_type}/{id} cannot be written by this caller")
            if current is not None and resource_type in IMMUTABLE_TYPES:
                raise Conflict(f"{resource_type}/{id} never changes once written")
            if expected_vid is not None and (current is None or current["vid"] != expected_vid):
                have = current["vid"] if current else "none"
                raise PreconditionFailed(
                    f"Version conflict on {resource_type}/{id}: If-Match asked for version "
                    f"{expected_vid}, the current version is {have}"
                )
            if current is not None:
                vid = current["vid"] + 1
            elif must_be_new:  # a server-assigned id has no earlier versions
                vid = 1
            else:
                vid = self._latest_vid(resource_type, id, tx) + 1
            moment = now()
            resource, values, pk = self.new_version(
                resource if built_here else _copy(resource), vid, moment
            )
            if pk is None and current is not None and current["pk"].startswith("Patient/"):
                pk = current["pk"]  # a Binary stays in the record its DocumentReference chose
            interaction = "create" if current is None else "update"
            self.enforcer.check_write(ctx, resource_type, pk, interaction)
            previous_acl = current.get("acl") if current else None
            depositors = self.policy.depositors(ctx) if current is None else None
            acl = access_fields(resource, depositors, previous_acl, moment)
            rule = self.policy.check_write(
                ctx,
                WriteIntent(
                    resource_type,
                    interaction,
                    pk,
                    acl,
                    previous_acl,
                    resource,
                    _resource(current) if current else None,
                ),
            )
            if resource_type == "DocumentReference":
                self._check_attachments(ctx, resource, pk, current, tx)
            if current is not None and current.get("acl") == acl and unchanged(current, resource):
                # Nothing would change: no new version (as HAPI FHIR does), the current one answers.
                version = f"{resource_type}/{id}/_history/{current['vid']}"
                ctx.trail.record(current["pk"], version, acl["labels"])
                current["rule"] = rule
                return Stored.of_current(resource_type, current), False
            extra: dict = {}
            if prepare is not None:
                resource, extra = prepare(resource, tx)
            has_decimal = not built_here and _has_decimal(resource)
            if has_decimal:
                extra["dec"] = True
            doc = {
                "_id": id,
                "pk": pk or f"{resource_type}/{id}",
                "vid": vid,
                "lu": moment,
                "res": jsonio.to_bson(resource) if has_decimal else resource,
                "acl": acl,
                **values,
                **extra,
            }
            if claim is not None:
                self.claims.take(claim, id, tx)
            self._put_current(resource_type, current, doc, tx)
            if resource_type not in IMMUTABLE_TYPES:
                self._put_history(resource_type, doc, method, tx, created=current is None)
            if current is not None and current.get("acl") != acl:
                self._sync_acl(resource_type, id, acl, current.get("acl"), tx)
            if resource_type == "DocumentReference":
                follow_document(
                    (self.documents.current("Binary"), self.documents.history("Binary")),
                    list(binary_ids(resource, self.base_url)),
                    doc,
                    self.policy.reads_everything(ctx),
                    tx,
                )
            ctx.trail.record(doc["pk"], f"{resource_type}/{id}/_history/{vid}", acl["labels"])
            if current is None:
                ctx.trail.record_created(doc["pk"], f"{resource_type}/{id}")
            doc["rule"] = rule
            return Stored.of_current(resource_type, doc), current is None

    def _check_attachments(
        self, ctx: AccessContext, resource: dict, pk: str | None, current: dict | None, tx
    ) -> None:
        """Each Binary a new version of a DocumentReference starts naming must be one it may hold
        (consent.policy.Policy.check_attachment); those its previous version named were checked."""
        named = binary_ids(resource, self.base_url)
        before = binary_ids(_resource(current) or {}, self.base_url) if current else {}
        holder = f"DocumentReference/{resource['id']}"
        for id, where in named.items():
            if id in before:
                continue
            # Unfiltered: what is there is the policy's input, never part of the answer.
            binary = self.documents.current("Binary").find_one(
                {"_id": id}, {"pk": 1, "acl": 1}, session=tx.session
            )
            readable = binary is not None and bool(
                self.find(ctx, "Binary", {"_id": id}, limit=1, projection={"_id": 1}, uow=tx)
            )
            self.policy.check_attachment(ctx, holder, pk, binary, readable, where)

    def delete(
        self,
        ctx: AccessContext,
        resource_type: str,
        id: str,
        *,
        expected_vid: int | None = None,
        uow: UnitOfWork | None = None,
    ) -> Stored | None:
        """https://hl7.org/fhir/R4/http.html#delete - logical: a deletion version; None if absent."""
        with self.unit_of_work(uow) as tx:
            visible = self.find(ctx, resource_type, {"_id": id}, limit=1, uow=tx)
            if not visible:
                if not self.policy.hides_nothing(ctx, resource_type):
                    absent = self._absent(ctx, resource_type, id)
                    if not isinstance(absent, Gone):
                        raise absent  # hidden or missing: as a read of a missing id
                if expected_vid is not None:
                    raise PreconditionFailed(f"{resource_type}/{id} does not exist (If-Match)")
                return None
            current = visible[0]
            if expected_vid is not None and current["vid"] != expected_vid:
                raise PreconditionFailed(
                    f"Version conflict on {resource_type}/{id}: If-Match asked for version "
                    f"{expected_vid}, the current version is {current['vid']}"
                )
            self.enforcer.check_write(ctx, resource_type, current["pk"], "delete")
            self.policy.check_write(
                ctx,
                WriteIntent(
                    resource_type,
                    "delete",
                    current["pk"],
                    previous_acl=current.get("acl"),
                    previous=_resource(current),
                ),
            )
            moment = now()
            tomb = {
                "_id": id,
                "pk": current["pk"],
                "vid": current["vid"] + 1,
                "lu": moment,
                "res": None,
                "acl": current.get("acl", {}),
            }
            result = self.documents.current(resource_type).delete_one(
                {"_id": id, "vid": current["vid"]}, session=tx.session
            )
            if result.deleted_count != 1:
                raise Conflict(f"{resource_type}/{id} was changed meanwhile; try again")
            tx.on_rollback(lambda: self.documents.current(resource_type).insert_one(current))
            self.claims.release(resource_type, id, tx)
            self._put_history(resource_type, tomb, "DELETE", tx)
            return Stored.of_history(resource_type, {**tomb, "id": id, "deleted": True})

    def _put_current(
        self, resource_type: str, current: dict | None, doc: dict, tx: UnitOfWork
    ) -> None:
        coll = self.documents.current(resource_type)
        if current is None:
            _insert(coll, doc, tx, f"{resource_type}/{doc['_id']} was created meanwhile")
            return
        replaced = coll.find_one_and_replace(
            {"_id": doc["_id"], "vid": current["vid"]},
            doc,
            session=tx.session,
            return_document=ReturnDocument.BEFORE,
        )
        if replaced is None:
            raise Conflict(f"{resource_type}/{doc['_id']} was changed meanwhile; try again")
        tx.on_rollback(lambda: coll.replace_one({"_id": doc["_id"]}, current))

    def _put_history(
        self, resource_type: str, doc: dict, method: str, tx: UnitOfWork, created: bool = False
    ) -> None:
        coll = self.documents.history(resource_type)
        entry = {
            "_id": f"{doc['_id']}/{doc['vid']}",
            "id": doc["_id"],
            "vid": doc["vid"],
            "pk": doc["pk"],
            "lu": doc["lu"],
            "method": method,
            "created": created,
            "deleted": doc["res"] is None,
            "res": doc["res"],
            "acl": doc["acl"],
        }
        if doc.get("dec"):
            entry["dec"] = True
        if "blob" in doc:
            entry["blob"] = doc["blob"]
        _insert(coll, entry, tx, f"{resource_type}/{doc['_id']} was changed meanwhile")

    def _sync_acl(
        self, resource_type: str, id: str, acl: dict, previous: dict | None, tx: UnitOfWork
    ) -> None:
        """Older versions are read under the resource's current access facts (no leak via history)."""
        coll = self.documents.history(resource_type)
        coll.update_many({"id": id}, {"$set": {"acl": acl}}, session=tx.session)
        tx.on_rollback(lambda: coll.update_many({"id": id}, {"$set": {"acl": previous or {}}}))
