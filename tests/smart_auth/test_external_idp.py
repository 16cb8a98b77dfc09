"""smart_auth.external_idp: professionals sign in through an external OpenID Connect provider.

OpenID Connect Core 1.0 section 3.1 (https://openid.net/specs/openid-connect-core-1_0.html#CodeFlowAuth)
against a stub provider served on a loopback port: discovery, an authorization endpoint that
answers at once with a code and the state, a token endpoint returning an RS256 ID token that
echoes the nonce, and its JWKS.
"""

import base64
import dataclasses
import hashlib
import secrets
import threading
import time
from urllib.parse import urlencode, urlsplit

import pytest
import requests
from flask import Flask, jsonify, redirect, request
from joserfc import jwt
from joserfc.jwk import RSAKey

from smart_auth.accounts import create_account
from smart_auth.models import OAuthClient
from tests.conftest import BASE
from tests.smart_auth.conftest import PASSWORD, REDIRECT_URI, pkce_pair
from tests.smart_auth.oauth_flows import query_of

CLIENT_ID = "carnet-at-psc"
CLIENT_SECRET = "stub-client-secret"
RPPS = "10001234567"


class StubProvider:
    """A minimal OpenID provider; `subject` and `signing_key` say what its next ID token holds."""

    def __init__(self):
        self.key = RSAKey.generate_key(2048, parameters={"kid": "stub-1"})
        self.signing_key = self.key
        self.subject = RPPS
        self.pending: dict[str, dict] = {}  # code -> what the authorization request carried
        self.url = ""
        self.app = self._build()

    def _build(self) -> Flask:
        app = Flask("stub-provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return jsonify(
                issuer=self.url,
                authorization_endpoint=self.url + "/authorize",
                token_endpoint=self.url + "/token",
                jwks_uri=self.url + "/jwks",
                response_types_supported=["code"],
                subject_types_supported=["public"],
                id_token_signing_alg_values_supported=["RS256"],
                code_challenge_methods_supported=["S256"],
            )

        @app.get("/authorize")
        def authorize():
            args = request.args
            assert args["client_id"] == CLIENT_ID and args["response_type"] == "code"
            assert args["code_challenge_method"] == "S256" and "openid" in args["scope"].split()
            code = secrets.token_urlsafe(16)
            self.pending[code] = dict(args)
            query = urlencode({"code": code, "state": args["state"]})
            return redirect(f"{args['redirect_uri']}?{query}")

        @app.post("/token")
        def token():
            assert request.authorization.username == CLIENT_ID
            assert request.authorization.password == CLIENT_SECRET
            sent = self.pending.pop(request.form["code"], None)
            if sent is None or request.form["redirect_uri"] != sent["redirect_uri"]:
                return jsonify(error="invalid_grant"), 400
            digest = hashlib.sha256(request.form["code_verifier"].encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != sent["code_challenge"]:
                return jsonify(error="invalid_grant"), 400
            now = int(time.time())
            claims = {
                "iss": self.url,
                "aud": CLIENT_ID,
                "sub": self.subject,
                "nonce": sent["nonce"],
                "iat": now,
                "exp": now + 300,
            }
            header = {"alg": "RS256", "kid": "stub-1"}
            id_token = jwt.encode(header, claims, self.signing_key)
            return jsonify(access_token="stub-at", token_type="Bearer", id_token=id_token)

        @app.get("/jwks")
        def jwks():
            return jsonify(keys=[self.key.as_dict(private=False)])

        return app


@pytest.fixture
def provider():
    from werkzeug.serving import make_server

    stub = StubProvider()
    server = make_server("127.0.0.1", 0, stub.app)
    stub.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield stub
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def external() -> bool:
    """Whether Carnet is configured with the stub provider (parametrize to turn it off)."""
    return True


@pytest.fixture
def settings(settings, external, request):
    if not external:
        return settings
    stub = request.getfixturevalue("provider")
    return dataclasses.replace(
        settings,
        pro_idp_issuer=stub.url,
        pro_idp_client_id=CLIENT_ID,
        pro_idp_client_secret=CLIENT_SECRET,
        pro_idp_name="Pro Santé Connect",
    )


@pytest.fixture
def doctor(carnet):
    return create_account(
        "dr.durand",
        PASSWORD,
        f"Practitioner/{RPPS}",
        "sms",
        "+33612345678",
        external_subject=RPPS,
    )


@pytest.fixture
def pro_app(carnet) -> OAuthClient:
    return OAuthClient(
        client_id="pro-app",
        client_name="Logiciel de cabinet",
        redirect_uris=[REDIRECT_URI],
        grant_types=["authorization_code"],
        response_types=["code"],
        token_endpoint_auth_method="none",
        labelled=True,
    ).save()


def start(browser) -> str:
    """The app's authorization request (PKCE S256); returns the verifier."""
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code",
        "client_id": "pro-app",
        "redirect_uri": REDIRECT_URI,
        "scope": "openid fhirUser user/DocumentReference.rs",
        "state": "app-state",
        "aud": BASE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    response = browser.get("/auth/authorize?" + urlencode(params))
    assert response.status_code == 302 and response.location.endswith("/auth/login")
    return verifier


def through_provider(browser, provider):
    """Follow /auth/login/external to the stub, and its answer back to Carnet's callback."""
    response = browser.get("/auth/login/external")
    assert response.status_code == 302 and response.location.startswith(provider.url + "/")
    answer = requests.get(response.location, allow_redirects=False, timeout=10)
    assert answer.status_code == 302
    callback = urlsplit(answer.headers["Location"])
    assert callback.path == "/auth/login/external/callback"
    return browser.get(f"{callback.path}?{callback.query}")


def test_professional_signs_in_with_the_provider_and_reaches_consent(
    app, browser, provider, doctor, pro_app, outbox
):
    verifier = start(browser)
    browser.get("/auth/login")
    assert "Sign in with Pro Santé Connect" in browser.page
    response = through_provider(browser, provider)
    assert response.status_code == 302 and response.location.endswith("/auth/consent")
    browser.get("/auth/consent")
    assert "Logiciel de cabinet" in browser.page and "dr.durand" in browser.page
    assert outbox.messages() == []  # no one-time code: the provider authenticated them
    response = browser.consent("approve")
    query = query_of(response.location)
    assert response.location.startswith(REDIRECT_URI) and query["state"] == "app-state"
    tokens = app.test_client().post(
        "/auth/token",
        data={
            "grant_type": "authorization_code",
            "code": query["code"],
            "redirect_uri": REDIRECT_URI,
            "client_id": "pro-app",
            "code_verifier": verifier,
        },
    )
    assert tokens.status_code == 200, tokens.get_json()
    assert tokens.get_json()["scope"].split() == ["openid", "fhirUser", "user/DocumentReference.rs"]
    id_token = jwt.decode(
        tokens.get_json()["id_token"], app.extensions["carnet"].auth.keys.verification_keys()
    )
    assert id_token.claims["fhirUser"].endswith(f"/Practitioner/{RPPS}")


def test_unknown_professional_is_refused(browser, provider, doctor, pro_app):
    start(browser)
    provider.subject = "10009999999"
    response = through_provider(browser, provider)
    assert response.status_code == 403
    assert "No Carnet account for you yet" in browser.page
    assert browser.get("/auth/consent").location.endswith("/auth/login")


def test_id_token_signed_with_another_key_is_refused(browser, provider, doctor, pro_app):
    start(browser)
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "stub-1"})
    response = through_provider(browser, provider)
    assert response.status_code == 400
    assert "could not be verified" in browser.page
    assert browser.get("/auth/consent").location.endswith("/auth/login")


def test_callback_without_the_session_state_is_refused(browser, provider, doctor, pro_app):
    start(browser)
    browser.get("/auth/login/external")
    response = browser.get("/auth/login/external/callback?code=forged&state=forged")
    assert response.status_code == 400 and "Sign-in did not complete" in browser.page


@pytest.mark.parametrize("external", [False])
def test_without_provider_the_built_in_login_works_and_offers_no_button(
    browser, patient_account, outbox, external
):
    browser.get("/auth/login")
    assert "Sign in with" not in browser.page
    assert browser.get("/auth/login/external").status_code == 404
    response = browser.sign_in(outbox)
    assert response.status_code == 302 and response.location.endswith("/auth/apps")
