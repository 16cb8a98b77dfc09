"""The search parameter table, built from the R4 SearchParameter definitions.

https://hl7.org/fhir/R4/searchparameter-registry.html - the data in fhir_server/spec/ is the
specification's own `search-parameters.json`, trimmed to the types Carnet stores. Profiles can add
their SearchParameters (PDSm's `isArchived`) through `register`.
"""

import json
from dataclasses import dataclass, field
from importlib import resources as importlib_resources

from fhir_server.indexing.fhirpath import Path, Unsupported, compile_expression
from fhir_server.resources import SUPPORTED_TYPES

SUPPORTED_PARAM_TYPES = ("token", "reference", "date", "string", "quantity", "uri", "number")
# Parameters handled by the search engine itself rather than by value extraction.
RESULT_PARAMETERS = frozenset(
    {
        "_count",
        "_sort",
        "_total",
        "_include",
        "_revinclude",
        "_summary",
        "_elements",
        "_format",
        "_pretty",
        "_cursor",
        "_contained",
        "_containedType",
    }
)


# Types whose every resource is written on every audited request, offered only the searches they
# are used for: an AuditEvent is searched for "who looked at my record" (by patient, date, agent,
# entity) and by when it was written, so it extracts and indexes those values and no others.
# Its other parameters are unknown to this server (ignored with a warning, or 400 when strict).
SEARCHED_ONLY_BY = {
    "AuditEvent": frozenset({"_id", "_lastUpdated", "patient", "date", "agent", "entity"}),
}


@dataclass(frozen=True)
class SearchParam:
    code: str
    type: str
    url: str
    description: str
    resource_type: str
    path: Path = field(compare=False, repr=False)
    targets: tuple[str, ...] = ()


class Registry:
    def __init__(self):
        self._by_type: dict[str, dict[str, SearchParam]] = {t: {} for t in SUPPORTED_TYPES}

    def register(self, definition: dict) -> None:
        """Add one SearchParameter resource; ignore what this server cannot evaluate."""
        if definition.get("type") not in SUPPORTED_PARAM_TYPES or not definition.get("expression"):
            return
        for base in definition.get("base", []):
            types = SUPPORTED_TYPES if base in ("Resource", "DomainResource") else (base,)
            for resource_type in types:
                if resource_type not in self._by_type:
                    continue
                only = SEARCHED_ONLY_BY.get(resource_type)
                if only is not None and definition["code"] not in only:
                    continue
                try:
                    path = compile_expression(definition["expression"], resource_type)
                except Unsupported:
                    continue
                targets = tuple(definition.get("target", ()))
                self._by_type[resource_type][definition["code"]] = SearchParam(
                    code=definition["code"],
                    type=definition["type"],
                    url=definition["url"],
                    description=definition.get("description", ""),
                    resource_type=resource_type,
                    path=path,
                    targets=targets,
                )

    def get(self, resource_type: str, code: str) -> SearchParam | None:
        return self._by_type.get(resource_type, {}).get(code)

    def for_type(self, resource_type: str) -> dict[str, SearchParam]:
        return self._by_type.get(resource_type, {})


def load_default() -> Registry:
    registry = Registry()
    bundle = json.loads(
        importlib_resources.files("fhir_server.spec").joinpath("search-parameters.json").read_text()
    )
    for entry in bundle["entry"]:
        registry.register(entry["resource"])
    return registry


REGISTRY = load_default()
