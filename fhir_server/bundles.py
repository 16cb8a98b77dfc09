"""Bundles the server returns: searchset and history. https://hl7.org/fhir/R4/bundle.html"""

from datetime import datetime
from urllib.parse import urlencode

from carnet_core.dates import date_range
from carnet_core.errors import BadRequest, Issue
from carnet_core.outcome import operation_outcome
from fhir_server.search import cursor
from fhir_server.search.engine import last_cursor
from fhir_server.shaping import summarize
from fhir_server.store.repository import Stored, instant


def _link(relation: str, url: str) -> dict:
    return {"relation": relation, "url": url}


def _url(base: str, params: list[tuple[str, str]], cursor: str | None = None) -> str:
    all_params = list(params) + ([("_cursor", cursor)] if cursor else [])
    return f"{base}?{urlencode(all_params)}" if all_params else base


def searchset(interactions, req, result, warnings: list[Issue]) -> dict:
    this_cursor = cursor.encode(*req.cursor) if req.cursor else None
    rows = [("match", r) for r in result.matches] + [("include", r) for r in result.included]
    return page_bundle(
        interactions,
        req.path or req.resource_type,
        req.link_params,
        rows,
        total=result.total,
        cursors=(this_cursor, result.next_cursor, result.prev_cursor),
        shape=(req.summary, req.elements),
        warnings=warnings,
        last=last_cursor(req) if result.total is not None and req.count > 0 else None,
    )


def page_bundle(
    interactions,
    path: str,
    link_params: list[tuple[str, str]],
    rows: list[tuple[str, Stored]],
    *,
    total: int | None,
    cursors: tuple[str | None, str | None, str | None],
    shape: tuple[str | None, list[str] | None] = (None, None),
    warnings: list[Issue] = (),
    last: str | None = None,
) -> dict:
    """A searchset page (bundle.html#searchset): `rows` as (search mode, stored version), links
    to this page, the first, the next and previous ones (`cursors`) and the last one when its
    cursor is known (`last`), under `path` of the base."""
    base = f"{interactions.base_url}/{path}" if path else interactions.base_url
    this_cursor, next_cursor, prev_cursor = cursors
    links = [
        _link("self", _url(base, link_params, this_cursor)),
        _link("first", _url(base, link_params)),
    ]
    if last:
        links.append(_link("last", _url(base, link_params, last)))
    if next_cursor:
        links.append(_link("next", _url(base, link_params, next_cursor)))
    if prev_cursor:
        links.append(_link("previous", _url(base, link_params, prev_cursor)))
    bundle: dict = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    entries = []
    for mode, stored in rows:
        resource = summarize(interactions.resource_of(stored), *shape)
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
    """A type's or an instance's history (http.html#history), paged on (lastUpdated, id) or on
    the version."""
    path = f"{resource_type}/{id}/_history" if id else f"{resource_type}/_history"
    if id:
        return history_page(interactions, path, params, rows, count, lambda s: [s.vid])
    return history_page(
        interactions, path, params, rows, count, lambda s: [s.last_updated, s.doc["_id"]]
    )


def history_page(interactions, path: str, params, rows, count: int, next_keys) -> dict:
    """A history Bundle of `rows` (newest first, one more than `count` when there are more), the
    next page's cursor made of `next_keys` of its last row."""
    base = f"{interactions.base_url}/{path}"
    kept = [(k, v) for k, v in params if k in ("_since", "_count")]
    links = [
        _link("self", _url(base, kept + [(k, v) for k, v in params if k == "_cursor"])),
        _link("first", _url(base, kept)),
    ]
    more = len(rows) > count
    rows = rows[:count]
    if more and rows:
        links.append(_link("next", _url(base, kept, cursor.encode("next", next_keys(rows[-1])))))
    entries = []
    for stored in rows:
        url = f"{stored.resource_type}/{stored.id}"
        entry: dict = {"fullUrl": f"{interactions.base_url}/{url}"}
        if stored.deleted:
            entry["request"] = {"method": "DELETE", "url": url}
            entry["response"] = {"status": "410 Gone", "lastModified": instant(stored.last_updated)}
        else:
            entry["resource"] = interactions.resource_of(stored)
            method = stored.doc.get("method", "PUT")
            entry["request"] = {
                "method": method if method in ("POST", "PATCH") else "PUT",
                "url": stored.resource_type if method == "POST" else url,
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
