"""An AuditEvent for every access by someone other than the patient, written in the same request.

https://hl7.org/fhir/R4/auditevent.html - one event per patient record the request touched: who
(agent: the person or backend client, and the software), what (entity: the patient, the resource
versions, the searched type), when (recorded), why (purposeOfEvent: the TRE_R248 access mode and
the reason given), how it ended (outcome) and the rule that let the caller in (agent.policy).
Stored in the patient's compartment, so the patient searches them ("who looked at my record");
nobody changes or deletes them (consent.policy, rule audit-append-only).

What the patient reads never names what they may not see yet: resources kept from the patient
(or from their legal representatives) go in an event labelled like them, hidden as long; and the
request's parameters, which may name or describe such a resource (`_id=a,b`, `_has:...`), are
kept only in a companion event labelled NOPAT, which the patient's side never reads
(consent.acl) and the operator's platform does, for forensics.
"""

import base64
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Protocol

from carnet_core.context import AccessContext, operator_context
from consent import codes
from consent.notify import Notifier
from consent.policy import Policy

AUDIT_CONTEXT = operator_context("audit")
MAX_ENTITIES = 100  # per event; a larger search names its query, which says the rest

_REST = {"system": "http://terminology.hl7.org/CodeSystem/audit-event-type", "code": "rest"}
_INTERACTION = "http://hl7.org/fhir/restful-interaction"
_ENTITY_TYPE = "http://terminology.hl7.org/CodeSystem/audit-entity-type"
_OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
_DICOM = "http://dicom.nema.org/resources/ontology/DCM"
_ROLE_TYPE = "http://terminology.hl7.org/CodeSystem/extra-security-role-type"
_SOURCE_TYPE = "http://terminology.hl7.org/CodeSystem/security-source-type"
_RESOURCE_TYPES = "http://hl7.org/fhir/resource-types"
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

# Interactions whose event names the type searched (and, for the operator only, how).
_TYPE_LEVEL = frozenset({"search-type", "history-type"})

# Told of each event written for the patient's side: (caller, record, event).
Observer = Callable[[AccessContext, str, dict], None]


class EventStore(Protocol):
    """Where the events go: the store's write (fhir_server.store.repository.Store)."""

    def write(
        self,
        ctx: AccessContext,
        resource: dict,
        *,
        method: str,
        must_be_new: bool = False,
        uow=None,
    ) -> object: ...

    def unit_of_work(self) -> AbstractContextManager: ...


def _outcome(status: int) -> str:
    return "0" if status < 400 else ("4" if status < 500 else "8")


class Auditor:
    def __init__(
        self,
        store: EventStore,
        policy: Policy,
        new_id: Callable[[], str],
        now: Callable[[], str],
        observers: Iterable[Observer] = (),
    ):
        self.store = store
        self.policy = policy
        self.new_id = new_id
        self.now = now
        self.observers = list(observers)

    @staticmethod
    def audited(ctx: AccessContext) -> bool:
        """Every caller but the patient themselves and the server's own tasks (a legal
        representative is audited: the patient will read who looked at their record)."""
        if ctx.actor_kind == "operator":
            return False
        return ctx.actor_kind != "patient" or (ctx.actor_ref or "").startswith("RelatedPerson/")

    def record(
        self,
        ctx: AccessContext,
        interaction: str,
        status: int,
        query: str | None = None,
        resource_type: str | None = None,
    ) -> list[dict]:
        """Write the request's AuditEvents; returns them. Raises if one cannot be stored.

        `query`: the request's parameters as sent (kept for the operator only);
        `resource_type`: the type a type-level interaction named.
        """
        if not self.audited(ctx):
            return []
        touched = dict(ctx.trail.touched)
        if not touched and ctx.patient and status >= 400:
            touched[ctx.patient] = {}  # a refused or failed attempt on the record in context
        events, announced = [], []
        # The request's events are one unit of work: one commit whatever their number, and all of
        # them or none. A trail: alone in their commit (a read's), they are in the log before the
        # answer leaves, on the disk a moment later (docs/architecture.md, "Durable").
        with self.store.trail(), self.store.unit_of_work() as tx:
            for pk, refs in touched.items():
                companions = []
                for part, hidden_by in _by_audience(refs):
                    event = self._event(
                        ctx, pk, part, interaction, status, resource_type, hidden_by
                    )
                    self._write(event, tx)
                    events.append(event)
                    announced.append((pk, event))
                    companions.append(event["id"])
                if query:
                    # The request's parameters, for the operator only (never announced); what the
                    # request touched is in the events above, which it names rather than copies.
                    forensic = self._event(
                        ctx,
                        pk,
                        {},
                        interaction,
                        status,
                        resource_type,
                        [codes.NOPAT_LABEL],
                        query,
                        companions,
                    )
                    self._write(forensic, tx)
                    events.append(forensic)
        for pk, event in announced:  # told once the events are stored
            for observer in self.observers:
                observer(ctx, pk, event)
        return events

    def _write(self, event: dict, tx) -> None:
        """A new AuditEvent, as the audit's own context (never itself audited)."""
        self.store.write(
            AUDIT_CONTEXT, event, method="POST", must_be_new=True, uow=tx, built_here=True
        )

    def _event(
        self,
        ctx: AccessContext,
        pk: str,
        refs: dict[str, list[str]],
        interaction: str,
        status: int,
        resource_type: str | None,
        hidden_by: list[str],
        query: str | None = None,
        companions: Iterable[str] = (),
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
        for event_id in companions:
            entities.append(
                {
                    "what": {"reference": f"AuditEvent/{event_id}"},
                    "type": {"system": _ENTITY_TYPE, "code": "2", "display": "System Object"},
                    "role": {"system": _OBJECT_ROLE, "code": "4", "display": "Domain Resource"},
                    "description": "this request's event for the record",
                }
            )
        if resource_type and interaction in _TYPE_LEVEL:
            # What was searched, by type only: its parameters may name a hidden resource.
            searched: dict = {
                "type": {"system": _RESOURCE_TYPES, "code": resource_type},
                "role": {"system": _OBJECT_ROLE, "code": "24", "display": "Query"},
            }
            if query:
                searched["query"] = base64.b64encode(query.encode("utf-8")).decode("ascii")
            entities.append(searched)
        elif query:
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
        if hidden_by:
            event["meta"] = {
                "security": [
                    {"system": label.split("|")[0], "code": label.split("|")[1]}
                    for label in hidden_by
                ]
            }
        return event


def _by_audience(refs: dict[str, list[str]]) -> list[tuple[dict[str, list[str]], list[str]]]:
    """The touched resources split by the professional labels hiding them from the patient's side.

    First what the patient and their representatives see (written even when empty, unless
    something else is: the event of an access that touched nothing readable), then one part per
    set of hiding labels, labelled like them so that it stays hidden as long as they do.
    """
    parts: dict[tuple[str, ...], dict[str, list[str]]] = {}
    for ref, labels in refs.items():
        hiding = tuple(sorted(set(labels) & set(codes.PROFESSIONAL_LABELS)))
        parts.setdefault(hiding, {})[ref] = labels
    shown = parts.pop((), {})
    out = [(shown, [])] if shown or not parts else []
    return out + [(part, list(hiding)) for hiding, part in sorted(parts.items())]


class Announcer:
    """Tells the patient and their attending doctor of an emergency access once it succeeded."""

    EMERGENCY_RULES = frozenset(mode.replace("_", "-") for mode in codes.EMERGENCY_MODES)

    def __init__(self, policy: Policy, notifier: Notifier):
        self.policy = policy
        self.notifier = notifier

    def __call__(self, ctx: AccessContext, pk: str, event: dict) -> None:
        if event["outcome"] == "0" and self.policy.rule_for(ctx, pk) in self.EMERGENCY_RULES:
            self.notifier.emergency_access(ctx, self.policy.facts.record(ctx, pk), event["id"])
