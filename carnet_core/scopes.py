"""SMART scopes, v2 and v1: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

v2: `<context>/<Type|*>.<cruds subset, in order>[?param=value&...]` (context patient, user, system).
v1: `<context>/<Type|*>.read|write|*`, read meaning `rs`, write `cud`, `*` all five.
A granular v2 scope (`?category=...`) narrows what it grants to resources matching that search.
"""

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

CONTEXTS = ("patient", "user", "system")
PERMISSIONS = "cruds"
V1_PERMISSIONS = {"read": "rs", "write": "cud", "*": "cruds"}
_SCOPE = re.compile(
    r"^(?P<context>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]+)\.(?P<perm>[a-z*]+)(\?(?P<query>.+))?$"
)

# What each FHIR interaction needs (scopes-and-launch-context.html#scopes-for-requesting-fhir-resources).
INTERACTION_PERMISSION = {
    "read": "r",
    "vread": "r",
    "history-instance": "r",
    "search-type": "s",
    "history-type": "s",
    "create": "c",
    "update": "u",
    "patch": "u",
    "delete": "d",
}


class InvalidScope(ValueError):
    pass


@dataclass(frozen=True)
class ResourceScope:
    context: str
    resource_type: str  # a type or "*"
    permissions: str  # a subset of "cruds"
    query: tuple[tuple[str, str], ...] = ()

    def covers(self, resource_type: str, permission: str) -> bool:
        return self.resource_type in ("*", resource_type) and permission in self.permissions


def parse_resource_scope(text: str) -> ResourceScope | None:
    """The resource scope `text` names, None for a non-resource scope (openid, launch/patient...)."""
    m = _SCOPE.match(text)
    if not m:
        if re.match(r"^(patient|user|system)/", text):
            raise InvalidScope(f"'{text}' is not a valid SMART scope")
        return None
    perm = m["perm"]
    if perm in V1_PERMISSIONS:
        if m["query"]:
            raise InvalidScope(f"'{text}': v1 scopes take no search parameters")
        permissions = V1_PERMISSIONS[perm]
    else:
        if (
            not perm
            or any(c not in PERMISSIONS for c in perm)
            or "".join(sorted(perm, key=PERMISSIONS.index)) != perm
            or len(set(perm)) != len(perm)
        ):
            raise InvalidScope(
                f"'{text}': permissions must be a subset of c r u d s, in that order"
            )
        permissions = perm
    query = tuple(parse_qsl(m["query"], keep_blank_values=False)) if m["query"] else ()
    return ResourceScope(m["context"], m["type"], permissions, query)


@dataclass(frozen=True)
class ScopeSet:
    """The scopes granted to a token."""

    raw: tuple[str, ...]
    resources: tuple[ResourceScope, ...]

    @classmethod
    def parse(cls, text: str) -> "ScopeSet":
        items = tuple(dict.fromkeys(text.split()))
        parsed = tuple(s for s in (parse_resource_scope(i) for i in items) if s is not None)
        return cls(items, parsed)

    def __contains__(self, scope: str) -> bool:
        return scope in self.raw

    def grants(self, resource_type: str, interaction: str) -> list[ResourceScope]:
        """The scopes allowing `interaction` on `resource_type` (empty: refuse with 403)."""
        permission = INTERACTION_PERMISSION[interaction]
        return [s for s in self.resources if s.covers(resource_type, permission)]

    def search_restrictions(
        self, resource_type: str, permission: str
    ) -> list[tuple[tuple[str, str], ...]] | None:
        """None when some granting scope is unrestricted; else the granular queries, any of which grants."""
        granting = [s for s in self.resources if s.covers(resource_type, permission)]
        if not granting or any(not s.query for s in granting):
            return None
        return [s.query for s in granting]
