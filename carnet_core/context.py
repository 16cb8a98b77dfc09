"""The AccessContext: who is calling, for which patient, with which scopes and purpose.

Built once per request from the bearer token and passed explicitly down to the store and the
consent policy (docs/architecture.md#invariants); nothing reads it from a global.
"""

from dataclasses import dataclass, field

from carnet_core.scopes import ScopeSet

ACTOR_KINDS = ("patient", "practitioner", "system", "operator")


class AccessTrail:
    """What one request touched, per patient compartment, for its AuditEvents (consent.audit).

    `kept` is False for the server's own long-lived contexts (operator_context): they are never
    audited, and a trail kept for the life of the process would only grow.
    """

    def __init__(self, kept: bool = True) -> None:
        self.kept = kept
        self.touched: dict[str, dict[str, list[str]]] = {}
        self.created: list[tuple[str, str]] = []  # (record, Type/id) of what the request created

    def record(self, pk: str | None, reference: str, labels: list[str] | None = None) -> None:
        if self.kept and pk and pk.startswith("Patient/"):
            self.touched.setdefault(pk, {}).setdefault(reference, list(labels or []))

    def record_created(self, pk: str | None, reference: str) -> None:
        if self.kept and pk and pk.startswith("Patient/"):
            self.created.append((pk, reference))


@dataclass(frozen=True)
class AccessContext:
    """An authenticated caller.

    actor_kind: patient, practitioner (a person through an app), system (a backend client) or
    operator (the server's own start-up and CLI tasks). actor_ref: the fhirUser or Device/<client>.
    patient: the patient in context ("Patient/<id>"), from the launch or the patient's own login.
    organization: the Organization a backend client acts for (set when it was registered).
    platform: a backend client of the service's operator (full access, registered as such).
    purpose_of_use: a TRE_R248 access mode (normal, bris_de_glace, centre_15).
    cache / trail: per-request memory of the policy's facts and of what was touched (audit).
    """

    actor_kind: str
    actor_ref: str | None = None
    patient: str | None = None
    scopes: ScopeSet = field(default_factory=lambda: ScopeSet.parse(""))
    client_id: str | None = None
    labelled: bool = False
    purpose_of_use: str = "normal"
    purpose_reason: str | None = None
    token_id: str | None = None
    organization: str | None = None
    platform: bool = False
    cache: dict = field(default_factory=dict, compare=False, repr=False)
    trail: AccessTrail = field(default_factory=AccessTrail, compare=False, repr=False)

    @property
    def is_patient(self) -> bool:
        return self.actor_kind == "patient"


def operator_context(name: str = "operator") -> AccessContext:
    """The server's own context, for start-up tasks (demo data, CLI loads): full access."""
    return AccessContext(
        actor_kind="operator",
        actor_ref=f"Device/{name}",
        scopes=ScopeSet.parse("system/*.cruds"),
        client_id=name,
        trail=AccessTrail(kept=False),
    )


def from_claims(claims: dict) -> AccessContext:
    """The context an access token's claims describe (smart_auth.tokens)."""
    actor = claims.get("actor", "system")
    kind = actor if actor in ACTOR_KINDS and actor != "operator" else "system"
    return AccessContext(
        actor_kind=kind,
        actor_ref=claims.get("fhirUser") or f"Device/{claims.get('client_id')}",
        patient=claims.get("patient"),
        scopes=ScopeSet.parse(claims.get("scope", "")),
        client_id=claims.get("client_id"),
        labelled=bool(claims.get("labelled")),
        purpose_of_use=claims.get("purpose_of_use", "normal"),
        purpose_reason=claims.get("purpose_reason"),
        token_id=claims.get("jti"),
        organization=claims.get("organization"),
        platform=kind == "system" and bool(claims.get("platform")),
    )
