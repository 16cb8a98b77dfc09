"""The FHIR RESTful interactions, framework-free: https://hl7.org/fhir/R4/http.html

Each method takes the caller's AccessContext and returns a Reply; the Flask routes and the
batch/transaction processor are thin callers. Conditional operations are written once, over search.
"""

import copy
import email.utils
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import jsonpatch
import jsonpointer

from carnet_core.context import AccessContext
from carnet_core.errors import (
    BadRequest,
    FhirError,
    InvalidResource,
    MethodNotAllowed,
    NotFound,
    PreconditionFailed,
)
from carnet_core.outcome import information
from consent import labels
from fhir_server import fhirpath_patch, resources
from fhir_server.search.engine import SearchEngine, unknown_outcome
from fhir_server.shaping import summarize
from fhir_server.store.binary import BlobStore
from fhir_server.store.claims import Claim, conditional_create_key, retrying
from fhir_server.store.repository import Store, Stored, new_id
from fhir_server.store.unit_of_work import UnitOfWork
from fhir_server.validation import ProfileCheck, validate

_ETAG = re.compile(r'^(W/)?"?(\d+)"?$')

# What the server does after a resource is written or deleted, in the same unit of work (the
# patient's profile, fhir_server.profile): the caller, the version stored (a deletion: no
# resource) and the unit of work. It raises to undo the whole write.
FollowUp = Callable[[AccessContext, "Stored", UnitOfWork], None]


@dataclass
class Reply:
    status: int
    body: dict | bytes | Iterator[bytes] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None


def parse_etag(value: str | None) -> int | None:
    if value is None:
        return None
    m = _ETAG.match(value.strip())
    if not m:
        raise BadRequest(
            f"If-Match must be an ETag such as W/\"3\", not '{value}'", expression=["If-Match"]
        )
    return int(m.group(2))


def version_headers(stored: Stored, base_url: str) -> dict[str, str]:
    return {
        "ETag": f'W/"{stored.vid}"',
        "Last-Modified": email.utils.format_datetime(
            stored.last_updated.astimezone(UTC), usegmt=True
        ),
        "Content-Location": f"{base_url}/{stored.resource_type}/{stored.id}/_history/{stored.vid}",
    }


class Interactions:
    def __init__(
        self,
        store: Store,
        engine: SearchEngine,
        blobs: BlobStore,
        base_url: str,
        profile_checks: list[ProfileCheck] | None = None,
        follow_ups: list[FollowUp] | None = None,
        summary=None,
        masking=None,
    ):
        self.store = store
        self.engine = engine
        self.blobs = blobs
        self.base_url = base_url
        self.profile_checks = profile_checks or []
        self.follow_ups = follow_ups or []
        # The patient's profile operations (fhir_server.profile): $summary, a record's $mask.
        self.summary = summary
        self.masking = masking

    # -- helpers ----------------------------------------------------------------------------
    def check_type(self, ctx: AccessContext, resource_type: str, interaction: str) -> None:
        """The type exists here and the token's scopes allow this interaction on it (else 403)."""
        if not resources.is_supported(resource_type):
            raise NotFound(
                f"Resource type '{resource_type}' is not supported by this server",
                code="not-supported",
            )
        self.store.enforcer.require(ctx, resource_type, interaction)

    def _check_writable(self, ctx: AccessContext, resource_type: str, interaction: str) -> None:
        if resource_type in resources.READ_ONLY_TYPES:
            raise MethodNotAllowed(
                f"{resource_type} is written by the server only; it cannot be changed through the API",
                headers={"Allow": "GET, HEAD"},
            )
        self.check_type(ctx, resource_type, interaction)

    def _check_id(self, id: str) -> None:
        if not resources.is_valid_id(id):
            raise BadRequest(
                f"'{id}' is not a valid FHIR id ([A-Za-z0-9-.]{{1,64}})", expression=["id"]
            )

    def resource_of(self, stored: Stored) -> dict:
        if stored.resource_type == "Binary" and stored.resource is not None:
            return self.blobs.materialize(stored.doc, stored.resource)
        return stored.resource

    def _written(self, stored: Stored, created: bool, prefer: str | None) -> Reply:
        headers = version_headers(stored, self.base_url)
        status = 201 if created else 200
        if created:
            headers["Location"] = headers["Content-Location"]
        if prefer == "minimal":
            return Reply(status, None, headers)
        if prefer == "OperationOutcome":
            verb = "created" if created else "updated"
            return Reply(
                status,
                information(f"{stored.resource_type}/{stored.id} {verb} (version {stored.vid})"),
                headers,
            )
        return Reply(status, self.resource_of(stored), headers)

    def write(self, ctx: AccessContext, resource: dict, *, uow=None, **options):
        """Store a version (fhir_server.store.Store.write, `options` as its) and run the
        follow-ups in the same unit of work. Returns (stored, created)."""
        with self.store.unit_of_work(uow) as tx:
            stored, created = self.store.write(ctx, resource, uow=tx, **options)
            for follow in self.follow_ups:
                follow(ctx, stored, tx)
            return stored, created

    def _prepare_binary(self, resource_type: str):
        if resource_type != "Binary":
            return None
        return self.blobs.offload

    def conditional_match(self, ctx, resource_type: str, query: str, what: str) -> dict | None:
        """The one resource a conditional operation's search names, None if none; 412 if several.

        https://hl7.org/fhir/R4/http.html#cond-update - the search sees what `ctx` may see.
        """
        found = self.store.find(
            ctx,
            resource_type,
            self._conditional_query(ctx, resource_type, query, what),
            sort=[("_id", 1)],
            limit=2,
        )
        if len(found) > 1:
            raise PreconditionFailed(
                f"The {what} search '{query}' matches several {resource_type} resources"
            )
        return found[0] if found else None

    def _conditional_target(
        self, ctx, resource_type: str, query: str, interaction: str
    ) -> str | None:
        """The id a conditional update, patch or delete acts on: its search's one match, if any."""
        self._check_writable(ctx, resource_type, interaction)
        found = self.conditional_match(ctx, resource_type, query, f"conditional {interaction}")
        return found["_id"] if found else None

    def _conditional_query(self, ctx, resource_type: str, query: str, what: str) -> dict:
        params = parse_query_string(query)
        if not params:
            raise BadRequest(f"A conditional {what} needs search parameters", expression=[what])
        return self.engine.parse(ctx, resource_type, params, strict=True).query()

    def creation_claim(self, ctx, resource_type: str, query: str) -> Claim:
        """The unique key a conditional create holds (fhir_server.store.claims): the claim of an
        earlier create stands while its resource still matches the search, as `ctx` sees it."""
        search = self._conditional_query(ctx, resource_type, query, "If-None-Exist")

        def holds(id: str, uow: UnitOfWork) -> bool:
            both = {"$and": [{"_id": id}, search]} if search else {"_id": id}
            return bool(
                self.store.find(ctx, resource_type, both, limit=1, projection={"_id": 1}, uow=uow)
            )

        key = conditional_create_key(resource_type, parse_query_string(query))
        return Claim(key, resource_type, f"The {resource_type} of '{query}'", holds)

    # -- read -------------------------------------------------------------------------------
    def read(
        self, ctx: AccessContext, resource_type: str, id: str, summary=None, elements=None
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#read"""
        self.check_type(ctx, resource_type, "read")
        stored = self.store.read(ctx, resource_type, id)
        body = summarize(self.resource_of(stored), summary, elements)
        return Reply(200, body, version_headers(stored, self.base_url))

    def vread(self, ctx: AccessContext, resource_type: str, id: str, vid: str) -> Reply:
        """https://hl7.org/fhir/R4/http.html#vread"""
        self.check_type(ctx, resource_type, "vread")
        if not vid.isdigit():
            raise NotFound(f"{resource_type}/{id}/_history/{vid} is not known")
        stored = self.store.vread(ctx, resource_type, id, int(vid))
        return Reply(200, self.resource_of(stored), version_headers(stored, self.base_url))

    def binary_content(self, ctx: AccessContext, id: str) -> Reply:
        """The native content of a Binary (binary.html#rest), e.g. ITI-68 Retrieve Document."""
        self.check_type(ctx, "Binary", "read")
        stored = self.store.read(ctx, "Binary", id)
        content = self.blobs.content(stored.doc) or b""
        headers = version_headers(stored, self.base_url)
        return Reply(
            200, content, headers, stored.resource.get("contentType", "application/octet-stream")
        )

    # -- create / update / patch / delete ---------------------------------------------------
    def create(
        self,
        ctx: AccessContext,
        resource_type: str,
        body: dict,
        *,
        prefer: str | None = None,
        if_none_exist: str | None = None,
        uow: UnitOfWork | None = None,
        assigned_id: str | None = None,
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#create, conditional create with If-None-Exist.

        A conditional create claims its search's key with the new resource; if a concurrent one
        got there first, the search runs again and finds its resource (a caller's unit of work
        `uow` is undone and retried whole by its owner: ClaimTaken goes up)."""
        self._check_writable(ctx, resource_type, "create")
        validate(body, resource_type, self.profile_checks)
        resource = {**body, "id": assigned_id or new_id()}

        def attempt() -> Reply:
            claim = None
            if if_none_exist:
                found = self.conditional_match(ctx, resource_type, if_none_exist, "If-None-Exist")
                if found:
                    stored = Stored.of_current(resource_type, found)
                    reply = self._written(stored, False, prefer)
                    reply.headers.pop("Location", None)
                    return reply
                claim = self.creation_claim(ctx, resource_type, if_none_exist)
            stored, _ = self.write(
                ctx,
                resource,
                method="POST",
                must_be_new=True,
                uow=uow,
                prepare=self._prepare_binary(resource_type),
                claim=claim,
            )
            return self._written(stored, True, prefer)

        return attempt() if uow is not None else retrying(attempt)

    def update(
        self,
        ctx: AccessContext,
        resource_type: str,
        id: str,
        body: dict,
        *,
        if_match: str | None = None,
        prefer: str | None = None,
        uow: UnitOfWork | None = None,
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#update (create through update allowed)."""
        self._check_writable(ctx, resource_type, "update")
        self._check_id(id)
        validate(body, resource_type, self.profile_checks)
        if body.get("id") != id:
            raise BadRequest(
                f"The resource's id ({body.get('id')!r}) must equal the id in the URL ('{id}')",
                expression=[f"{resource_type}.id"],
            )

        def attempt() -> tuple[Stored, bool]:
            return self.write(
                ctx,
                body,
                method="PUT",
                expected_vid=parse_etag(if_match),
                uow=uow,
                prepare=self._prepare_binary(resource_type),
            )

        # A follow-up's claim lost to a concurrent write (fhir_server.store.claims): run again.
        stored, created = attempt() if uow is not None else retrying(attempt)
        return self._written(stored, created, prefer)

    def conditional_update(
        self, ctx, resource_type: str, query: str, body: dict, *, if_match=None, **options
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#cond-update; `options` as update's (prefer, uow)."""
        id = self._conditional_target(ctx, resource_type, query, "update")
        if id is None:
            if body.get("id"):
                return self.update(ctx, resource_type, body["id"], body, **options)
            return self.create(ctx, resource_type, body, **options)
        if body.get("id") not in (None, id):
            raise BadRequest(
                f"The resource's id ({body['id']!r}) differs from the matched resource ('{id}')",
                expression=[f"{resource_type}.id"],
            )
        return self.update(ctx, resource_type, id, {**body, "id": id}, if_match=if_match, **options)

    def patch(
        self,
        ctx: AccessContext,
        resource_type: str,
        id: str,
        operations,
        *,
        if_match=None,
        prefer=None,
        uow=None,
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#patch with JSON Patch (RFC 6902) or FHIRPath Patch
        (fhirpatch.html)."""
        self._check_writable(ctx, resource_type, "patch")
        current = self.store.read(ctx, resource_type, id, uow=uow)
        expected = parse_etag(if_match)
        if expected is not None and expected != current.vid:
            raise PreconditionFailed(
                f"Version conflict on {resource_type}/{id}: If-Match asked for version {expected}, "
                f"the current version is {current.vid}"
            )
        patched = self._patched(current, resource_type, operations)
        if not isinstance(patched, dict):
            raise InvalidResource("The patched resource is not a JSON object", code="processing")
        if patched.get("id") != id or patched.get("resourceType") != resource_type:
            raise InvalidResource(
                "A patch cannot change the resource's id or resourceType", code="processing"
            )
        validate(patched, resource_type, self.profile_checks)
        stored, _ = self.write(
            ctx,
            patched,
            method="PATCH",
            expected_vid=current.vid,
            uow=uow,
            prepare=self._prepare_binary(resource_type),
        )
        return self._written(stored, False, prefer)

    def _patched(self, current: Stored, resource_type: str, operations) -> Any:
        """The resource after a FHIRPath Patch (a Parameters) or a JSON Patch (a list)."""
        if isinstance(operations, dict):
            return fhirpath_patch.apply(
                copy.deepcopy(self.resource_of(current)), resource_type, operations
            )
        if not isinstance(operations, list):
            raise BadRequest("A JSON Patch document is an array of operations")
        try:
            patch = jsonpatch.JsonPatch(operations)
        except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
            raise BadRequest(f"Invalid JSON Patch: {exc}") from exc
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise BadRequest(f"Invalid JSON Patch: {exc}") from exc
        try:
            patched = patch.apply(copy.deepcopy(self.resource_of(current)))
        except jsonpatch.InvalidJsonPatch as exc:
            raise BadRequest(f"Invalid JSON Patch: {exc}") from exc
        except (
            jsonpatch.JsonPatchConflict,
            jsonpatch.JsonPatchTestFailed,
            jsonpointer.JsonPointerException,
        ) as exc:
            # Never echo the stored document back in the diagnostics (jsonpointer does).
            reason = str(exc).split(" in {", 1)[0]
            raise InvalidResource(
                f"The patch cannot be applied: {reason}", code="processing"
            ) from exc
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            raise BadRequest(f"Invalid JSON Patch: {exc}") from exc
        return patched

    def conditional_patch(
        self, ctx, resource_type: str, query: str, operations, **options
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#patch on a search's one match (404 on none);
        `options` as patch's (if_match, prefer, uow)."""
        id = self._conditional_target(ctx, resource_type, query, "patch")
        if id is None:
            raise NotFound(f"The conditional patch matches no {resource_type}")
        return self.patch(ctx, resource_type, id, operations, **options)

    def delete(self, ctx, resource_type: str, id: str, *, if_match=None, uow=None) -> Reply:
        """https://hl7.org/fhir/R4/http.html#delete - logical; deleting twice is not an error."""
        self._check_writable(ctx, resource_type, "delete")
        self._check_id(id)
        with self.store.unit_of_work(uow) as tx:
            stored = self.store.delete(
                ctx, resource_type, id, expected_vid=parse_etag(if_match), uow=tx
            )
            for follow in self.follow_ups if stored is not None else ():
                follow(ctx, stored, tx)
        if stored is None:
            return Reply(204)
        return Reply(204, None, {"ETag": f'W/"{stored.vid}"'})

    def conditional_delete(self, ctx, resource_type: str, query: str, *, uow=None) -> Reply:
        """https://hl7.org/fhir/R4/http.html#3.1.0.7.1 - single match only (412 on several)."""
        id = self._conditional_target(ctx, resource_type, query, "delete")
        return Reply(204) if id is None else self.delete(ctx, resource_type, id, uow=uow)

    def mask(self, ctx: AccessContext, id: str, masked: bool, *, prefer=None, uow=None) -> Reply:
        """`$mask` / `$unmask` on a DocumentReference: a new version with MASQUE_PS set or lifted."""
        self._check_writable(ctx, "DocumentReference", "update")
        current = self.store.read(ctx, "DocumentReference", id, uow=uow)
        if labels.is_masked(current.resource) == masked:
            return Reply(200, current.resource, version_headers(current, self.base_url))
        stored, _ = self.store.write(
            ctx,
            labels.with_mask(current.resource, masked),
            method="PUT",
            expected_vid=current.vid,
            uow=uow,
        )
        return self._written(stored, False, prefer)

    def patient_summary(self, ctx: AccessContext, id: str) -> Reply:
        """`Patient/{id}/$summary` (fhir_server.profile.summary)."""
        self._check_id(id)
        return Reply(200, self.summary.bundle(ctx, id))

    def mask_record(self, ctx: AccessContext, id: str, masked: bool, params, *, uow=None) -> Reply:
        """`Patient/{id}/$mask`, `$unmask` (fhir_server.profile.masking)."""
        self._check_id(id)
        return Reply(200, self.masking.mask(ctx, id, masked, params, uow))

    # -- search and history -------------------------------------------------------------------
    def search(
        self,
        ctx: AccessContext,
        resource_type: str,
        params: list[tuple[str, str]],
        *,
        strict: bool = False,
        compartment: str | None = None,
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#search; in a patient's compartment
        (`Patient/[id]/[type]`, compartmentdefinition.html) when `compartment` names the patient."""
        self.check_type(ctx, resource_type, "search-type")
        req = self.engine.parse(ctx, resource_type, params, strict)
        if compartment is not None:
            self._check_id(compartment)
            # `pk` is the record a resource belongs to, decided by the compartment's parameters.
            req.filters.append({"pk": f"Patient/{compartment}"})
            req.path = f"Patient/{compartment}/{resource_type}"
        result = self.engine.execute(ctx, req)
        from fhir_server.bundles import searchset

        warnings = [unknown_outcome(resource_type, req.unknown)] if req.unknown else []
        bundle = searchset(self, req, result, warnings + result.notes)
        return Reply(200, bundle)

    def history(
        self, ctx: AccessContext, resource_type: str, id: str | None, params: list[tuple[str, str]]
    ) -> Reply:
        """https://hl7.org/fhir/R4/http.html#history (instance and type)."""
        self.check_type(ctx, resource_type, "history-type" if id is None else "history-instance")
        from fhir_server.bundles import history_bundle, history_params

        since, before, count = history_params(params, self.engine.settings)
        if id is not None and not self.store.has_history(ctx, resource_type, id):
            raise NotFound(
                f"{resource_type}/{id} is not known", expression=[f"{resource_type}/{id}"]
            )
        rows = self.store.history(
            ctx, resource_type, id, since=since, before=before, limit=count + 1
        )
        return Reply(200, history_bundle(self, resource_type, id, params, rows, count))


def parse_query_string(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    if "?" in query:
        query = query.split("?", 1)[1]
    try:
        return parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise BadRequest(f"Malformed search parameters: '{query}'") from exc


__all__ = ["Interactions", "Reply", "FhirError", "parse_query_string"]
