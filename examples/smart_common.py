"""What the example scripts share: discovery, PKCE, the person's browser steps, the callback.

Not a script itself: patient_app.py, ehr_launch.py and backend_client.py import it (they run
from any directory: Python puts examples/ on the path when it runs one of them).
"""

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import requests

DEFAULT_BASE = "http://127.0.0.1:8080"
DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"
KEYS_DIR = Path(__file__).resolve().parent / "keys"
FHIR_JSON = "application/fhir+json"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_REQUEST_ID = re.compile(r'name="request_id" value="([^"]+)"')


class FlowError(RuntimeError):
    """A step of the flow did not answer as expected (the message says which)."""


def step(message: str) -> None:
    print(f"== {message}", flush=True)


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--base", default=DEFAULT_BASE, help=f"the server's root URL (default {DEFAULT_BASE})"
    )
    return parser


def add_login_args(parser: argparse.ArgumentParser, username: str, password: str) -> None:
    """The options of the flows where a person signs in on the server's pages."""
    parser.add_argument(
        "--auto",
        action="store_true",
        help="sign in, type the one-time code (read from the outbox) and approve, with requests, "
        "instead of a browser",
    )
    parser.add_argument("--username", default=username, help=f"with --auto (default {username})")
    parser.add_argument(
        "--password", default=password, help="with --auto (default: the demo password)"
    )
    parser.add_argument(
        "--outbox",
        default=os.environ.get("FHIR_SERVER_OUTBOX", "outbox.jsonl"),
        help="the server's FHIR_SERVER_OUTBOX file, where one-time codes go (with --auto)",
    )
    parser.add_argument(
        "--code-url", help="the callback URL the browser was sent to, pasted (no local server)"
    )
    parser.add_argument("--redirect-uri", default=DEMO_REDIRECT_URI)


def discover(base: str) -> dict:
    """SMART configuration: https://hl7.org/fhir/smart-app-launch/conformance.html"""
    url = f"{base.rstrip('/')}/fhir/.well-known/smart-configuration"
    step(f"GET {url}")
    response = requests.get(url, timeout=10)
    response.raise_for_status()
    config = response.json()
    print(f"   authorize: {config['authorization_endpoint']}  token: {config['token_endpoint']}")
    return config


def pkce() -> tuple[str, str]:
    """A PKCE verifier and its S256 challenge (RFC 7636 section 4)."""
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def authorize_url(config: dict, params: dict) -> str:
    return config["authorization_endpoint"] + "?" + urlencode(params)


def shorten(token: str) -> str:
    return f"{token[:12]}...({len(token)} characters)"


def authorization_callback(args, url: str) -> str:
    """The callback URL with `code` and `state`: by --auto, a pasted --code-url, or a browser."""
    step("Authorization request (open it in a browser unless --auto):")
    print(url, flush=True)
    if args.auto:
        return sign_in_and_approve(url, args.username, args.password, Path(args.outbox))
    if args.code_url:
        return args.code_url
    return wait_for_callback(args.redirect_uri)


def sign_in_and_approve(url: str, username: str, password: str, outbox: Path) -> str:
    """The person's steps, posted with requests: password, one-time code, approval."""
    browser = requests.Session()
    page = browser.get(url, timeout=10)  # redirected to the sign-in page
    _expect(page, "/auth/login")
    step(f"Sign in as {username} at {page.url}")
    seen = _outbox_lines(outbox)
    page = browser.post(
        page.url,
        data={"username": username, "password": password, "csrf_token": _field(_CSRF, page)},
        timeout=10,
    )
    _expect(page, "/auth/code")
    code = _new_code(outbox, seen)
    step(f"One-time code {code} read from {outbox}")
    page = browser.post(
        page.url, data={"code": code, "csrf_token": _field(_CSRF, page)}, timeout=10
    )
    _expect(page, "/auth/consent")
    step("Consent page: approve")
    answer = browser.post(
        page.url,
        data={
            "decision": "approve",
            "request_id": _field(_REQUEST_ID, page),
            "csrf_token": _field(_CSRF, page),
        },
        allow_redirects=False,  # the redirect URI is the app's: read it instead of following it
        timeout=10,
    )
    if answer.status_code not in (302, 303):
        raise FlowError(f"consent answered HTTP {answer.status_code}: {answer.text[:300]}")
    return urljoin(page.url, answer.headers["Location"])


def wait_for_callback(redirect_uri: str, timeout: float = 600) -> str:
    """A one-shot HTTP server on the redirect URI's host and port: the callback URL it receives."""
    parts = urlsplit(redirect_uri)
    received: dict = {}

    class Callback(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if urlsplit(self.path).path != parts.path:
                self.send_error(404)
                return
            received["url"] = f"{parts.scheme}://{parts.netloc}{self.path}"
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(b"Carnet example: you can close this window.\n")

        def log_message(self, *args):  # the query holds the code: keep it off the console
            pass

    server = HTTPServer((parts.hostname, parts.port or 80), Callback)
    server.timeout = 1
    step(f"Waiting for the browser at {redirect_uri} ...")
    deadline = time.monotonic() + timeout
    try:
        while "url" not in received and time.monotonic() < deadline:
            server.handle_request()
    finally:
        server.server_close()
    if "url" not in received:
        raise FlowError("no callback received")
    return received["url"]


def code_from_callback(callback: str, state: str) -> str:
    query = {k: v[0] for k, v in parse_qs(urlsplit(callback).query).items()}
    if query.get("state") != state:
        raise FlowError("the callback's state is not the one sent: refused")
    if "error" in query:
        raise FlowError(
            f"authorization refused: {query['error']} {query.get('error_description', '')}"
        )
    step("Callback received with an authorization code and the expected state")
    return query["code"]


def token_request(config: dict, data: dict, auth=None) -> dict:
    step(f"POST {config['token_endpoint']} grant_type={data['grant_type']}")
    response = requests.post(config["token_endpoint"], data=data, auth=auth, timeout=10)
    body = response.json()
    if response.status_code != 200:
        raise FlowError(f"token endpoint: HTTP {response.status_code} {body}")
    shown = {k: (shorten(v) if k.endswith("token") else v) for k, v in body.items()}
    print("   " + json.dumps(shown), flush=True)
    return body


class Fhir:
    """GET and POST on the FHIR API with a bearer token, printing each request."""

    def __init__(self, base: str, token: str):
        self.base = base.rstrip("/") + "/fhir"
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": FHIR_JSON})

    def get(self, path: str, **kw) -> requests.Response:
        step(f"GET {self.base}/{path}")
        return self._checked(self.http.get(f"{self.base}/{path}", timeout=10, **kw))

    def post(self, path: str, body: dict) -> requests.Response:
        step(f"POST {self.base}/{path}".rstrip("/"))
        response = self.http.post(
            f"{self.base}/{path}".rstrip("/"),
            data=json.dumps(body),
            headers={"Content-Type": FHIR_JSON},
            timeout=10,
        )
        return self._checked(response)

    @staticmethod
    def _checked(response: requests.Response) -> requests.Response:
        print(f"   -> HTTP {response.status_code}", flush=True)
        if response.status_code >= 400:
            raise FlowError(f"HTTP {response.status_code}: {response.text[:500]}")
        return response


def authorization_code_flow(args, config: dict, extra: dict | None = None, auth=None) -> dict:
    """Authorization code + PKCE (S256) from the authorize request to the token response.

    `extra` adds request parameters (`launch` for an EHR launch); `auth` authenticates a
    confidential client at the token endpoint, a public client sends its client_id instead.
    """
    verifier, challenge = pkce()
    state = secrets.token_urlsafe(12)
    params = {
        "response_type": "code",
        "client_id": args.client_id,
        "redirect_uri": args.redirect_uri,
        "scope": args.scope,
        "state": state,
        "aud": args.base.rstrip("/") + "/fhir",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        **(extra or {}),
    }
    code = code_from_callback(authorization_callback(args, authorize_url(config, params)), state)
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": args.redirect_uri,
        "code_verifier": verifier,
    }
    if auth is None:
        data["client_id"] = args.client_id
    return token_request(config, data, auth=auth)


def patient_launch(args, extra: dict | None = None, auth=None) -> tuple[dict, str]:
    """Discovery, then the authorization code flow of a launch that must end with a patient in
    context: the token response and that patient's id.

    https://hl7.org/fhir/smart-app-launch/app-launch.html#launch-context-arrives-with-your-access_token
    """
    token = authorization_code_flow(args, discover(args.base), extra, auth)
    patient = token.get("patient")
    if not patient:
        raise FlowError("the token response has no patient")
    return token, patient


def display_name(resource: dict) -> str:
    """A Patient's first name as `given family`."""
    name = resource.get("name", [{}])[0]
    return f"{' '.join(name.get('given', []))} {name.get('family', '')}"


def run_flow(run, args) -> int:
    """Run one example flow; a refusal or a network error is reported, exit status 1."""
    try:
        run(args)
    except (FlowError, requests.RequestException) as error:
        print(f"Failed: {error}", file=sys.stderr)
        return 1
    return 0


def _expect(page: requests.Response, path: str) -> None:
    if urlsplit(page.url).path != path:
        raise FlowError(f"expected the {path} page, got {page.url} (HTTP {page.status_code})")
    if page.status_code != 200:
        raise FlowError(f"{path}: HTTP {page.status_code}: {_message(page.text)}")


def _message(html: str) -> str:
    found = re.search(r'class="[^"]*(?:error|message)[^"]*"[^>]*>([^<]+)<', html)
    return found.group(1).strip() if found else html[:300]


def _field(pattern: re.Pattern, page: requests.Response) -> str:
    found = pattern.search(page.text)
    if not found:
        name = pattern.pattern.split('"')[1]
        raise FlowError(f"no {name} field on {page.url}")
    return found.group(1)


def _outbox_lines(outbox: Path) -> int:
    return len(outbox.read_text("utf-8").splitlines()) if outbox.exists() else 0


def _new_code(outbox: Path, seen: int) -> str:
    """The one-time code of the first message written to the outbox after `seen` lines."""
    for _ in range(50):
        lines = outbox.read_text("utf-8").splitlines()[seen:] if outbox.exists() else []
        codes = [json.loads(line).get("code") for line in lines if line.strip()]
        codes = [c for c in codes if c]
        if codes:
            return codes[-1]
        time.sleep(0.1)
    raise FlowError(
        f"no one-time code arrived in {outbox} (is it the server's FHIR_SERVER_OUTBOX?)"
    )
