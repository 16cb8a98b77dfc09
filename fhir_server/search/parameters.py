"""One search parameter, with its modifier and values, as a MongoDB predicate: https://hl7.org/fhir/R4/search.html#ptypes

Plain parameters only (no chains, no `_has`): compiling them needs the SearchParameter registry and
the server's base URL, never a query of its own. So it is built before the store, for those who
compile searches the store itself runs: the scope enforcer (granular scopes, smart_auth.enforcement)
and the policy's facts (consent.facts). The search engine (fhir_server.search.engine) adds chains,
`_has` and the result parameters around it.
"""

from carnet_core.errors import BadRequest
from fhir_server.indexing.registry import RESULT_PARAMETERS, Registry, SearchParam
from fhir_server.resources import is_supported
from fhir_server.search import compile


class ParameterCompiler:
    def __init__(self, registry: Registry, base_url: str):
        self.registry = registry
        self.base_url = base_url

    def plain(self, param: SearchParam, modifier: str | None, name: str, raw: str) -> dict:
        """`name=raw` (its values comma-separated) for a parameter `param` of the searched type."""
        if modifier == "missing":
            return compile.missing(param, raw)
        if modifier and param.type == "reference":
            if modifier != "identifier" and not is_supported(modifier):
                raise BadRequest(
                    f"Unknown modifier ':{modifier}' for reference parameter '{param.code}'",
                    expression=[name],
                )
        elif modifier and modifier not in compile.MODIFIERS.get(param.type, ()):
            raise BadRequest(
                f"Modifier ':{modifier}' is not supported for {param.type} parameter '{param.code}'",
                code="not-supported",
                expression=[name],
            )
        alternatives = [self.value(param, modifier, value) for value in compile.split_or(raw)]
        if modifier == "not" and len(alternatives) > 1:
            return {"$and": alternatives}
        return compile.any_of(alternatives)

    def value(self, param: SearchParam, modifier: str | None, value: str) -> dict:
        """One of a parameter's values."""
        if param.type == "reference":
            return compile.reference(param, modifier, value, self.base_url)
        return compile.COMPILERS[param.type](param, modifier, value)

    def compile_params(self, resource_type: str, params: tuple[tuple[str, str], ...]) -> dict:
        """A granular scope's parameters (or the policy's own searches) as a predicate: plain
        parameters only, no chains or _has, so compiling needs no query of its own."""
        filters: list[dict] = []
        unknown: list[str] = []
        for name, raw in params:
            if "." in name or name.startswith("_has") or name.split(":")[0] in RESULT_PARAMETERS:
                raise BadRequest(f"A scope's search cannot use '{name}'", expression=[name])
            code, _, modifier = name.partition(":")
            param = self.registry.get(resource_type, code)
            if param is None:
                unknown.append(name)
                continue
            filters.append(self.plain(param, modifier or None, name, raw))
        if unknown:
            raise BadRequest(f"Unknown search parameter(s) in scope: {', '.join(unknown)}")
        if len(filters) == 1:
            return filters[0]
        return {"$and": filters} if filters else {}
