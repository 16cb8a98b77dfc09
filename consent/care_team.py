"""The patient's care team as the patient sees it, professionals' self-declarations announced.

CSP L1111-19 (https://www.legifrance.gouv.fr/codes/article_lc/LEGIARTI000043895862): the patient
decides which professionals reach their record. Professional software may record the patient's
consent to its own user's access (a `permit` privacy Consent naming only itself, consent.policy
rule consent-recorded-by-professional, as the DMP allows); the patient is told at once through the
sender (CareTeamAnnouncer), lists every member of their care team on their page
(consent.care_team_page), and withdraws any of them: the Consent becomes `inactive` in a new
version written as the patient (rule patient-privacy-choices), like a change they made themselves.
"""

from dataclasses import dataclass
from typing import Protocol

from carnet_core.context import AccessContext
from consent.facts import Reader
from consent.notify import Notifier
from consent.policy import Policy
from consent.privacy import is_privacy_consent, recorded_by_professional

_PATIENT_SIDE = ("Patient/", "RelatedPerson/")
_NAMED_TYPES = ("Practitioner", "Organization")


@dataclass(frozen=True)
class Member:
    """One permit Consent of the record: who it lets in, and who recorded it."""

    consent_id: str
    actors: list[tuple[str, str]]  # (reference, name to show)
    declared_by_professional: bool
    since: str


def _permitted(resource: dict) -> list[str]:
    """The actors of an active privacy Consent whose root provision permits them."""
    root = resource.get("provision")
    if resource.get("status") != "active" or not is_privacy_consent(resource):
        return []
    if not isinstance(root, dict) or root.get("type") != "permit":
        return []
    return sorted(
        a["reference"]["reference"]
        for a in root.get("actor", [])
        if isinstance(a, dict)
        and isinstance(a.get("reference"), dict)
        and isinstance(a["reference"].get("reference"), str)
    )


def _name(resource: dict) -> str:
    if resource.get("resourceType") == "Organization":
        return str(resource.get("name") or "")
    for name in resource.get("name") or []:
        if isinstance(name, dict):
            parts = [*name.get("prefix", []), *name.get("given", []), name.get("family", "")]
            return str(name.get("text") or " ".join(p for p in parts if isinstance(p, str) and p))
    return ""


class RecordReader(Protocol):
    """What the page reads with: the store's policy-filtered `find` (fhir_server.store)."""

    def find(
        self, ctx: AccessContext, resource_type: str, query: dict, *, limit: int = 0
    ) -> list[dict]: ...


class ConsentUpdater(Protocol):
    """What a withdrawal writes with: the FHIR update interaction (fhir_server.interactions)."""

    def update(
        self,
        ctx: AccessContext,
        resource_type: str,
        id: str,
        body: dict,
        *,
        if_match: str | None = None,
    ) -> object: ...


class CareTeam:
    """The page's two actions, run as the signed-in patient (or their legal representative)."""

    def __init__(self, store: RecordReader, interactions: ConsentUpdater):
        self.store = store
        self.interactions = interactions

    def members(self, ctx: AccessContext) -> list[Member]:
        docs = self.store.find(ctx, "Consent", {"pk": ctx.patient})
        found = [(doc, _permitted(doc.get("res") or {})) for doc in docs]
        found = [(doc, actors) for doc, actors in found if actors]
        names = self._names(ctx, {a for _, actors in found for a in actors})
        return sorted(
            (
                Member(
                    doc["_id"],
                    [(a, names.get(a, "")) for a in actors],
                    not any(d.startswith(_PATIENT_SIDE) for d in doc["acl"].get("dep", [])),
                    doc["res"].get("meta", {}).get("lastUpdated", ""),
                )
                for doc, actors in found
            ),
            key=lambda m: m.since,
            reverse=True,
        )

    def _names(self, ctx: AccessContext, refs: set[str]) -> dict[str, str]:
        names = {}
        for resource_type in _NAMED_TYPES:
            ids = [r.split("/", 1)[1] for r in refs if r.startswith(resource_type + "/")]
            if ids:
                for doc in self.store.find(ctx, resource_type, {"_id": {"$in": ids}}):
                    names[f"{resource_type}/{doc['_id']}"] = _name(doc.get("res") or {})
        return names

    def withdraw(self, ctx: AccessContext, consent_id: str) -> bool:
        """Set one of the record's permit Consents inactive; False if there is none such."""
        docs = self.store.find(ctx, "Consent", {"_id": consent_id, "pk": ctx.patient}, limit=1)
        if not docs or not _permitted(docs[0].get("res") or {}):
            return False
        withdrawn = {**docs[0]["res"], "status": "inactive"}
        withdrawn.pop("meta", None)
        self.interactions.update(
            ctx, "Consent", consent_id, withdrawn, if_match=f'W/"{docs[0]["vid"]}"'
        )
        return True


class CareTeamAnnouncer:
    """Tells the patient at once when professional software declares its user in their care team
    (an AuditEvent observer: runs after the request succeeded, once per Consent)."""

    def __init__(self, policy: Policy, notifier: Notifier, reader: Reader):
        self.policy = policy
        self.notifier = notifier
        self.reader = reader

    def __call__(self, ctx: AccessContext, pk: str, event: dict) -> None:
        if event["outcome"] != "0" or ctx.actor_kind not in ("practitioner", "system"):
            return
        created = [
            ref.split("/")[1]
            for entity in event["entity"]
            if (ref := entity.get("what", {}).get("reference", "")).startswith("Consent/")
            and ref.endswith("/_history/1")
        ]
        if not created or ctx.platform:
            return
        me, deposited_by = self.policy.me(ctx), self.policy.authored_as(ctx)
        for doc in self.reader.find("Consent", {"_id": {"$in": created}}):
            resource = doc.get("res") or {}
            if (
                doc["vid"] == 1
                and deposited_by & set(doc["acl"].get("dep", []))
                and recorded_by_professional(resource, me)
            ):
                self.notifier.care_team_declared(ctx, doc["pk"], _permitted(resource), doc["_id"])
