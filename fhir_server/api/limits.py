"""The request line and header limits, answered as OperationOutcomes: RFC 9110 §15.5.15, RFC 6585 §5.

gunicorn would answer an over-long request line (414) or header field (431) itself, with an HTML
page; `fhir-server serve` lifts its limits (carnet.cli) so that these reach the application,
which answers them here as every other error: https://hl7.org/fhir/R4/http.html#2.21.0.4
"""

from flask import Flask, request

from carnet_core.errors import HeaderTooLarge, UriTooLong

MAX_URL_BYTES = 8190  # gunicorn's own largest request line
MAX_HEADER_FIELD_BYTES = 8190  # gunicorn's default for one header field
# What gunicorn itself still reads, so that the two limits above are the application's to answer.
SERVER_REQUEST_LINE = 0  # gunicorn: no limit of its own (it still stops at 1 MiB)
SERVER_HEADER_FIELD = 65536


def _url_bytes() -> int:
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return len(raw.encode("latin-1", "replace"))
    return len(request.full_path.encode())


def check_request() -> None:
    if _url_bytes() > MAX_URL_BYTES:
        raise UriTooLong(
            f"The URL is longer than {MAX_URL_BYTES} bytes; send a long search as POST [type]/_search"
        )
    for name, value in request.headers.items():
        if len(name) + len(value) + 2 > MAX_HEADER_FIELD_BYTES:
            raise HeaderTooLarge(
                f"The header field {name[:64]} is larger than {MAX_HEADER_FIELD_BYTES} bytes"
            )


def init_app(app: Flask) -> None:
    app.before_request(check_request)
