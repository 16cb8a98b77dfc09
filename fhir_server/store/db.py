"""Connection to MongoDB: a real replica set when MONGODB_URI is set, else the embedded store.

The embedded store (fhir_server.store.embedded) keeps everything in one SQLite file under the
data directory: durable, indexed, with transactions, shared by the server's workers and the
administration commands.
"""

import logging
import os

import mongoengine
import pymongo
from pymongo.database import Database

log = logging.getLogger("carnet.store")


def connect(uri: str | None, db_name: str, data_dir: str) -> tuple[Database, bool]:
    """Return (database, supports_transactions)."""
    if uri:
        client = pymongo.MongoClient(uri, tz_aware=True, uuidRepresentation="standard")
        return client[db_name], _is_replica_set(client)
    client = embedded_client_class(data_dir)(tz_aware=True)
    log.warning(
        "MONGODB_URI is not set: the EMBEDDED store, data under %s", os.path.abspath(data_dir)
    )
    return client[db_name], True


def connect_documents(alias: str, uri: str | None, db_name: str, data_dir: str) -> None:
    """(Re)bind mongoengine's `alias` to this process's database, the one `connect` opens: the
    records that are not FHIR (smart_auth.models: accounts, clients, keys; ingestion.models)."""
    mongoengine.disconnect(alias)
    if uri:
        mongoengine.connect(
            db=db_name, host=uri, alias=alias, tz_aware=True, uuidRepresentation="standard"
        )
    else:
        mongoengine.connect(
            db=db_name,
            alias=alias,
            mongo_client_class=embedded_client_class(data_dir),
            tz_aware=True,
            uuidRepresentation="standard",
        )


def embedded_client_class(data_dir: str):
    """The pymongo-compatible client class of the embedded store under `data_dir`."""
    import mongomock.gridfs

    from fhir_server.store.embedded.client import client_class

    mongomock.gridfs.enable_gridfs_integration()
    return client_class(data_dir)


def _is_replica_set(client: pymongo.MongoClient) -> bool:
    hello = client.admin.command("hello")
    return bool(hello.get("setName")) or hello.get("msg") == "isdbgrid"
