"""Hard deletion of a whole patient compartment: every version, its history, Binary content, claims.

CSP R1111-36 (https://www.legifrance.gouv.fr/codes/texte_lc/LEGITEXT000006072665/): the data of a
closed record is deleted when its archive period ends, or earlier at the person's express request;
an opposition keeps nothing of the record (R1111-28). Unlike FHIR's logical delete
(https://hl7.org/fhir/R4/http.html#delete) nothing stays readable, not even in `_history`: the
current and history documents whose `pk` is the compartment go, with the GridFS content of their
Binaries and the unique claims they held. The caller records the fact of the erasure
(ingestion.lifecycle); what it names is the compartment, never what was in it.
"""

from dataclasses import dataclass

from fhir_server.resources import SUPPORTED_TYPES
from fhir_server.store.binary import BlobStore
from fhir_server.store.claims import COLLECTION as CLAIMS
from fhir_server.store.documents import Documents
from fhir_server.store.unit_of_work import UnitOfWork


@dataclass
class Erased:
    """What an erasure removed: counts only."""

    resources: int = 0
    versions: int = 0
    blobs: int = 0


def erase_compartment(documents: Documents, blobs: BlobStore, pk: str, uow: UnitOfWork) -> Erased:
    """Delete every current and history document of compartment `pk` (`Patient/<id>`), in `uow`."""
    erased = Erased()
    blob_ids = []
    for resource_type in SUPPORTED_TYPES:
        current, history = documents.current(resource_type), documents.history(resource_type)
        query = {"pk": pk}
        documents.observe(current.name, query, None)
        found = list(current.find(query, {"_id": 1, "blob": 1}, session=uow.session))
        documents.observe(history.name, query, None)
        versions = list(history.find(query, {"_id": 1, "blob": 1}, session=uow.session))
        blob_ids += [d["blob"] for d in found + versions if d.get("blob") is not None]
        if found:
            ids = [d["_id"] for d in found]
            held = {"rt": resource_type, "id": {"$in": ids}}
            documents.observe(CLAIMS, held, None)
            documents.db[CLAIMS].delete_many(held, session=uow.session)
            current.delete_many(query, session=uow.session)
        if versions:
            history.delete_many(query, session=uow.session)
        erased.resources += len(found)
        erased.versions += len(versions)
    # GridFS takes no part in a transaction: its content goes once the documents naming it are gone.
    unique = list(dict.fromkeys(blob_ids))
    uow.after_commit.append(lambda: [blobs.fs.delete(blob) for blob in unique])
    erased.blobs = len(unique)
    return erased
