"""A Binary is read under the access facts of the DocumentReference that first took it.

https://hl7.org/fhir/R4/binary.html#security - Binary.securityContext names the resource whose
access rules apply; MHD pushes (ITI-65) send Binaries without it, so the store gives a Binary
outside any record, named by a document's `attachment.url`, the document's patient compartment
(`pk`) and access facts (`acl`), on its current and historical versions, in the document's unit of
work. From then on the Binary follows that document only (`acl.doc`): a later document naming it
changes nothing of who reads it (consent.policy.Policy.check_attachment decides whether it may
name it at all), and `acl.own` keeps who deposited the Binary itself, the only one who changes it.
"""

from fhir_server.store.unit_of_work import UnitOfWork


def binary_ids(document: dict, base_url: str) -> dict[str, str]:
    """The ids of the Binaries on this server a DocumentReference's attachments point at, each
    with the FHIRPath of the first attachment naming it."""
    ids: dict[str, str] = {}
    contents = document.get("content")
    for index, content in enumerate(contents if isinstance(contents, list) else []):
        attachment = content.get("attachment") if isinstance(content, dict) else None
        url = attachment.get("url") if isinstance(attachment, dict) else None
        if isinstance(url, str):
            kind, _, id = url.removeprefix(base_url + "/").partition("/")
            if kind == "Binary" and id and "/" not in id:
                ids.setdefault(id, f"DocumentReference.content[{index}].attachment.url")
    return ids


def follow_document(
    collections: tuple, ids: list[str], doc: dict, adopt_any: bool, tx: UnitOfWork
) -> None:
    """Binaries `ids` that the stored document `doc` holds take its `pk` and `acl`.

    It holds those it took before (`acl.doc` names it) and takes those outside any record that
    its own depositor wrote (or any such one when `adopt_any`: the writer reads everything).
    A Binary in a record, or taken by another document, is left as it is. `collections`: the
    Binary current and history collections.
    """
    if not ids or not doc["pk"].startswith("Patient/"):
        return
    holder = f"DocumentReference/{doc['_id']}"
    outside = [f"Binary/{id}" for id in ids]
    depositors = set(doc["acl"].get("dep", []))
    for coll, key in zip(collections, ("_id", "id"), strict=True):
        query = {key: {"$in": ids}, "$or": [{"pk": {"$in": outside}}, {"acl.doc": holder}]}
        before = list(coll.find(query, {"pk": 1, "acl": 1}, session=tx.session))
        for binary in before:
            acl = binary.get("acl") or {}
            if acl.get("doc") != holder and not (adopt_any or depositors & set(acl.get("dep", []))):
                continue  # nobody moves another's upload into a record
            own = acl.get("own", acl.get("dep", []))
            followed = {**doc["acl"], "doc": holder, "own": own}
            coll.update_one(
                {"_id": binary["_id"]},
                {"$set": {"pk": doc["pk"], "acl": followed}},
                session=tx.session,
            )
            tx.on_rollback(
                lambda coll=coll, b=binary: coll.update_one(
                    {"_id": b["_id"]}, {"$set": {"pk": b["pk"], "acl": b.get("acl", {})}}
                )
            )
