"""Patient/[id]/$everything: https://hl7.org/fhir/R4/patient-operation-everything.html

The Patient and what the caller may see of its compartment (the resources whose `pk` is this
patient's record), each type read through Store.find under the consent policy and the scopes;
`_since`, `_type` and `_count` as the operation defines them, paged by fhir_server.multitype.
A Patient the caller may not read answers 404, as its read would.
"""

from carnet_core.context import AccessContext
from carnet_core.dates import date_range
from carnet_core.errors import BadRequest
from consent.codes import DIRECTORY_TYPES
from fhir_server import multitype, resources
from fhir_server.bundles import page_bundle
from fhir_server.interactions import Interactions, Reply

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Patient-everything"
# Types of a record, the Patient first. The access log (AuditEvent) only when `_type` names it.
RECORD_TYPES = ("Patient",) + tuple(
    t
    for t in resources.SUPPORTED_TYPES
    if t not in DIRECTORY_TYPES and t not in ("Patient", "AuditEvent")
)
PARAMETERS = ("_since", "_type", "_count", "_cursor", "_format", "_pretty")


def record_types(ctx: AccessContext, value: str | None, default=RECORD_TYPES) -> list[str]:
    """The types asked for by `_type` (each needs a scope granting search, else 403), or by
    default those of `default` some scope grants search on."""
    if value is None:
        return [t for t in default if ctx.scopes.grants(t, "search-type")]
    types = list(dict.fromkeys(t.strip() for t in value.split(",") if t.strip()))
    outside = [t for t in types if not resources.is_supported(t) or t in DIRECTORY_TYPES]
    if not types or outside:
        raise BadRequest(
            f"_type must list types of a patient's record; not {', '.join(outside)}",
            expression=["_type"],
        )
    return types


def since_of(params: list[tuple[str, str]]) -> dict:
    """`_since`: only the resources changed at or after this instant (as a query)."""
    value = next((v for k, v in params if k == "_since"), None)
    if value is None:
        return {}
    try:
        return {"lu": {"$gte": date_range(value)[0]}}
    except ValueError as exc:
        raise BadRequest(
            f"_since must be an instant, not '{value}'", expression=["_since"]
        ) from exc


def everything(
    interactions: Interactions, ctx: AccessContext, id: str, params: list[tuple[str, str]]
) -> Reply:
    unknown = [k for k, _ in params if k not in PARAMETERS]
    if unknown:
        raise BadRequest(
            f"$everything does not take {', '.join(unknown)}",
            expression=unknown,
            code="not-supported",
        )
    interactions.read(ctx, "Patient", id)  # 404 unless the caller may read the Patient
    types_value = next((v for k, v in params if k == "_type"), None)
    types = record_types(ctx, types_value)
    for resource_type in types:
        interactions.check_type(ctx, resource_type, "search-type")
    count_value = next((v for k, v in params if k == "_count"), None)
    settings = interactions.engine.settings
    count = settings.default_count
    if count_value is not None:
        if not count_value.isdigit():
            raise BadRequest("_count must be a non-negative whole number", expression=["_count"])
        count = min(int(count_value), settings.max_count)
    condition = {"pk": f"Patient/{id}", **since_of(params)}
    parts = [multitype.Part(t, condition) for t in types]
    token = next((v for k, v in params if k == "_cursor"), None)
    found = multitype.page(interactions.store, ctx, parts, count, token)
    link_params = [(k, v) for k, v in params if k in ("_since", "_type", "_count")]
    bundle = page_bundle(
        interactions,
        f"Patient/{id}/$everything",
        link_params,
        [("match", stored) for stored in found.rows],
        total=found.total,
        cursors=(token, found.next_cursor, None),
    )
    return Reply(200, bundle)
