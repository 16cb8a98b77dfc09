"""One trusted person at a time (personne de confiance, CSP L1111-6).

The trusted person is a RelatedPerson of the record whose `relationship` holds TRE_R260 `NOK`
(fhir_server.profile.codes). Writing an active one ends every other active one of the record in
the same unit of work: they are set `active: false` with `period.end` the moment of the change, in
a new version written by the server's `profile` context (the patient and the professionals who
recorded them keep reading them, as history). The current one holds its record's claim
(fhir_server.store.claims), taken in that unit of work: two first designations at once, each
searching a snapshot without the other (MongoDB), cannot both commit; the second runs again.
"""

import copy

from carnet_core.context import AccessContext, operator_context
from fhir_server.profile.codes import ROLE_CLASS_SYSTEM, TRUSTED_PERSON, is_trusted_person
from fhir_server.profile.records import RecordReader
from fhir_server.store.claims import Claim, current_key
from fhir_server.store.repository import Store, Stored
from fhir_server.store.unit_of_work import UnitOfWork


def is_current(resource: dict) -> bool:
    return is_trusted_person(resource) and resource.get("active", True) is not False


class TrustedPerson:
    """A follow-up of fhir_server.interactions."""

    def __init__(self, store: Store, reader: RecordReader):
        self.store = store
        self.reader = reader
        self.ctx = operator_context("profile")

    def follow(self, ctx: AccessContext, stored: Stored, uow: UnitOfWork) -> None:
        if stored.resource is None or not is_current(stored.resource):
            return
        pk = stored.doc["pk"]
        others = self.reader.find(
            self.ctx,
            "RelatedPerson",
            pk,
            [("relationship", f"{ROLE_CLASS_SYSTEM}|{TRUSTED_PERSON}")],
            uow,
        )
        ended = stored.resource["meta"]["lastUpdated"]
        for other in others:
            if other.id == stored.id or not is_current(other.resource):
                continue
            previous = copy.deepcopy(other.resource)
            previous["active"] = False
            previous["period"] = {**previous.get("period", {}), "end": ended}
            self.store.write(self.ctx, previous, method="PUT", expected_vid=other.vid, uow=uow)
        self.store.claims.take(self._claim(pk), stored.id, uow)

    def _claim(self, pk: str) -> Claim:
        """The record's one current trusted person: held while that one stays current."""

        def holds(id: str, uow: UnitOfWork) -> bool:
            found = self.store.find(self.ctx, "RelatedPerson", {"_id": id}, limit=1, uow=uow)
            return bool(found) and is_current(Stored.of_current("RelatedPerson", found[0]).resource)

        key = current_key("RelatedPerson", pk, TRUSTED_PERSON)
        return Claim(key, "RelatedPerson", f"The trusted person of {pk}", holds)
