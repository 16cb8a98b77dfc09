"""Bearer tokens on FHIR requests (RFC 6750): the Authorization header to an AccessContext.

https://www.rfc-editor.org/rfc/rfc6750#section-3 - a missing, malformed, forged, expired,
wrongly addressed or revoked token is answered 401 with a WWW-Authenticate challenge.
"""

from carnet_core.context import AccessContext, from_claims
from carnet_core.errors import Unauthorized
from smart_auth.tokens import InvalidToken, TokenService

REALM = 'Bearer realm="carnet"'


def context_from_headers(headers, tokens: TokenService) -> AccessContext:
    value = headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if not value:
        raise Unauthorized(
            "This request needs an access token (Authorization: Bearer ...)",
            headers={"WWW-Authenticate": REALM},
        )
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized(
            "The Authorization header must be 'Bearer <access token>'",
            headers={"WWW-Authenticate": f'{REALM}, error="invalid_request"'},
        )
    try:
        claims = tokens.verify(token.strip())
    except InvalidToken as exc:
        raise Unauthorized(
            f"The access token is not valid: {exc}",
            headers={
                "WWW-Authenticate": f'{REALM}, error="invalid_token", error_description="{exc}"'
            },
        ) from exc
    return from_claims(claims)
