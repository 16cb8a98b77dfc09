"""An AuditEvent for every access by someone other than the patient, written in the same request.

https://hl7.org/fhir/R4/auditevent.html - one event per patient record the request touched: who
(agent: the person or backend client, and the software), what (entity: the patient, the resource
versions, the query), when (recorded), why (purposeOfEvent: the TRE_R248 access mode and the
reason given), how it ended (outcome) and the rule that let the caller in (agent.policy). Stored
in the patient's compartment, so the patient searches them ("who looked at my record"); nobody
changes or deletes them (consent.policy, rule audit-append-only).
"""

import base64
from collections.abc import Callable

from consent import codes
from consent.notify import Notifier
from consent.policy import Policy
from smart_auth.context import AccessContext, operator_context

AUDIT_CONTEXT = operator_context("audit")
MAX_ENTITIES = 100  # per event; a larger search names its query, which says the rest

_REST = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_DICOM = "http://dicom.nema.org/resources/ontology/DCM"
_ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
RULE_URN = "urn:carnet:consent-rule:"
CLIENT_SYSTEM = "urn:carnet:oauth-client"

# restful-interaction -> AuditEvent.action (C R U D E)
ACTIONS = {
    "create": "C",
    "read": "R",
    "vread": "R",
    "history-instance": "R",
    "history-type": "R",
    "search-type": "E",
    "update": "U",
    "patch": "U",
    "delete": "D",
    "transaction": "E",
    "batch": "E",
    "operation": "E",
}

# (store write of one new resource)
Writer = Callable[[AccessContext, dict], None]


def _outcome(status: int) -> str:
    return "0" if status < 400 else ("4" if status < 500 else "8")


class Auditor:
    def __init__(self, write: Writer, policy: Policy, new_id: Callable[[], str], now: Callable):
        self.write = write
        self.policy = policy
        self.new_id = new_id
        self.now = now
        self.observers: list[Callable[[AccessContext, str, dict], None]] = []

    @staticmethod
    def audited(ctx: AccessContext) -> bool:
        """Every caller but the patient themselves and the server's own tasks (a legal
        representative is audited: the patient will read who looked at their record)."""
        if ctx.actor_kind == "operator":
            return False
        return ctx.actor_kind != "patient" or (ctx.actor_ref or "").startswith("RelatedPerson/")

    def record(
        self, ctx: AccessContext, interaction: str, status: int, query: str | None = None
    ) -> list[dict]:
        """Write the request's AuditEvents; returns them. Raises if one cannot be stored."""
        if not self.audited(ctx):
            return []
        touched = dict(ctx.trail.touched)
        if not touched and ctx.patient and status >= 400:
            touched[ctx.patient] = {}  # a refused or failed attempt on the record in context
        events = []
        for pk, refs in touched.items():
            # What the patient may not see yet (INVISIBLE_PATIENT) goes in an event that stays
            # hidden from them as long: the access history must not reveal the document.
            hidden = {r: labels for r, labels in refs.items() if codes.INVISIBLE_LABEL in labels}
            shown = {r: labels for r, labels in refs.items() if r not in hidden}
            for part, secret in ((shown, False), (hidden, True)):
                if part or (not secret and not hidden):
                    event = self._event(ctx, pk, part, interaction, status, query, secret)
                    self.write(AUDIT_CONTEXT, event)
                    events.append(event)
                    for observer in self.observers:
                        observer(ctx, pk, event)
        return events

    def _event(
        self,
        ctx: AccessContext,
        pk: str,
        refs: dict[str, list[str]],
        interaction: str,
        status: int,
        query: str | None,
        secret: bool,
    ) -> dict:
        rule = self.policy.rule_for(ctx, pk)
        entities = [
            {
                "what": {"reference": pk},
                "type": {"system": _ENTITY_TYPE, "code": "1", "display": "Person"},
                "role": {"system": _OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        ]
        for ref, labels in list(refs.items())[:MAX_ENTITIES]:
            entity: dict = {
                "what": {"reference": ref},
                "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
                "role": {"system": _OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
            }
            if labels:
                entity["securityLabel"] = [
                    {"system": label.split("|")[0], "code": label.split("|")[1]} for label in labels
                ]
            entities.append(entity)
        if query:
            entities.append(
                {
                    "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
                    "role": {"system": _OBJECT_ROLE, "code": "24", "display": "Query"},
                    "query": base64.b64encode(query.encode("utf-8")).decode("ascii"),
                }
            )
        person = ctx.actor_kind == "practitioner"
        agents = [
            {
                "type": {
                    "coding": [
                        {"system": _ROLE_TYPE, "code": "humanuser", "display": "human user"}
                        if person
                        else {"system": _DICOM, "code": "110150", "display": "Application"}
                    ]
                },
                "who": {"reference": ctx.actor_ref} if ctx.actor_ref else {"display": "unknown"},
                "requestor": True,
                "policy": [RULE_URN + rule],
            },
            {
                "type": {
                    "coding": [{"system": _DICOM, "code": "110150", "display": "Application"}]
                },
                "who": {
                    "identifier": {"system": CLIENT_SYSTEM, "value": ctx.client_id or "unknown"}
                },
                "requestor": False,
            },
        ]
        if ctx.organization:
            agents.append({"who": {"reference": ctx.organization}, "requestor": False})
        purpose: dict = {
            "coding": [
                {"system": codes.ACCESS_MODE_SYSTEM, "code": ctx.purpose_of_use},
                {
                    "system": codes.ACT_REASON_SYSTEM,
                    "code": codes.ACT_REASON.get(ctx.purpose_of_use, "TREAT"),
                },
            ]
        }
        if ctx.purpose_reason:
            purpose["text"] = ctx.purpose_reason
        event = {
            "resourceType": "AuditEvent",
            "id": self.new_id(),
            "type": {**_REST, "display": "RESTful Operation"},
            "subtype": [{"system": _INTERACTION, "code": interaction}],
            "action": ACTIONS.get(interaction, "E"),
            "recorded": self.now(),
            "outcome": _outcome(status),
            "outcomeDesc": f"HTTP {status}; rule {rule}",
            "purposeOfEvent": [purpose],
            "agent": agents,
            "source": {
                "observer": {"display": "Carnet FHIR server"},
                "type": [{"system": _SOURCE_TYPE, "code": "4", "display": "Application Server"}],
            },
            "entity": entities,
        }
        if secret:
            event["meta"] = {
                "security": [{"system": codes.VISIBILITY_SYSTEM, "code": codes.INVISIBLE_PATIENT}]
            }
        return event


class Announcer:
    """Tells the patient and their attending doctor of an emergency access once it succeeded."""

    EMERGENCY_RULES = frozenset(mode.replace("_", "-") for mode in codes.EMERGENCY_MODES)

    def __init__(self, policy: Policy, notifier: Notifier):
        self.policy = policy
        self.notifier = notifier

    def __call__(self, ctx: AccessContext, pk: str, event: dict) -> None:
        if event["outcome"] == "0" and self.policy.rule_for(ctx, pk) in self.EMERGENCY_RULES:
            if self.policy.facts is not None:
                self.notifier.emergency_access(ctx, self.policy.facts.record(ctx, pk), event["id"])
