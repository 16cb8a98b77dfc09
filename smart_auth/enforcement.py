"""What a token's scopes allow, enforced on every interaction and inside every query.

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html - an interaction needs a scope
granting its permission on the type (403 otherwise); reads are confined, in the query itself, to
the types the scopes grant, to the granular searches of v2 scopes, and for `patient/` scopes to
the patient in context. So `_include`, chains, `_has` and batches cannot reach further than a
direct read.
"""

from collections.abc import Callable

from carnet_core.compartment import COMPARTMENT_PARAMS
from carnet_core.context import AccessContext
from carnet_core.errors import Forbidden
from carnet_core.scopes import INTERACTION_PERMISSION, ResourceScope

MATCH_NOTHING = {"_id": {"$in": []}}

# Compiles a granular scope's search parameters into a MongoDB predicate
# (fhir_server.search.parameters).
QueryCompiler = Callable[[str, tuple[tuple[str, str], ...]], dict]


def _in_patient_compartment(resource_type: str) -> bool:
    return resource_type == "Patient" or bool(COMPARTMENT_PARAMS.get(resource_type))


class ScopeEnforcer:
    def __init__(self, compile_query: QueryCompiler):
        self.compile_query = compile_query

    def require(self, ctx: AccessContext, resource_type: str, interaction: str) -> None:
        """Raise 403 unless some scope grants `interaction` on `resource_type`."""
        if not ctx.scopes.grants(resource_type, interaction):
            permission = INTERACTION_PERMISSION[interaction]
            raise Forbidden(
                f"The access token has no scope allowing {interaction} on {resource_type} "
                f"(needs e.g. {ctx.actor_kind if ctx.actor_kind == 'patient' else 'user'}/{resource_type}.{permission})"
            )

    def _confinement(
        self, ctx: AccessContext, scope: ResourceScope, resource_type: str
    ) -> dict | None:
        """The predicate one scope adds; None when it adds nothing."""
        parts = []
        if scope.context == "patient" and _in_patient_compartment(resource_type):
            if not ctx.patient:
                return MATCH_NOTHING
            parts.append({"pk": ctx.patient})
        if scope.query:
            parts.append(self.compile_query(resource_type, scope.query))
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"$and": parts}

    def read_predicate(self, ctx: AccessContext, resource_type: str) -> dict:
        """What the scopes let this caller read of `resource_type`, as a MongoDB predicate."""
        granting = [
            s
            for s in ctx.scopes.resources
            if s.covers(resource_type, "r") or s.covers(resource_type, "s")
        ]
        if not granting:
            return MATCH_NOTHING
        alternatives = []
        for scope in granting:
            confinement = self._confinement(ctx, scope, resource_type)
            if confinement is None:
                return {}
            alternatives.append(confinement)
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}

    def check_write(
        self, ctx: AccessContext, resource_type: str, compartment: str | None, interaction: str
    ) -> None:
        """A `patient/` scope writes only into the patient in context's record."""
        scopes = ctx.scopes.grants(resource_type, interaction)
        if not scopes:
            self.require(ctx, resource_type, interaction)
        for scope in scopes:
            if scope.context != "patient" or not _in_patient_compartment(resource_type):
                return
            if ctx.patient and compartment == ctx.patient:
                return
        raise Forbidden(
            f"A patient/ scope can only write into the record of the patient in context ({ctx.patient or 'none'})"
        )
