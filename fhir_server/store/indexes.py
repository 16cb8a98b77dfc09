"""The indexes Carnet declares, created at start-up; every query the server issues uses one.

They lead with the patient-compartment key `pk` where a query has it (the shard key of a sharded
deployment), and have twins without it for directory and cross-patient lookups (MHD's
`patient.identifier`, conditional operations on a business identifier).
"""

from pymongo import ASCENDING, DESCENDING

CURRENT_INDEXES: dict[str, list[tuple[str, int]]] = {
    "pk_id": [("pk", ASCENDING), ("_id", ASCENDING)],
    "lu": [("lu", DESCENDING), ("_id", ASCENDING)],
    "pk_tk": [("pk", ASCENDING), ("tk", ASCENDING)],
    "tk": [("tk", ASCENDING)],
    "pk_st": [("pk", ASCENDING), ("st", ASCENDING)],
    "st": [("st", ASCENDING)],
    "se": [("se", ASCENDING)],
    "tt": [("tt", ASCENDING)],
    "pk_rf": [("pk", ASCENDING), ("rf", ASCENDING)],
    "rf": [("rf", ASCENDING)],
    "pk_dt": [("pk", ASCENDING), ("dt.p", ASCENDING), ("dt.lo", ASCENDING)],
    "dt": [("dt.p", ASCENDING), ("dt.lo", ASCENDING)],
    "nq": [("nq.p", ASCENDING), ("nq.v", ASCENDING)],
    "has": [("has", ASCENDING)],
    # consent.policy: what a professional deposited, in any record; documents awaiting release.
    "by": [("acl.by", ASCENDING), ("pk", ASCENDING)],
    "labels": [("acl.labels", ASCENDING)],
}

HISTORY_INDEXES: dict[str, list[tuple[str, int]]] = {
    "id_vid": [("id", ASCENDING), ("vid", DESCENDING)],
    "pk_lu": [("pk", ASCENDING), ("lu", DESCENDING)],
    "lu": [("lu", DESCENDING)],
    "by": [("acl.by", ASCENDING), ("pk", ASCENDING)],
}

# fhir_server.store.claims: unique keys by `_id`; the claims a deleted resource held.
CLAIM_INDEXES: dict[str, list[tuple[str, int]]] = {
    "holder": [("rt", ASCENDING), ("id", ASCENDING)],
}


def current_name(resource_type: str) -> str:
    return resource_type


def history_name(resource_type: str) -> str:
    return f"{resource_type}_history"
