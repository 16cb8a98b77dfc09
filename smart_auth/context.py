"""The AccessContext: who is calling, for which patient, with which scopes and purpose.

Built once per request from the bearer token and passed explicitly down to the store and the
consent policy (ARCHITECTURE.md); nothing reads it from a global.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class AccessContext:
    """An authenticated caller. `actor_kind` is patient, practitioner, system or operator."""

    actor_kind: str
    actor_ref: str | None = None
    patient: str | None = None
    scopes: frozenset[str] = field(default_factory=frozenset)
    client_id: str | None = None
    labelled: bool = False
    purpose_of_use: str = "normal"
    token_id: str | None = None

    @property
    def is_patient(self) -> bool:
        return self.actor_kind == "patient"


def operator_context(name: str = "operator") -> AccessContext:
    """The server's own context, for start-up tasks (demo data, CLI loads): full access, audited."""
    return AccessContext(
        actor_kind="operator", actor_ref=f"Device/{name}", scopes=frozenset({"system/*.*"})
    )
