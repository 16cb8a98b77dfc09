"""`Patient/{id}/$notifications`: the notices a person of the record's side receives, as Parameters.

https://hl7.org/fhir/R4/operations.html - GET answers each kind of notice (consent.record_notices)
with its state; POST with a Parameters body turns the kinds it names on (`true`) or off (`false`)
and answers the same. Each person chooses for themselves: the patient for the notices sent to
them, a legal representative for theirs; the operator's platform for the patient, on their request
(rule notices-by-recipient).
"""

from carnet_core.context import AccessContext
from carnet_core.errors import BadRequest
from consent import record_notices
from consent.policy import Policy


def _parameters(state: dict[str, bool]) -> dict:
    return {
        "resourceType": "Parameters",
        "parameter": [{"name": kind, "valueBoolean": on} for kind, on in state.items()],
    }


def read(policy: Policy, ctx: AccessContext, id: str) -> dict:
    return _parameters(record_notices.preferences(policy.notice_chooser(ctx, f"Patient/{id}")))


def change(policy: Policy, ctx: AccessContext, id: str, body: object) -> dict:
    whose = policy.notice_chooser(ctx, f"Patient/{id}")
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest("The body must be a Parameters resource", expression=["Parameters"])
    parameters = body.get("parameter") or []
    if not isinstance(parameters, list):
        raise BadRequest("Parameters.parameter is a list", expression=["Parameters.parameter"])
    changes: dict[str, bool] = {}
    for index, parameter in enumerate(parameters):
        value = parameter.get("valueBoolean") if isinstance(parameter, dict) else None
        if not isinstance(value, bool):
            raise BadRequest(
                "Each parameter names a kind of notice and carries valueBoolean",
                expression=[f"Parameters.parameter[{index}]"],
            )
        changes[str(parameter.get("name"))] = value
    return _parameters(record_notices.choose(whose, changes))
