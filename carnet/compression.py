"""gzip content coding of answers when the client accepts it: RFC 9110 sections 8.4 and 12.5.3,
https://www.rfc-editor.org/rfc/rfc9110#section-12.5.3

A CapabilityStatement is over 100 KB of JSON and a page of search results tens of KB; both
shrink about tenfold. Only text that is not compressed already is coded: FHIR JSON, JSON, NDJSON,
HTML, CSS and plain text, larger than MIN_BYTES. A Binary's native content keeps its own type
(a PDF, an image) and is left alone, and so is every answer that is streamed or sent from a file
(werkzeug's direct passthrough): it is never read into memory here.
"""

import gzip

from flask import Flask, Response, request

MIN_BYTES = 1024  # below this the gzip header and the work cost more than they save
COMPRESSIBLE = frozenset(
    {
        "application/fhir+json",
        "application/json",
        "application/json+fhir",
        "application/fhir+ndjson",
        "application/x-ndjson",
        "application/ndjson",
        "text/html",
        "text/css",
        "text/plain",
    }
)


def accepts_gzip(header: str | None) -> bool:
    """Whether Accept-Encoding lists gzip (or `*`) with a non-zero weight."""
    for item in (header or "").split(","):
        coding, _, params = item.strip().partition(";")
        if coding.strip().lower() not in ("gzip", "x-gzip", "*"):
            continue
        weight = params.strip().lower().removeprefix("q=").strip()
        try:
            return not weight or float(weight) > 0
        except ValueError:
            return False
    return False


def compress(response: Response) -> Response:
    if response.mimetype not in COMPRESSIBLE:
        return response
    # Whether it was coded or not, the answer depends on Accept-Encoding.
    response.vary.add("Accept-Encoding")
    if (
        not accepts_gzip(request.headers.get("Accept-Encoding"))
        or response.direct_passthrough
        or response.is_streamed
        or "Content-Encoding" in response.headers
        or response.status_code < 200
        or response.status_code in (204, 206, 304)
    ):
        return response
    data = response.get_data()
    if len(data) < MIN_BYTES:
        return response
    response.set_data(gzip.compress(data, compresslevel=6, mtime=0))
    response.headers["Content-Encoding"] = "gzip"
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress)
