"""Token introspection (RFC 7662) with the SMART fields: https://www.rfc-editor.org/rfc/rfc7662

https://hl7.org/fhir/smart-app-launch/token-introspection.html - active, scope, client_id, exp,
patient, fhirUser. Callers authenticate as a client and may introspect the tokens issued to
them; any other token answers `{"active": false}` (section 2.2: say nothing more).
"""

from authlib.oauth2.rfc7662 import IntrospectionEndpoint

from smart_auth import issued
from smart_auth.rfc7523 import PRIVATE_KEY_JWT
from smart_auth.tokens import TokenService


class SmartIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = [PRIVATE_KEY_JWT, "client_secret_basic", "client_secret_post"]

    def __init__(self, server, tokens: TokenService, fhir_base: str):
        super().__init__(server)
        self.tokens = tokens
        self.fhir_base = fhir_base

    def query_token(self, token_string: str, token_type_hint: str | None):
        return issued.find(self.tokens, token_string, token_type_hint)

    def check_permission(self, token, client, request) -> bool:
        return token.check_client(client)

    def introspect_token(self, token) -> dict:
        return token.introspection(self.fhir_base)
