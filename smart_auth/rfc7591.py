"""Client registration (RFC 7591), used by the admin endpoint and the CLI.

https://www.rfc-editor.org/rfc/rfc7591#section-2 - client metadata, plus Carnet's `labelled`
(only labelled professional software may obtain `user/` scopes). Registration is an
administrator's act: the endpoint sits behind FHIR_SERVER_ADMIN_TOKEN (section 3, initial access
token). Secrets are returned once and stored as digests.
"""

import time
from urllib.parse import urlsplit

from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from smart_auth import opaque
from smart_auth.models import OAuthClient
from smart_auth.rfc7523 import PRIVATE_KEY_JWT

AUTH_METHODS = ("none", "client_secret_basic", "client_secret_post", PRIVATE_KEY_JWT)
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
LOOPBACK = ("localhost", "127.0.0.1", "[::1]", "::1")


class ClientMetadataError(ValueError):
    """Section 3.2.2: invalid_client_metadata or invalid_redirect_uri."""

    def __init__(self, description: str, error: str = "invalid_client_metadata"):
        super().__init__(description)
        self.error = error
        self.description = description

    def as_json(self) -> dict:
        return {"error": self.error, "error_description": self.description}


def _redirect_uris(metadata: dict) -> list[str]:
    uris = metadata.get("redirect_uris") or []
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise ClientMetadataError("redirect_uris must be a list of URLs", "invalid_redirect_uri")
    for uri in uris:
        parts = urlsplit(uri)
        secure = parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK)
        if not secure or parts.fragment or not parts.netloc:
            raise ClientMetadataError(
                f"redirect URI {uri!r} must be an https URL (http only on loopback), "
                "without fragment",
                "invalid_redirect_uri",
            )
    return uris


def _keys(metadata: dict, method: str) -> tuple[dict, str | None]:
    jwks, jwks_uri = metadata.get("jwks"), metadata.get("jwks_uri")
    if jwks and jwks_uri:
        raise ClientMetadataError("jwks and jwks_uri must not both be present (section 2)")
    if jwks:
        try:
            keyset = KeySet.import_key_set(jwks)
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ClientMetadataError(f"jwks is not a valid JWK Set: {exc}") from exc
        if any(key.is_private for key in keyset.keys):
            raise ClientMetadataError("jwks must hold public keys only")
    if jwks_uri and urlsplit(jwks_uri).scheme not in ("https", "http"):
        raise ClientMetadataError("jwks_uri must be an http(s) URL")
    if method == PRIVATE_KEY_JWT and not (jwks or jwks_uri):
        raise ClientMetadataError("private_key_jwt needs jwks or jwks_uri")
    return jwks or {}, jwks_uri or None


def register_client(
    metadata: dict,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    organization: str | None = None,
    platform: bool = False,
) -> dict:
    """Validate the metadata, store the client; returns the registration response (section 3.2.1).

    `client_id` / `client_secret` pin known credentials (the demo's); the endpoint never passes them.
    """
    if not isinstance(metadata, dict):
        raise ClientMetadataError("The request body must be a JSON object")
    has_keys = bool(metadata.get("jwks") or metadata.get("jwks_uri"))
    method = metadata.get("token_endpoint_auth_method") or (
        PRIVATE_KEY_JWT if has_keys else "client_secret_basic"
    )
    if method not in AUTH_METHODS:
        raise ClientMetadataError(f"token_endpoint_auth_method must be one of {AUTH_METHODS}")
    redirect_uris = _redirect_uris(metadata)
    default_grants = (
        ["client_credentials"]
        if method == PRIVATE_KEY_JWT and not redirect_uris
        else ["authorization_code", "refresh_token"]
    )
    grant_types = metadata.get("grant_types") or default_grants
    if not isinstance(grant_types, list) or any(g not in GRANT_TYPES for g in grant_types):
        raise ClientMetadataError(f"grant_types must be among {GRANT_TYPES}")
    if "client_credentials" in grant_types and method != PRIVATE_KEY_JWT:
        raise ClientMetadataError("client_credentials (Backend Services) needs private_key_jwt")
    if "authorization_code" in grant_types and not redirect_uris:
        raise ClientMetadataError("authorization_code needs redirect_uris", "invalid_redirect_uri")
    response_types = ["code"] if "authorization_code" in grant_types else []
    labelled = metadata.get("labelled", False)
    if not isinstance(labelled, bool):
        raise ClientMetadataError("labelled must be true or false")
    scope = metadata.get("scope") or ""
    if not isinstance(scope, str):
        raise ClientMetadataError("scope must be a space-separated string")
    jwks, jwks_uri = _keys(metadata, method)
    client_id = client_id or opaque.new_value(16)
    secret = (client_secret or opaque.new_value(32)) if method.startswith("client_secret") else None
    record = OAuthClient(
        client_id=client_id,
        client_secret_hash=opaque.digest(secret) if secret else None,
        client_name=str(metadata.get("client_name") or client_id),
        redirect_uris=redirect_uris,
        grant_types=grant_types,
        response_types=response_types,
        scope=scope,
        token_endpoint_auth_method=method,
        jwks=jwks,
        jwks_uri=jwks_uri,
        labelled=labelled,
        # Operator-only attributes, never taken from a (dynamic) registration request.
        organization=organization,
        platform=platform,
    ).save()
    response = {
        "client_id": client_id,
        "client_id_issued_at": int(time.time()),
        "client_name": record.client_name,
        "redirect_uris": redirect_uris,
        "grant_types": grant_types,
        "response_types": response_types,
        "token_endpoint_auth_method": method,
        "scope": scope,
        "labelled": labelled,
    }
    if jwks:
        response["jwks"] = jwks
    if jwks_uri:
        response["jwks_uri"] = jwks_uri
    if secret:
        response["client_secret"] = secret
        response["client_secret_expires_at"] = 0
    return response
