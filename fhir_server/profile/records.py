"""One record's resources of a type, read through the search engine under a caller's policy.

The profile's rules and `$summary` look inside one record at a time: they name it by the type's
patient-compartment search parameter (carnet_core.compartment), so the query the store runs is
the one a client's search would be, confined by the policy and served by a `pk`-led index.
"""

from carnet_core.compartment import COMPARTMENT_SEARCH
from carnet_core.context import AccessContext
from fhir_server.search.engine import SearchEngine
from fhir_server.store.repository import Store, Stored
from fhir_server.store.unit_of_work import UnitOfWork


class RecordReader:
    def __init__(self, store: Store, engine: SearchEngine):
        self.store = store
        self.engine = engine

    def find(
        self,
        ctx: AccessContext,
        resource_type: str,
        pk: str,
        params: list[tuple[str, str]],
        uow: UnitOfWork | None = None,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[Stored]:
        """The current resources of `resource_type` in record `pk` matching `params` that `ctx`
        may read (sorted by `params`' `_sort` unless `sort` is given)."""
        named = [(COMPARTMENT_SEARCH[resource_type][0], pk), *params]
        request = self.engine.parse(ctx, resource_type, named, strict=True)
        docs = self.store.find(
            ctx,
            resource_type,
            request.query(),
            sort=sort or request.sort,
            limit=limit,
            uow=uow,
        )
        return [Stored.of_current(resource_type, doc) for doc in docs]
