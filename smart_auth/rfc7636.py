"""PKCE (RFC 7636), S256 only: https://hl7.org/fhir/smart-app-launch/app-launch.html#considerations-for-pkce-support

SMART App Launch 2 requires PKCE of every client, with `code_challenge_method=S256`; the
`plain` method is refused at the authorization request, and so is a request without a challenge.
"""

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge


class S256CodeChallenge(CodeChallenge):
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"
    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {"S256": CodeChallenge.CODE_CHALLENGE_METHODS["S256"]}

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("PKCE is required: send code_challenge (S256)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError(
                "code_challenge_method must be S256 ('plain' is not accepted)"
            )
        super().validate_code_challenge(grant, redirect_uri)
