"""An OAuth client's side of the flows, over Flask's test client (tests drive HTTP as clients do).

The authorization step stands in for the login and consent pages: it calls the authorization
server as the consent page does, `create_authorization_response(grant_user=account)`.
"""

import base64
import hashlib
import secrets
import time
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from joserfc import jwt
from joserfc.jwk import ECKey, RSAKey

from smart_auth.server import server_for
from tests.conftest import BASE
from tests.smart_auth.conftest import ADMIN_TOKEN

TOKEN_URL = "http://testserver/auth/token"
REDIRECT = "https://app.example/callback"


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signing_key(alg: str = "RS384") -> RSAKey | ECKey:
    params = {"kid": secrets.token_hex(6), "alg": alg, "use": "sig"}
    if alg.startswith("ES"):
        return ECKey.generate_key("P-384", parameters=params)
    return RSAKey.generate_key(2048, parameters=params)


def query_of(location: str) -> dict:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


class OAuthDriver:
    def __init__(self, app):
        self.app = app
        self.http = app.test_client()
        self.server = server_for(app.extensions["carnet"].auth)

    def register(self, **metadata) -> dict:
        """Register a client through RFC 7591, as the administrator."""
        response = self.http.post(
            "/auth/register", json=metadata, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        return response.get_json()

    def public_app(self, scope: str = "", labelled: bool = False) -> dict:
        return self.register(
            client_name="App",
            redirect_uris=[REDIRECT],
            token_endpoint_auth_method="none",
            scope=scope,
            labelled=labelled,
        )

    def backend(self, key, labelled: bool = False) -> dict:
        return self.register(
            client_name="Hospital",
            jwks={"keys": [key.as_dict(private=False)]},
            token_endpoint_auth_method="private_key_jwt",
            labelled=labelled,
        )

    def authorize(self, client: dict, account, scope: str, challenge: str | None, **params):
        """The redirect the person's approval produces: (status, query of the Location)."""
        query = {
            "response_type": "code",
            "client_id": client["client_id"],
            "redirect_uri": client["redirect_uris"][0],
            "scope": scope,
            "state": secrets.token_urlsafe(8),
            "aud": BASE,
            **({"code_challenge": challenge, "code_challenge_method": "S256"} if challenge else {}),
            **params,
        }
        query = {k: v for k, v in query.items() if v is not None}
        with self.app.test_request_context("/auth/authorize?" + urlencode(query)):
            try:
                grant = self.server.get_consent_grant(end_user=account)
            except OAuth2Error as error:
                response = self.server.handle_error_response(None, error)
            else:
                response = self.server.create_authorization_response(
                    grant_user=account, grant=grant
                )
        return response.status_code, query_of(response.headers.get("Location", "")), query

    def code(self, client: dict, account, scope: str, **params) -> tuple[str, str]:
        """A fresh authorization code and its PKCE verifier."""
        verifier, challenge = pkce()
        status, query, sent = self.authorize(client, account, scope, challenge, **params)
        assert status == 302 and "code" in query, query
        assert query["state"] == sent["state"]
        return query["code"], verifier

    def token(self, data: dict, headers: dict | None = None):
        return self.http.post("/auth/token", data=data, headers=headers or {})

    def exchange(self, client: dict, code: str, verifier: str, **extra):
        return self.token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": client["redirect_uris"][0],
                "client_id": client["client_id"],
                "code_verifier": verifier,
                **extra,
            }
        )

    def login_tokens(self, client: dict, account, scope: str, **params) -> dict:
        code, verifier = self.code(client, account, scope, **params)
        response = self.exchange(client, code, verifier)
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.get_json()

    def refresh(self, client: dict, refresh_token: str):
        return self.token(
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": client["client_id"],
            }
        )


def assertion(
    client_id: str, key, audience: str = TOKEN_URL, alg: str | None = None, **claims
) -> str:
    """A Backend Services client assertion (RFC 7523 section 2.2)."""
    now = int(time.time())
    body = {
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "exp": now + 240,
        "jti": secrets.token_urlsafe(12),
        **claims,
    }
    alg = alg or key.alg or "RS384"
    return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, body, key, algorithms=[alg])


def assertion_form(client_id: str, key, scope: str = "system/*.cruds", **claims) -> dict:
    return {
        "grant_type": "client_credentials",
        "scope": scope,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion(client_id, key, **claims),
    }


def basic_auth(client: dict) -> dict:
    """client_secret_basic credentials (RFC 6749 section 2.3.1)."""
    pair = f"{client['client_id']}:{client['client_secret']}".encode()
    return {"Authorization": "Basic " + base64.b64encode(pair).decode()}
