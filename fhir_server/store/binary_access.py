"""A Binary is read under the access facts of the DocumentReference that points at it.

https://hl7.org/fhir/R4/binary.html#security - Binary.securityContext names the resource whose
access rules apply; MHD pushes (ITI-65) send Binaries without it, so the store gives each Binary
named by a document's `attachment.url` the document's patient compartment (`pk`) and access facts
(`acl`), on its current and historical versions, in the document's unit of work.
"""

from fhir_server.store.unit_of_work import UnitOfWork


def binary_ids(document: dict, base_url: str) -> list[str]:
    """The ids of the Binaries on this server a DocumentReference's attachments point at."""
    ids = []
    for content in document.get("content", []):
        attachment = content.get("attachment") if isinstance(content, dict) else None
        url = attachment.get("url") if isinstance(attachment, dict) else None
        if isinstance(url, str):
            kind, _, id = url.removeprefix(base_url + "/").partition("/")
            if kind == "Binary" and id and "/" not in id:
                ids.append(id)
    return ids


def adopt_binaries(
    collections: tuple, ids: list[str], doc: dict, depositors: list[str], tx: UnitOfWork
) -> None:
    """Give the Binaries `ids` the stored document `doc`'s `pk` and `acl`.

    A Binary already in the document's record follows it; one outside any record joins it only if
    the same depositor wrote it (nobody moves another's upload into a record); one in another
    record is left alone. `collections`: the Binary current and history collections.
    """
    if not ids or not doc["pk"].startswith("Patient/"):
        return
    acl = {**doc["acl"], "doc": f"DocumentReference/{doc['_id']}"}
    for coll, key in zip(collections, ("_id", "id"), strict=True):
        for id in ids:
            query = {key: id, "pk": {"$in": [doc["pk"], f"Binary/{id}"]}}
            before = list(coll.find(query, {"pk": 1, "acl": 1}, session=tx.session))
            orphans = [b for b in before if b["pk"] != doc["pk"]]
            if depositors and any(
                not set(b.get("acl", {}).get("dep", [])) & set(depositors) for b in orphans
            ):
                continue
            if not before:
                continue
            coll.update_many(query, {"$set": {"pk": doc["pk"], "acl": acl}}, session=tx.session)
            tx.on_rollback(
                lambda coll=coll, before=before: [
                    coll.update_one(
                        {"_id": b["_id"]}, {"$set": {"pk": b["pk"], "acl": b.get("acl", {})}}
                    )
                    for b in before
                ]
            )
