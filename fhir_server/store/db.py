"""Connection to MongoDB: a real replica set when MONGODB_URI is set, else the embedded mongomock store."""

import logging

import pymongo
from pymongo.database import Database

log = logging.getLogger("carnet.store")

EMBEDDED_WARNING = (
    "MONGODB_URI is not set: using the EMBEDDED in-process store (mongomock). "
    "Data lives only as long as this process; set MONGODB_URI for a real MongoDB."
)


def connect(uri: str | None, db_name: str) -> tuple[Database, bool]:
    """Return (database, supports_transactions)."""
    if uri:
        client = pymongo.MongoClient(uri, tz_aware=True, uuidRepresentation="standard")
        return client[db_name], _is_replica_set(client)
    import mongomock
    import mongomock.gridfs

    mongomock.gridfs.enable_gridfs_integration()
    log.warning(EMBEDDED_WARNING)
    client = mongomock.MongoClient(tz_aware=True)
    return client[db_name], False


def _is_replica_set(client: pymongo.MongoClient) -> bool:
    hello = client.admin.command("hello")
    return bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
