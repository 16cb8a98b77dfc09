"""Document replacement: a DocumentReference with relatesTo `replaces` supersedes its target.

https://profiles.ihe.net/ITI/MHD/ITI-65.html#2365412-message-semantics - the replaced document's
status becomes `superseded` in the same transaction (PDSm: a new version of its metadata; the old
versions stay in its history). The target must be a stored document of the same record; whether
the caller may change it is the consent policy's decision, taken when the transaction writes it.

A sender may also state the supersession itself, as PDSM4DMP's replacement example (flux TD2.1)
does: a FHIRPath Patch (Parameters) entry replacing the target's status with `superseded`. That
entry is the supersession we perform anyway, and is answered with it rather than applied twice.
https://interop.esante.gouv.fr/ig/fhir/pdsm4dmp/transaction_td2.1.html
"""

import base64
import json
from dataclasses import dataclass

from carnet_core.context import AccessContext, operator_context
from carnet_core.errors import Conflict, InvalidResource
from fhir_server.interactions import parse_query_string
from fhir_server.search.engine import SearchEngine
from fhir_server.store.repository import Store

REPLACES = "replaces"
SUPERSEDE = [
    {"op": "test", "path": "/status", "value": "current"},
    {"op": "replace", "path": "/status", "value": "superseded"},
]


@dataclass
class Replacement:
    """One `replaces` link: where it is in the Bundle and the stored version it supersedes."""

    where: str
    target: str  # "DocumentReference/<id>"
    vid: int

    def entry(self) -> dict:
        """The transaction entry that supersedes the target (a PATCH, if it is still that version)."""
        patch = base64.b64encode(json.dumps(SUPERSEDE).encode()).decode()
        return {
            "resource": {
                "resourceType": "Binary",
                "contentType": "application/json-patch+json",
                "data": patch,
            },
            "request": {"method": "PATCH", "url": self.target, "ifMatch": f'W/"{self.vid}"'},
        }


class Replacements:
    def __init__(self, store: Store, engine: SearchEngine, base_url: str):
        self.store = store
        self.engine = engine
        self.base_url = base_url

    def plan(
        self, ctx: AccessContext, entries: list, kept: list[int], patient: str
    ) -> list[Replacement]:
        """The documents the kept entries replace, checked; their targets become literal references."""
        found: dict[str, Replacement] = {}
        for index in kept:
            resource = entries[index].get("resource") or {}
            if resource.get("resourceType") != "DocumentReference":
                continue
            for position, relation in enumerate(resource.get("relatesTo") or []):
                if not isinstance(relation, dict) or relation.get("code") != REPLACES:
                    continue
                where = f"Bundle.entry[{index}].resource.relatesTo[{position}].target"
                target = relation.get("target")
                if not isinstance(target, dict):
                    raise InvalidResource(f"{where} is required", expression=[where])
                replacement = self._check(ctx, target, patient, where)
                if replacement.target in found:
                    raise InvalidResource(
                        f"{where}: {replacement.target} is already replaced by "
                        f"{found[replacement.target].where}; a document is replaced once",
                        expression=[where],
                    )
                found[replacement.target] = replacement
                target["reference"] = replacement.target
        return list(found.values())

    def _check(self, ctx: AccessContext, target: dict, patient: str, where: str) -> Replacement:
        id = self._target_id(target, patient, where)
        operator = operator_context("ingestion")
        stored = self.store.find(operator, "DocumentReference", {"_id": id}, limit=1) if id else []
        # A document the caller cannot see is "not known" to it, wherever it is.
        visible = stored and self.store.find(
            ctx, "DocumentReference", {"_id": id}, projection={"_id": 1}, limit=1
        )
        if not visible:
            raise InvalidResource(
                f"{where}: the document to replace ({_shown(target)}) is not known",
                code="not-found",
                expression=[where],
            )
        doc = stored[0]
        if doc["pk"] != patient:
            raise InvalidResource(
                f"{where}: DocumentReference/{id} is in another patient's record; a document "
                "replaces one of the same record",
                expression=[where],
            )
        status = (doc.get("res") or {}).get("status")
        if status != "current":
            raise Conflict(
                f"{where}: DocumentReference/{id} is {status} already; only a current document "
                "is replaced",
                expression=[where],
            )
        return Replacement(where, f"DocumentReference/{id}", doc["vid"])

    def _target_id(self, target: dict, patient: str, where: str) -> str | None:
        """The id a target names: literally, or by identifier (masterIdentifier) in the record."""
        reference = target.get("reference")
        if isinstance(reference, str) and not reference.startswith("DocumentReference?"):
            parts = reference.removeprefix(self.base_url + "/").split("/")
            literal = len(parts) == 2 or (len(parts) == 4 and parts[2] == "_history")
            if literal and parts[0] == "DocumentReference" and parts[1]:
                return parts[1]
            raise InvalidResource(
                f"{where}: {reference!r} does not name a stored DocumentReference",
                expression=[where],
            )
        if isinstance(reference, str):
            params = parse_query_string(reference)
        elif isinstance(target.get("identifier"), dict) and target["identifier"].get("value"):
            identifier = target["identifier"]
            params = [("identifier", f"{identifier.get('system', '')}|{identifier['value']}")]
        else:
            raise InvalidResource(
                f"{where} names no document (reference or identifier)", expression=[where]
            )
        operator = operator_context("ingestion")
        req = self.engine.parse(
            operator, "DocumentReference", [*params, ("patient", patient)], strict=True
        )
        found = self.store.find(
            operator, "DocumentReference", req.query(), projection={"_id": 1}, limit=2
        )
        if len(found) > 1:
            raise InvalidResource(
                f"{where}: {_shown(target)} names several documents", expression=[where]
            )
        return found[0]["_id"] if found else None


def stated_supersessions(
    entries: list, kept: list[int], replacing: list[Replacement], base_url: str
) -> dict[int, int]:
    """Kept entries that only state a supersession we perform: entry index -> position in `replacing`.

    Such an entry is a PATCH of a document being replaced, of the version we supersede if it names
    one (`ifMatch`), whose body is a FHIRPath Patch (fhirpatch.html) made only of
    `replace DocumentReference.status` with `superseded`.
    """
    targets = {replacement.target: position for position, replacement in enumerate(replacing)}
    stated = {}
    for index in kept:
        entry = entries[index]
        request = entry.get("request") or {}
        url = request.get("url")
        if request.get("method") != "PATCH" or not isinstance(url, str):
            continue
        position = targets.get(url.removeprefix(base_url + "/"))
        if position is None or not _only_supersedes(entry.get("resource")):
            continue
        version = request.get("ifMatch")
        if version is None or version == f'W/"{replacing[position].vid}"':
            stated[index] = position
    return stated


def _only_supersedes(parameters) -> bool:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        return False
    operations = parameters.get("parameter")
    if not isinstance(operations, list) or not operations:
        return False
    expected = {
        ("type", "valueCode", "replace"),
        ("path", "valueString", "DocumentReference.status"),
        ("value", "valueCode", "superseded"),
    }
    for operation in operations:
        if not isinstance(operation, dict) or operation.get("name") != "operation":
            return False
        parts = operation.get("part")
        if not isinstance(parts, list):
            return False
        found = set()
        for part in parts:
            if not isinstance(part, dict):
                return False
            values = [(key, value) for key, value in part.items() if key.startswith("value")]
            if len(values) != 1 or not isinstance(values[0][1], str):
                return False
            found.add((part.get("name"), *values[0]))
        if found != expected or len(parts) != len(expected):
            return False
    return True


def _shown(target: dict) -> str:
    if isinstance(target.get("reference"), str):
        return target["reference"]
    identifier = target.get("identifier") or {}
    return f"identifier {identifier.get('system', '')}|{identifier.get('value', '')}"
