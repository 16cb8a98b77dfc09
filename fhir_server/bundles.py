"""Bundles the server returns: searchset and history. https://hl7.org/fhir/R4/bundle.html"""

from datetime import datetime
from urllib.parse import urlencode

from carnet_core.dates import date_range
from carnet_core.errors import BadRequest, Issue
from carnet_core.outcome import operation_outcome
from fhir_server.search import cursor
from fhir_server.search.engine import last_cursor
from fhir_server.shaping import summarize
from fhir_server.store.repository import instant


def _link(relation: str, url: str) -> dict:
    return {"relation": relation, "url": url}


def _url(base: str, params: list[tuple[str, str]], cursor: str | None = None) -> str:
    all_params = list(params) + ([("_cursor", cursor)] if cursor else [])
    return f"{base}?{urlencode(all_params)}" if all_params else base


def searchset(interactions, req, result, warnings: list[Issue]) -> dict:
    base = f"{interactions.base_url}/{req.resource_type}"
    this_cursor = cursor.encode(*req.cursor) if req.cursor else None
    links = [
        _link("self", _url(base, req.link_params, this_cursor)),
        _link("first", _url(base, req.link_params)),
    ]
    if result.total is not None and req.count > 0:
        links.append(_link("last", _url(base, req.link_params, last_cursor(req))))
    if result.next_cursor:
        links.append(_link("next", _url(base, req.link_params, result.next_cursor)))
    if result.prev_cursor:
        links.append(_link("previous", _url(base, req.link_params, result.prev_cursor)))
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    if result.total is not None:
        bundle["total"] = result.total
    bundle["link"] = links
    entries = []
    for mode, rows in (("match", result.matches), ("include", result.included)):
        for stored in rows:
            resource = summarize(interactions.resource_of(stored), req.summary, req.elements)
            entries.append(
                {
                    "fullUrl": f"{interactions.base_url}/{stored.resource_type}/{stored.id}",
                    "resource": resource,
                    "search": {"mode": mode},
                }
            )
    if warnings:
        entries.append({"resource": operation_outcome(warnings), "search": {"mode": "outcome"}})
    if entries:
        bundle["entry"] = entries
    return bundle


def history_params(
    params: list[tuple[str, str]], settings
) -> tuple[datetime | None, tuple | None, int]:
    since, before, count = None, None, settings.default_count
    for name, value in params:
        if name == "_since":
            try:
                since = date_range(value)[0]
            except ValueError as exc:
                raise BadRequest(
                    f"_since must be an instant, not '{value}'", expression=["_since"]
                ) from exc
        elif name == "_count":
            if not value.isdigit():
                raise BadRequest(
                    f"_count must be a non-negative whole number, not '{value}'",
                    expression=["_count"],
                )
            count = min(int(value), settings.max_count)
        elif name == "_cursor":
            direction, before = cursor.decode(value)
            if direction != "next":
                raise BadRequest("The paging cursor is not valid here", expression=["_cursor"])
    return since, before, count


def history_bundle(
    interactions, resource_type: str, id: str | None, params, rows, count: int
) -> dict:
    base = f"{interactions.base_url}/{resource_type}" + (f"/{id}" if id else "") + "/_history"
    kept = [(k, v) for k, v in params if k in ("_since", "_count")]
    links = [
        _link("self", _url(base, kept + [(k, v) for k, v in params if k == "_cursor"])),
        _link("first", _url(base, kept)),
    ]
    more = len(rows) > count
    rows = rows[:count]
    if more and rows:
        last = rows[-1]
        keys = [last.vid] if id else [last.last_updated, last.doc["_id"]]
        links.append(_link("next", _url(base, kept, cursor.encode("next", keys))))
    entries = []
    for stored in rows:
        url = f"{resource_type}/{stored.id}"
        entry: dict = {"fullUrl": f"{interactions.base_url}/{url}"}
        if stored.deleted:
            entry["request"] = {"method": "DELETE", "url": url}
            entry["response"] = {"status": "410 Gone", "lastModified": instant(stored.last_updated)}
        else:
            entry["resource"] = interactions.resource_of(stored)
            method = stored.doc.get("method", "PUT")
            entry["request"] = {
                "method": method if method in ("POST", "PATCH") else "PUT",
                "url": resource_type if method == "POST" else url,
            }
            # A create through update (PUT with a new id) is a creation too: 201.
            created = stored.doc.get("created", method == "POST")
            entry["response"] = {
                "status": "201 Created" if created else "200 OK",
                "etag": f'W/"{stored.vid}"',
                "lastModified": instant(stored.last_updated),
            }
        entries.append(entry)
    bundle = {"resourceType": "Bundle", "type": "history", "link": links}
    if entries:
        bundle["entry"] = entries
    return bundle
