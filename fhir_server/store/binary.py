"""Large Binary content in GridFS: https://hl7.org/fhir/R4/binary.html

A Binary whose base64 `data` is longer than the threshold is stored without `data`, the bytes
going to GridFS; reads put `data` back, so clients see the resource exactly as they sent it.
"""

import base64

import gridfs

from carnet_core.errors import InvalidResource
from fhir_server.store.unit_of_work import UnitOfWork


class BlobStore:
    def __init__(self, db, threshold: int):
        self.fs = gridfs.GridFS(db, collection="binary_content")
        self.threshold = threshold

    def offload(self, resource: dict, uow: UnitOfWork) -> tuple[dict, dict]:
        """Return (resource to store, extra document fields) for a Binary being written."""
        data = resource.get("data")
        if not isinstance(data, str) or len(data) <= self.threshold:
            return resource, {}
        try:
            content = base64.b64decode(data, validate=True)
        except ValueError as exc:
            raise InvalidResource(
                "Binary.data is not valid base64", expression=["Binary.data"]
            ) from exc
        # GridFS takes no part in a MongoDB transaction: the content is written beside it (on
        # the embedded store, inside it); a failed unit of work leaves at most unnamed content.
        file_id = self.fs.put(content, content_type=resource.get("contentType"))
        uow.on_rollback(lambda: self.fs.delete(file_id))
        stored = {k: v for k, v in resource.items() if k != "data"}
        return stored, {"blob": file_id}

    def content(self, doc: dict) -> bytes | None:
        """The raw bytes of a stored Binary version."""
        if doc.get("blob") is not None:
            return self.fs.get(doc["blob"]).read()
        data = (doc.get("res") or {}).get("data")
        return base64.b64decode(data) if isinstance(data, str) else None

    def materialize(self, doc: dict, resource: dict) -> dict:
        if doc.get("blob") is None:
            return resource
        return {**resource, "data": base64.b64encode(self.fs.get(doc["blob"]).read()).decode()}
