"""The indexes Carnet declares, created at start-up; every query the server issues uses one.

They lead with the patient-compartment key `pk` where a query has it (the shard key of a sharded
deployment), and have twins without it for directory and cross-patient lookups (MHD's
`patient.identifier`, conditional operations on a business identifier).
"""

from pymongo import ASCENDING as A
from pymongo import DESCENDING as D

CURRENT_INDEXES: dict[str, list[tuple[str, int]]] = {
    "pk_id": [("pk", A), ("_id", A)],
    "lu": [("lu", D), ("_id", A)],
    "pk_tk": [("pk", A), ("tk", A)],
    "tk": [("tk", A)],
    "pk_st": [("pk", A), ("st", A)],
    "st": [("st", A)],
    "se": [("se", A)],
    "tt": [("tt", A)],
    "pk_rf": [("pk", A), ("rf", A)],
    "rf": [("rf", A)],
    "pk_dt": [("pk", A), ("dt.p", A), ("dt.lo", A)],
    "dt": [("dt.p", A), ("dt.lo", A)],
    "nq": [("nq.p", A), ("nq.v", A)],
    "has": [("has", A)],
    # consent.policy: what a professional deposited, in any record; documents awaiting release.
    "by": [("acl.by", A), ("pk", A)],
    "labels": [("acl.labels", A)],
}

HISTORY_INDEXES: dict[str, list[tuple[str, int]]] = {
    "id_vid": [("id", A), ("vid", D)],
    "pk_lu": [("pk", A), ("lu", D)],
    "lu": [("lu", D)],
    "by": [("acl.by", A), ("pk", A)],
}

# fhir_server.store.claims: unique keys by `_id`; the claims a deleted resource held.
CLAIM_INDEXES: dict[str, list[tuple[str, int]]] = {
    "holder": [("rt", A), ("id", A)],
}


def current_name(resource_type: str) -> str:
    return resource_type


def history_name(resource_type: str) -> str:
    return f"{resource_type}_history"
