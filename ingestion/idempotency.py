"""Idempotent ITI-65: a document the record already holds (same masterIdentifier) is not stored again.

https://profiles.ihe.net/ITI/MHD/ITI-65.html - DocumentReference.masterIdentifier is the XDS
DocumentEntry.uniqueId: it names one document for good. A push that repeats it (a retry after a
lost answer) is answered with the stored document and its Binary, storing neither again; the same
uniqueId with other content is refused (XDS: XDSDocumentUniqueIdError), as is a retried
SubmissionSet (same uniqueId) that brings documents it did not hold.
"""

from dataclasses import dataclass, field

from carnet_core.context import AccessContext, operator_context
from carnet_core.errors import Conflict, InvalidResource
from fhir_server.search.engine import SearchEngine
from fhir_server.store.claims import Claim, identifier_key
from fhir_server.store.repository import Store, instant
from fhir_server.store.unit_of_work import UnitOfWork
from profiles.bundle_rules import MHD_LIST_TYPES


@dataclass
class Known:
    """What the record already holds: entry index -> its response entry; fullUrl -> reference."""

    answers: dict[int, dict] = field(default_factory=dict)
    references: dict[str, str] = field(default_factory=dict)


def _escape(text: str) -> str:
    """A system or value as a search token part (search.html#escaping)."""
    for char in ("\\", ",", "|", "$"):
        text = text.replace(char, "\\" + char)
    return text


def _token(identifier) -> str | None:
    if not isinstance(identifier, dict) or not isinstance(identifier.get("value"), str):
        return None
    return f"{identifier.get('system', '')}|{identifier['value']}"


def _urls(resource: dict) -> list[str | None]:
    return [
        ((c.get("attachment") or {}).get("url") if isinstance(c, dict) else None)
        for c in resource.get("content") or []
    ]


def _hashes(resource: dict) -> list[str | None]:
    return [
        ((c.get("attachment") or {}).get("hash") if isinstance(c, dict) else None)
        for c in resource.get("content") or []
    ]


def is_submission_set(resource: dict) -> bool:
    """A List coded as an MHD SubmissionSet (any other resource's `code` may be anything)."""
    code = resource.get("code") if resource.get("resourceType") == "List" else None
    codings = code.get("coding") if isinstance(code, dict) else None
    return isinstance(codings, list) and any(
        isinstance(c, dict)
        and c.get("system") == MHD_LIST_TYPES
        and c.get("code") == "submissionset"
        for c in codings
    )


class Duplicates:
    def __init__(self, store: Store, engine: SearchEngine, base_url: str):
        self.store = store
        self.engine = engine
        self.base_url = base_url

    def find(self, ctx: AccessContext, entries: list, patient: str) -> Known:
        """The entries of a push that the record of `patient` already holds."""
        known = Known()
        documents = {
            index: entry["resource"]
            for index, entry in enumerate(entries)
            if entry["resource"].get("resourceType") == "DocumentReference"
            and _token(entry["resource"].get("masterIdentifier"))
        }
        tokens: dict[str, int] = {}
        for index, resource in documents.items():
            token = _token(resource["masterIdentifier"])
            if token in tokens:
                where = f"Bundle.entry[{index}].resource.masterIdentifier"
                raise InvalidResource(
                    f"{where}: {token} is also the masterIdentifier of Bundle.entry[{tokens[token]}]",
                    expression=[where],
                )
            tokens[token] = index
        stored = {
            _token(doc["res"].get("masterIdentifier")): doc
            for doc in self._stored("DocumentReference", patient, list(tokens))
        }
        kept_urls: set[str] = set()
        repeated: dict[str, str] = {}  # a repeated document's Binary fullUrl -> the stored one
        for token, index in tokens.items():
            resource, doc = documents[index], stored.get(token)
            if doc is None:
                kept_urls |= {u for u in _urls(resource) if u}
                continue
            self._same_document(ctx, doc, resource, f"Bundle.entry[{index}].resource")
            known.answers[index] = self._answer("DocumentReference", doc)
            if entries[index].get("fullUrl"):
                known.references[entries[index]["fullUrl"]] = f"DocumentReference/{doc['_id']}"
            for sent, kept in zip(_urls(resource), _urls(doc["res"]), strict=False):
                if sent and kept:
                    repeated[sent] = kept
        for index, entry in enumerate(entries):
            url = entry.get("fullUrl")
            if entry["resource"].get("resourceType") == "Binary" and url in repeated:
                if url not in kept_urls:
                    known.answers[index] = self._binary_answer(repeated[url])
                    known.references[url] = repeated[url]
        self._submission_set(entries, patient, known)
        return known

    def claims(
        self, entries: list, answers: dict[int, dict], patient: str
    ) -> list[tuple[Claim, str]]:
        """(claim, id) of each document a push stores: one masterIdentifier, one document of the
        record (fhir_server.store.claims), the claim of a document no longer carrying it lapsing.

        `answers`: the response entries of the stored entries, by index."""
        out = []
        for index, answer in answers.items():
            resource = entries[index]["resource"]
            token = _token(resource.get("masterIdentifier"))
            if resource.get("resourceType") != "DocumentReference" or token is None:
                continue
            location = answer["response"]["location"].split("/_history/")[0]
            system, value = token.split("|", 1)

            def holds(id: str, uow: UnitOfWork, token=token) -> bool:
                found = self.store.find(
                    operator_context("ingestion"),
                    "DocumentReference",
                    {"_id": id, "pk": patient},
                    projection={"res.masterIdentifier": 1},
                    limit=1,
                    uow=uow,
                )
                return bool(found) and _token(found[0]["res"].get("masterIdentifier")) == token

            claim = Claim(
                identifier_key("DocumentReference", patient, system, value),
                "DocumentReference",
                f"The document {token}",
                holds,
            )
            out.append((claim, location.rsplit("/", 1)[-1]))
        return out

    def _stored(self, resource_type: str, patient: str, tokens: list[str]) -> list[dict]:
        """Stored resources of the record with one of these identifiers (one indexed query)."""
        if not tokens:
            return []
        value = ",".join(
            "|".join(_escape(part) for part in token.split("|", 1)) for token in tokens
        )
        operator = operator_context("ingestion")
        req = self.engine.parse(
            operator, resource_type, [("patient", patient), ("identifier", value)], strict=True
        )
        return self.store.find(operator, resource_type, req.query(), limit=2 * len(tokens))

    def _same_document(self, ctx, doc: dict, resource: dict, where: str) -> None:
        """A repeat of a stored document is the caller's own, with the same content."""
        token = _token(resource["masterIdentifier"])
        visible = self.store.find(
            ctx, "DocumentReference", {"_id": doc["_id"]}, projection={"_id": 1}, limit=1
        )
        if not visible:
            raise Conflict(
                f"{where}.masterIdentifier: {token} already names a document of this record "
                "that this caller did not deposit; a new document takes a new masterIdentifier",
                expression=[f"{where}.masterIdentifier"],
            )
        if _hashes(resource) != _hashes(doc["res"]):
            raise Conflict(
                f"{where}.masterIdentifier: {token} already names another document (its content "
                "differs); a new version takes a new masterIdentifier and relatesTo replaces",
                expression=[f"{where}.masterIdentifier"],
            )

    def _submission_set(self, entries: list, patient: str, known: Known) -> None:
        """A retried SubmissionSet is answered by the stored one if it brings nothing new."""
        for index, entry in enumerate(entries):
            resource = entry["resource"]
            if not is_submission_set(resource):
                continue
            tokens = [t for t in map(_token, resource.get("identifier") or []) if t]
            stored = self._stored("List", patient, tokens)
            if not stored:
                continue
            documents = [
                i
                for i, e in enumerate(entries)
                if e["resource"].get("resourceType") == "DocumentReference"
            ]
            if any(i not in known.answers for i in documents):
                where = f"Bundle.entry[{index}].resource.identifier"
                raise Conflict(
                    f"{where}: this SubmissionSet's identifier was used by an earlier submission "
                    "to this record; a new submission takes a new uniqueId",
                    expression=[where],
                )
            known.answers[index] = self._answer("List", stored[0])
            if entry.get("fullUrl"):
                known.references[entry["fullUrl"]] = f"List/{stored[0]['_id']}"

    def _answer(self, resource_type: str, doc: dict) -> dict:
        """The response entry pointing at a stored resource: 200, nothing created."""
        return {
            "response": {
                "status": "200 OK",
                "location": f"{self.base_url}/{resource_type}/{doc['_id']}/_history/{doc['vid']}",
                "etag": f'W/"{doc["vid"]}"',
                "lastModified": instant(doc["lu"]),
            }
        }

    def _binary_answer(self, url: str) -> dict:
        id = url.removeprefix(self.base_url + "/").removeprefix("Binary/")
        found = self.store.find(
            operator_context("ingestion"),
            "Binary",
            {"_id": id},
            projection={"vid": 1, "lu": 1},
            limit=1,
        )
        if found:
            return self._answer("Binary", {"_id": id, **found[0]})
        return {"response": {"status": "200 OK", "location": f"{self.base_url}/Binary/{id}"}}
