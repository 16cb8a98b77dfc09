"""Masking a whole record, or one class of its documents, in one request (CSP R1111-49).

`POST Patient/{id}/$mask` and `$unmask`, optionally `?category=system|code` (several: comma-
separated, or repeated): every DocumentReference of the record the caller reads (of those
categories) gets MASQUE_PS set or lifted, as `DocumentReference/{id}/$mask` would, each in a new
version and all in one unit of work: one refusal (consent.policy: only the patient's side masks)
undoes them all. Documents already in the asked state are left as they are.
"""

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest
from consent import labels
from fhir_server.profile.records import RecordReader
from fhir_server.store.repository import Store
from fhir_server.store.unit_of_work import UnitOfWork


def categories(params: list[tuple[str, str]]) -> list[str]:
    """The `category` tokens asked; anything else is refused (an operation's inputs are its own)."""
    asked = []
    for name, value in params:
        if name in ("_format", "_pretty"):
            continue
        if name != "category":
            raise BadRequest(
                f"$mask and $unmask on a record take only 'category', not '{name}'",
                expression=[name],
            )
        asked += [v for v in value.split(",") if v]
    return asked


class RecordMasking:
    def __init__(self, store: Store, reader: RecordReader):
        self.store = store
        self.reader = reader

    def mask(
        self,
        ctx: AccessContext,
        patient_id: str,
        masked: bool,
        params: list[tuple[str, str]],
        uow: UnitOfWork | None = None,
    ) -> dict:
        """Set (or lift) MASQUE_PS on the record's documents; a Parameters naming those changed."""
        asked = categories(params)
        self.store.enforcer.require(ctx, "DocumentReference", "update")
        with self.store.unit_of_work(uow) as tx:
            # No read of the Patient first: a record the caller cannot see, or none, has no
            # document it reads, and both answer `changed: 0` alike.
            search = [("category", ",".join(asked))] if asked else []
            found = self.reader.find(
                ctx, "DocumentReference", f"Patient/{patient_id}", search, tx, sort=[("_id", 1)]
            )
            changed = []
            for doc in found:
                if labels.is_masked(doc.resource) == masked:
                    continue
                self.store.write(
                    ctx,
                    labels.with_mask(doc.resource, masked),
                    method="PUT",
                    expected_vid=doc.vid,
                    uow=tx,
                )
                changed.append(f"DocumentReference/{doc.id}")
        return {
            "resourceType": "Parameters",
            "parameter": [{"name": "changed", "valueInteger": len(changed)}]
            + [{"name": "document", "valueReference": {"reference": ref}} for ref in changed],
        }
