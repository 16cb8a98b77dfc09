"""Registered clients as authlib sees them: https://www.rfc-editor.org/rfc/rfc6749#section-2

An adapter over `models.OAuthClient` implementing authlib's ClientMixin. Redirect URIs are
matched exactly (RFC 9700 section 4.1.3); client secrets are checked against their digest.
"""

import json
import urllib.request

from authlib.oauth2.rfc6749 import ClientMixin
from joserfc.jwk import KeySet

from smart_auth import opaque
from smart_auth.models import OAuthClient


class Client(ClientMixin):
    def __init__(self, record: OAuthClient):
        self.record = record

    @property
    def client_id(self) -> str:
        return self.record.client_id

    @property
    def labelled(self) -> bool:
        return bool(self.record.labelled)

    @property
    def organization(self) -> str | None:
        return self.record.organization or None

    @property
    def platform(self) -> bool:
        return bool(self.record.platform)

    def get_client_id(self) -> str:
        return self.record.client_id

    def get_default_redirect_uri(self) -> str | None:
        uris = self.record.redirect_uris or []
        return uris[0] if len(uris) == 1 else None

    def get_allowed_scope(self, scope: str | None) -> str:
        """The requested scopes, limited to the registered ones when the client registered any."""
        if not scope:
            return ""
        requested = scope.split()
        if self.record.scope:
            allowed = set(self.record.scope.split())
            requested = [s for s in requested if s in allowed]
        return " ".join(dict.fromkeys(requested))

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in (self.record.redirect_uris or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return opaque.matches(client_secret, self.record.client_secret_hash)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.record.token_endpoint_auth_method

    def check_response_type(self, response_type: str) -> bool:
        return response_type in (self.record.response_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.record.grant_types or [])

    def public_keys(self) -> KeySet:
        """The keys its assertions are signed with: registered `jwks`, else fetched `jwks_uri`."""
        if self.record.jwks:
            return KeySet.import_key_set(self.record.jwks)
        if self.record.jwks_uri:
            with urllib.request.urlopen(self.record.jwks_uri, timeout=5) as response:  # noqa: S310
                return KeySet.import_key_set(json.loads(response.read()))
        return KeySet([])


def query_client(client_id: str | None) -> Client | None:
    if not client_id or not isinstance(client_id, str):
        return None
    record = OAuthClient.objects(client_id=client_id).first()
    return Client(record) if record else None
