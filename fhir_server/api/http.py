"""HTTP edges of the FHIR API: formats, bodies, Prefer and responses. https://hl7.org/fhir/R4/http.html

https://hl7.org/fhir/R4/http.html#mime-type - JSON only (application/fhir+json, application/json);
XML and Turtle are answered 406 / 415.
"""

import email.utils

import simplejson
from flask import Request, Response, request

from carnet_core.errors import BadRequest, FhirError, NotAcceptable, TooLarge, UnsupportedMediaType
from carnet_core.outcome import from_error
from fhir_server import jsonio
from fhir_server.interactions import Reply

FHIR_JSON = "application/fhir+json"
JSON_TYPES = ("application/fhir+json", "application/json", "application/json+fhir")
FORMAT_ALIASES = {
    "json": FHIR_JSON,
    "application/json": "application/json",
    "application/fhir+json": FHIR_JSON,
}
PATCH_TYPE = "application/json-patch+json"


def _media_type(value: str | None) -> str:
    return (value or "").split(";")[0].strip().lower()


def response_type(req: Request) -> str:
    """The content type to answer with, from _format or Accept (406 when we cannot)."""
    fmt = req.args.get("_format")
    if fmt is not None:
        wanted = FORMAT_ALIASES.get(fmt.strip().lower().split(";")[0])
        if wanted is None:
            raise NotAcceptable(
                f"_format '{fmt}' is not supported; this server speaks JSON only",
                expression=["_format"],
            )
        return wanted
    accept = req.headers.get("Accept", "")
    if not accept.strip():
        return FHIR_JSON
    types = [_media_type(part) for part in accept.split(",")]
    for candidate in types:
        if candidate in ("application/fhir+json", "application/json+fhir", "*/*", "application/*"):
            return FHIR_JSON
        if candidate == "application/json":
            return "application/json"
    raise NotAcceptable(f"Cannot answer with {accept}; this server speaks application/fhir+json")


def wants_fhir(req: Request) -> bool:
    """For Binary: does the client ask for the FHIR resource rather than the native content?"""
    if req.args.get("_format"):
        return True
    accept = req.headers.get("Accept", "")
    return any(_media_type(p) in JSON_TYPES for p in accept.split(","))


def _read_body(req: Request) -> bytes:
    """The body, 413 when it is larger than the limit, with or without a Content-Length."""
    limit = req.max_content_length
    length = req.content_length
    if length is not None and limit and length > limit:
        raise TooLarge(f"The body exceeds the limit of {limit} bytes")
    if length is not None or not limit or not req.environ.get("wsgi.input_terminated"):
        return req.get_data(cache=True)
    # A chunked body has no Content-Length: werkzeug's stream stops silently at the limit, and
    # the body would be read cut short (a 400 for broken JSON). One byte more than the limit tells.
    stream, chunks, size = req.environ["wsgi.input"], [], 0
    while size <= limit:
        data = stream.read(limit + 1 - size)
        if not data:
            break
        chunks.append(data)
        size += len(data)
    if size > limit:
        raise TooLarge(f"The body exceeds the limit of {limit} bytes")
    return b"".join(chunks)


def read_json_body(req: Request, allowed=JSON_TYPES):
    content_type = _media_type(req.headers.get("Content-Type"))
    if content_type not in allowed:
        shown = content_type or "no Content-Type"
        raise UnsupportedMediaType(f"Cannot read a body of {shown}; send {' or '.join(allowed)}")
    raw = _read_body(req)
    if not raw.strip():
        raise BadRequest("The request has no body; a JSON resource is required")
    try:
        return jsonio.loads(raw)
    except UnicodeDecodeError as exc:
        raise BadRequest("The body is not UTF-8 encoded JSON") from exc
    except jsonio.NotJson as exc:
        raise BadRequest(str(exc)) from exc
    except RecursionError as exc:
        raise BadRequest("The JSON body is nested too deeply") from exc
    except simplejson.JSONDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from exc


def read_patch_body(req: Request):
    """A PATCH body (http.html#patch): a JSON Patch array (application/json-patch+json) or a
    FHIRPath Patch Parameters resource (application/fhir+json, fhirpatch.html)."""
    body = read_json_body(req, allowed=(PATCH_TYPE, *JSON_TYPES))
    if _media_type(req.headers.get("Content-Type")) == PATCH_TYPE:
        if not isinstance(body, list):
            raise BadRequest("A JSON Patch document is an array of operations")
    elif not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise BadRequest(
            f"A FHIRPath Patch is a Parameters resource; send a JSON Patch as {PATCH_TYPE}"
        )
    return body


def _etags(header: str) -> set[str]:
    """The entity tags of an If-None-Match, compared weakly (RFC 9110 section 8.8.3.2)."""
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _modified_since(last_modified: str | None, since: str) -> bool:
    """Whether the version changed after If-Modified-Since (an unreadable date is ignored)."""
    try:
        changed = email.utils.parsedate_to_datetime(last_modified or "")
        asked = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return True
    if changed is None or asked is None or asked.tzinfo is None:
        return True
    return changed > asked


def not_modified(req: Request, reply: Reply) -> Reply:
    """A read's or vread's 304 when the client holds this version (http.html#cread,
    RFC 9110 sections 13.1.2 and 13.1.3: If-None-Match wins over If-Modified-Since)."""
    if req.method not in ("GET", "HEAD") or reply.status != 200 or "ETag" not in reply.headers:
        return reply
    if_none_match = req.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = _etags(if_none_match)
        held = "*" in tags or reply.headers["ETag"].removeprefix("W/") in tags
    elif req.headers.get("If-Modified-Since"):
        held = not _modified_since(
            reply.headers.get("Last-Modified"), req.headers["If-Modified-Since"]
        )
    else:
        return reply
    if not held:
        return reply
    kept = ("ETag", "Last-Modified", "Content-Location")
    return Reply(304, None, {k: v for k, v in reply.headers.items() if k in kept})


def prefer(req: Request, key: str) -> str | None:
    """The value of one Prefer preference (RFC 7240), across repeated Prefer headers."""
    for header in req.headers.getlist("Prefer"):
        for item in header.replace(";", ",").split(","):
            name, _, value = item.strip().partition("=")
            if name.strip() == key:
                return value.strip().strip('"')
    return None


def render(reply: Reply) -> Response:
    headers = dict(reply.headers)
    if reply.body is None:
        # No body, so no content type (werkzeug would default to text/html): Prefer:
        # return=minimal, 204, 304.
        response = Response(status=reply.status, headers=headers)
        del response.headers["Content-Type"]
        return response
    if not isinstance(reply.body, dict):  # bytes, or pieces of a file streamed
        return Response(
            reply.body, status=reply.status, headers=headers, content_type=reply.content_type
        )
    pretty = request.args.get("_pretty", "false").lower() == "true"
    try:
        mime = response_type(request)
    except FhirError:
        mime = FHIR_JSON
    return Response(
        jsonio.dumps(reply.body, pretty),
        status=reply.status,
        headers=headers,
        content_type=f"{mime}; charset=utf-8",
    )


def render_error(error: FhirError) -> Response:
    return render(Reply(error.status, from_error(error), dict(error.headers)))
