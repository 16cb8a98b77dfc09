"""Cross-origin requests from browser apps: the Fetch standard's CORS protocol,
https://fetch.spec.whatwg.org/#http-cors-protocol

SMART App Launch's patient apps are mostly single-page apps served from their own origin
(https://hl7.org/fhir/smart-app-launch/app-launch.html, its CORS considerations).
Two kinds of paths are open to them:

- the public metadata (CapabilityStatement, discovery documents, JWKS) to any origin (`*`): it
  needs no credential and says nothing about anyone;
- the FHIR API and the token, introspection, revocation and userinfo endpoints to the origins
  listed in FHIR_SERVER_CORS_ORIGINS only, each reflected exactly; an unlisted origin gets no
  CORS header, so its page cannot read the answer. Bearer tokens travel in `Authorization`,
  never in cookies, so credentials are not allowed (no Access-Control-Allow-Credentials).

Preflights (OPTIONS with Access-Control-Request-Method) on those paths are answered here, before
any token check or route, with 204.
"""

from flask import Flask, Response, request

PUBLIC = frozenset(
    {
        "/fhir/metadata",
        "/.well-known/smart-configuration",
        "/fhir/.well-known/smart-configuration",
        "/.well-known/openid-configuration",
        "/auth/jwks",
    }
)
AUTH_ENDPOINTS = frozenset({"/auth/token", "/auth/introspect", "/auth/revoke", "/auth/userinfo"})
FHIR_PREFIX = "/fhir"

ALLOW_HEADERS = (
    "Authorization, Content-Type, Prefer, If-Match, If-None-Exist, If-None-Match, If-Modified-Since"
)
EXPOSE_HEADERS = "Location, ETag, Content-Location, Last-Modified"
MAX_AGE = "600"  # seconds a browser may keep a preflight's answer

_METHODS = {
    "public": "GET, HEAD",
    "auth": "GET, POST",
    "fhir": "GET, HEAD, POST, PUT, PATCH, DELETE",
}


def _kind(path: str) -> str | None:
    """Which CORS rule a path follows: public, auth, fhir, or None (not open to other origins)."""
    path = path.rstrip("/") or "/"
    if path in PUBLIC:
        return "public"
    if path in AUTH_ENDPOINTS:
        return "auth"
    if path == FHIR_PREFIX or path.startswith(FHIR_PREFIX + "/"):
        return "fhir"
    return None


class Cors:
    def __init__(self, origins: tuple[str, ...] | None):
        self.origins = frozenset(origins or ())

    def allowed_origin(self, kind: str) -> str | None:
        """The Access-Control-Allow-Origin this request gets, or None."""
        origin = request.headers.get("Origin")
        if not origin:
            return None
        if kind == "public":
            return "*"
        return origin if origin.lower() in self.origins else None

    def preflight(self) -> Response | None:
        """The answer to a preflight on a path open to other origins (before any route runs)."""
        if request.method != "OPTIONS" or "Access-Control-Request-Method" not in request.headers:
            return None
        kind = _kind(request.path)
        if kind is None:
            return None
        response = Response(status=204)
        del response.headers["Content-Type"]
        origin = self.allowed_origin(kind)
        if origin is not None:
            response.headers.update(
                {
                    "Access-Control-Allow-Origin": origin,
                    "Access-Control-Allow-Methods": _METHODS[kind],
                    "Access-Control-Allow-Headers": ALLOW_HEADERS,
                    "Access-Control-Max-Age": MAX_AGE,
                }
            )
        return response

    def headers(self, response: Response) -> Response:
        """The CORS headers of an actual answer (errors included: the app must read its 401)."""
        kind = _kind(request.path)
        if kind is None:
            return response
        if kind != "public":
            # The answer depends on Origin: a cache must not serve it to another origin.
            response.vary.add("Origin")
        origin = self.allowed_origin(kind)
        if origin is not None:
            response.headers["Access-Control-Allow-Origin"] = origin
            response.headers["Access-Control-Expose-Headers"] = EXPOSE_HEADERS
        return response


def init_app(app: Flask, origins: tuple[str, ...] | None) -> None:
    cors = Cors(origins)
    app.before_request(cors.preflight)
    app.after_request(cors.headers)
