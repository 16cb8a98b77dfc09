"""Token revocation (RFC 7009): https://www.rfc-editor.org/rfc/rfc7009

Access tokens go on the revocation list checked by every FHIR request (so a revoked token gets
401 on /fhir); refresh tokens are marked revoked. A client revokes only its own tokens; an unknown
or already invalid token answers 200 (section 2.2).
"""

from authlib.oauth2.rfc7009 import RevocationEndpoint

from smart_auth import issued
from smart_auth.grants import CLIENT_AUTH_METHODS
from smart_auth.tokens import TokenService


class SmartRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = CLIENT_AUTH_METHODS

    def __init__(self, server, tokens: TokenService):
        super().__init__(server)
        self.tokens = tokens

    def query_token(self, token_string: str, token_type_hint: str | None):
        return issued.find(self.tokens, token_string, token_type_hint)

    def revoke_token(self, token, request) -> None:
        token.revoke(self.tokens)
