"""$validate on a type or an instance: https://hl7.org/fhir/R4/resource-operation-validate.html

The resource (the body, or the `resource` parameter of a Parameters body) is checked as a write
would check it (fhir_server.validation), then against each profile asked for (`profile=` in the
query or the Parameters, and the `meta.profile` it claims that profiles/ knows), by profiles/.
Nothing is stored. The answer is an OperationOutcome, 200 whether the resource is valid or not: its
issues, or one information issue saying all is well.
"""

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest, Forbidden, InvalidResource, Issue, NotSupported
from carnet_core.outcome import information, operation_outcome
from fhir_server import resources
from fhir_server.interactions import Interactions, Reply
from fhir_server.validation import validate
from profiles import schema_for
from profiles import validate as profile_issues

DEFINITION = "http://hl7.org/fhir/OperationDefinition/Resource-validate"
MODES = ("create", "update")


def _value(parameter: dict):
    return next((v for k, v in parameter.items() if k.startswith("value")), None)


def _inputs(body, query: list[tuple[str, str]]) -> tuple[object, list[str], str | None]:
    """The resource, the profiles and the mode, from a Parameters body or a plain resource."""
    profiles = [v for k, v in query if k == "profile"]
    mode = next((v for k, v in query if k == "mode"), None)
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        return body, profiles, mode
    resource = None
    for parameter in body.get("parameter") or []:
        if not isinstance(parameter, dict):
            continue
        name = parameter.get("name")
        if name == "resource":
            resource = parameter.get("resource")
        elif name == "profile" and isinstance(_value(parameter), str):
            profiles.append(_value(parameter))
        elif name == "mode" and isinstance(_value(parameter), str):
            mode = _value(parameter)
    if resource is None:
        raise BadRequest(
            "The Parameters body has no 'resource' to validate", expression=["resource"]
        )
    return resource, profiles, mode


def _claimed(resource) -> list[str]:
    """The profiles a resource says it conforms to that profiles/ can check."""
    meta = resource.get("meta") if isinstance(resource, dict) else None
    claimed = meta.get("profile") if isinstance(meta, dict) else None
    if not isinstance(claimed, list):
        return []
    return [p for p in claimed if isinstance(p, str) and schema_for(p) is not None]


def _check_scopes(interactions: Interactions, ctx: AccessContext, resource_type: str) -> None:
    """Validating writes nothing: any scope to create, update or read the type will do."""
    if not resources.is_supported(resource_type):
        interactions.check_type(ctx, resource_type, "read")  # 404 not-supported
    if not any(ctx.scopes.grants(resource_type, i) for i in ("create", "update", "read")):
        raise Forbidden(
            f"The access token has no scope allowing create, update or read on {resource_type}"
        )


def validate_resource(
    interactions: Interactions,
    ctx: AccessContext,
    resource_type: str,
    id: str | None,
    body,
    query: list[tuple[str, str]],
) -> Reply:
    resource, profiles, mode = _inputs(body, query)
    if mode is not None and mode not in MODES:
        raise NotSupported(f"$validate mode '{mode}' is not supported", expression=["mode"])
    _check_scopes(interactions, ctx, resource_type)
    issues: list[Issue] = []
    if id is not None:
        interactions.read(ctx, resource_type, id)  # 404 unless the caller may read it
        if isinstance(resource, dict) and resource.get("id") != id:
            issues.append(
                Issue(
                    "invalid",
                    f"The resource's id must be '{id}', the id of the instance validated",
                    expression=[f"{resource_type}.id"],
                )
            )
    try:
        validate(resource, resource_type)
    except (InvalidResource, BadRequest) as found:
        issues += found.issues
    for profile in dict.fromkeys(profiles + _claimed(resource)):
        try:
            found = profile_issues(resource, profile) if isinstance(resource, dict) else []
        except ValueError as exc:
            raise NotSupported(
                f"This server does not know the profile '{profile}'", expression=["profile"]
            ) from exc
        issues += [Issue("invariant", i.message, expression=[i.expression]) for i in found]
    if not issues:
        return Reply(200, information("All OK: the resource is valid"))
    return Reply(200, operation_outcome(issues))
