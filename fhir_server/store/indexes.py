"""The indexes Carnet declares, created at start-up; every query the server issues uses one.

They lead with the patient-compartment key `pk` where a query has it (the shard key of a sharded
deployment), and have twins without it for directory and cross-patient lookups (MHD's
`patient.identifier`, conditional operations on a business identifier). A search across records
(a hospital's deposits, the platform's) pages in `_id` order straight from an index: the
equality fields, then `_id` (fhir_server.store.plan checks every query against these; the README's
index table says which queries each serves).
"""

from pymongo import ASCENDING, DESCENDING

from fhir_server.resources import IMMUTABLE_TYPES, SUPPORTED_TYPES
from fhir_server.store.plan import Index

CURRENT_INDEXES: dict[str, list[tuple[str, int]]] = {
    "pk_id": [("pk", ASCENDING), ("_id", ASCENDING)],
    "lu": [("lu", DESCENDING), ("_id", ASCENDING)],
    "pk_tk": [("pk", ASCENDING), ("tk", ASCENDING)],
    "tk": [("tk", ASCENDING), ("_id", ASCENDING)],
    "pk_st": [("pk", ASCENDING), ("st", ASCENDING)],
    "st": [("st", ASCENDING)],
    "se": [("se", ASCENDING), ("_id", ASCENDING)],
    "tt": [("tt", ASCENDING)],
    "pk_rf": [("pk", ASCENDING), ("rf", ASCENDING)],
    "rf": [("rf", ASCENDING), ("_id", ASCENDING)],
    "pk_dt": [("pk", ASCENDING), ("dt.p", ASCENDING), ("dt.lo", ASCENDING)],
    "dt": [("dt.p", ASCENDING), ("dt.lo", ASCENDING)],
    "dt_hi": [("dt.p", ASCENDING), ("dt.hi", ASCENDING)],
    "nq": [("nq.p", ASCENDING), ("nq.v", ASCENDING)],
    # consent.policy: what a professional deposited, in any record; documents awaiting release.
    "by": [("acl.by", ASCENDING), ("_id", ASCENDING)],
    "labels": [("acl.labels", ASCENDING)],
}

HISTORY_INDEXES: dict[str, list[tuple[str, int]]] = {
    "id_vid": [("id", ASCENDING), ("vid", DESCENDING)],
    "pk_lu": [("pk", ASCENDING), ("lu", DESCENDING)],
    "lu": [("lu", DESCENDING), ("_id", DESCENDING)],
    "by": [("acl.by", ASCENDING), ("lu", DESCENDING), ("_id", DESCENDING)],
}

# A type written on every audited request keeps only the indexes of the searches made on it
# (fhir_server.indexing.registry.SEARCHED_ONLY_BY): every index costs each of its writes an entry,
# and one page of the B-tree to change. An AuditEvent is searched by patient (`pk_id`), by
# `_lastUpdated` (`lu`), by agent and entity (`pk_rf`, `rf`), by date (`pk_dt`, `dt`, `dt_hi`),
# and by `_id` (its `:text` across records: `tt`).
ONLY_INDEXES: dict[str, tuple[str, ...]] = {
    "AuditEvent": ("pk_id", "lu", "tt", "pk_rf", "rf", "pk_dt", "dt", "dt_hi"),
}

# fhir_server.store.claims: unique keys by `_id`; the claims a deleted resource held.
# A type whose resources never change (AuditEvent) has no history collection: its history is read
# from its current documents, newest first, so they carry the history's order too.
IMMUTABLE_INDEXES: dict[str, list[tuple[str, int]]] = {
    "h_lu": [("lu", DESCENDING), ("_id", DESCENDING)],
    "h_by": [("acl.by", ASCENDING), ("lu", DESCENDING), ("_id", DESCENDING)],
}

CLAIM_INDEXES: dict[str, list[tuple[str, int]]] = {
    "holder": [("rt", ASCENDING), ("id", ASCENDING)],
}

# fhir_server.store.binary: GridFS's own, which the driver creates with the first file.
GRIDFS_COLLECTION = "binary_content"
GRIDFS_INDEXES: dict[str, dict[str, list[tuple[str, int]]]] = {
    f"{GRIDFS_COLLECTION}.files": {"filename": [("filename", 1), ("uploadDate", 1)]},
    f"{GRIDFS_COLLECTION}.chunks": {"files_id_n": [("files_id", 1), ("n", 1)]},
}


def current_name(resource_type: str) -> str:
    return resource_type


def history_name(resource_type: str) -> str:
    return f"{resource_type}_history"


def _indexes(declared: dict[str, list[tuple[str, int]]]) -> list[Index]:
    return [Index(name, tuple(keys)) for name, keys in declared.items()]


def current_indexes(resource_type: str) -> dict[str, list[tuple[str, int]]]:
    """The indexes of a type's current documents, by name."""
    only = ONLY_INDEXES.get(resource_type)
    found = CURRENT_INDEXES if only is None else {name: CURRENT_INDEXES[name] for name in only}
    if resource_type in IMMUTABLE_TYPES:
        found = {**found, **IMMUTABLE_INDEXES}
    return found


def dropped_indexes(resource_type: str) -> list[str]:
    """Indexes of CURRENT_INDEXES a type no longer declares (a store made by an earlier version
    may still hold them: they would go on costing every write)."""
    kept = current_indexes(resource_type)
    return [name for name in CURRENT_INDEXES if name not in kept]


def declared(collection: str) -> list[Index] | None:
    """The indexes declared for one of the store's collections; None for another collection."""
    if collection in SUPPORTED_TYPES:
        return current(collection)
    if collection.removesuffix("_history") in SUPPORTED_TYPES:
        return _indexes(HISTORY_INDEXES)
    if collection == "claims":
        return _indexes(CLAIM_INDEXES)
    if collection in GRIDFS_INDEXES:
        return _indexes(GRIDFS_INDEXES[collection])
    return None


CURRENT = _indexes(CURRENT_INDEXES)
_CURRENT_BY_TYPE = {t: _indexes(current_indexes(t)) for t in SUPPORTED_TYPES}


def current(resource_type: str) -> list[Index]:
    """The indexes a search of a type's current documents may use (fhir_server.store.plan):
    built once, as every search checks its plan against them."""
    return _CURRENT_BY_TYPE[resource_type]
