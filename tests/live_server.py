"""A real `fhir-server serve` (gunicorn, 2 workers) in its own process group, to kill and restart.

The server reads FHIR_SERVER_DATA_DIR from the environment (tests/conftest.py's `data_dir`), so a
restart on the same port finds the same store and issues tokens for the same audience.
"""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests
from joserfc import jwt
from joserfc.jwk import RSAKey

KEYS = Path(__file__).resolve().parent.parent / "examples" / "keys"
ADMIN_TOKEN = "live-server-admin-token"  # FHIR_SERVER_ADMIN_TOKEN of the servers tests start
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """A `fhir-server` administration command in its own process, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "carnet.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=server_env(),
    )


def server_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "FHIR_SERVER_BASE_URL"}


def _children(pid: int) -> set[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return set()
    return {int(p) for p in text.split()}


def _running(pid: int) -> bool:
    """Neither gone nor a zombie (a killed worker its new parent has not reaped yet)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class LiveServer:
    def __init__(self, log: Path, port: int | None = None, workers: int = 2, demo: bool = False):
        self.port = port or free_port()
        self.worker_count = workers
        self.demo = demo
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        self.process: subprocess.Popen | None = None
        self.http = requests.Session()

    def start(self, timeout: float = 60) -> "LiveServer":
        with self.log.open("ab") as log:
            command = [sys.executable, "-m", "carnet.cli", "serve", "--port", str(self.port)]
            command += ["--workers", str(self.worker_count)] + (["--demo"] if self.demo else [])
            self.process = subprocess.Popen(
                command,
                env=server_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: one killpg reaches every worker
            )
        self.wait_workers(self.worker_count, timeout)
        return self

    def workers(self) -> set[int]:
        return _children(self.process.pid) if self.process else set()

    def wait_workers(self, count: int, timeout: float = 60, besides: set[int] = frozenset()):
        """Until `count` workers (none of `besides`) run and the server answers."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"the server exited: {self.log.read_text()[-3000:]}")
            if len(self.workers() - besides) >= count and self._answers():
                return
            time.sleep(0.1)
        raise AssertionError(
            f"the server is not up after {timeout} s: {self.log.read_text()[-3000:]}"
        )

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/fhir/metadata", timeout=5).status_code == 200
        except requests.RequestException:
            return False

    def kill_worker(self) -> None:
        """SIGKILL one worker; gunicorn's master forks a new one."""
        before = self.workers()
        os.kill(min(before), signal.SIGKILL)
        self.wait_workers(1, besides=before)
        self.wait_workers(self.worker_count)

    def kill(self) -> None:
        """SIGKILL the master and every worker at once: nothing gets to clean up."""
        if not self.process or self.process.poll() is not None:
            return
        group = {self.process.pid, *self.workers()}
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=20)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and any(_running(pid) for pid in group):
            time.sleep(0.02)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    def restart(self) -> "LiveServer":
        self.kill()
        return self.start()

    # --- HTTP as a client does

    def token(self, client_id: str, scope: str = "system/*.cruds", key: str = "demo-platform"):
        """SMART Backend Services: a client_credentials token for an assertion signed with `key`."""
        private = RSAKey.import_key(
            json.loads((KEYS / f"{key}.private.jwk.json").read_text(encoding="utf-8"))
        )
        endpoint = f"{self.url}/auth/token"
        now = int(time.time())
        claims = {
            "iss": client_id,
            "sub": client_id,
            "aud": endpoint,
            "exp": now + 240,
            "jti": secrets.token_urlsafe(16),
        }
        assertion = jwt.encode(
            {"alg": "RS384", "kid": private.kid, "typ": "JWT"}, claims, private, ["RS384"]
        )
        return self.http.post(
            endpoint,
            data={
                "grant_type": "client_credentials",
                "scope": scope,
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": assertion,
            },
            timeout=30,
        )

    def fhir(self, method: str, path: str, token: str, body=None, **kw) -> requests.Response:
        headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}
        if body is not None:
            headers["Content-Type"] = "application/fhir+json"
            kw["data"] = json.dumps(body)
        return self.http.request(
            method, f"{self.url}/fhir/{path}", headers=headers, timeout=kw.pop("timeout", 60), **kw
        )

    def access_token(self, client_id: str, key: str = "demo-platform") -> str:
        issued = self.token(client_id, key=key)
        assert issued.status_code == 200, issued.text
        return issued.json()["access_token"]

    def total(self, search: str, token: str) -> int:
        """The `_summary=count` total of a search."""
        answer = self.fhir("GET", f"{search}&_summary=count", token)
        assert answer.status_code == 200, answer.text[:500]
        return answer.json()["total"]

    def every(self, path: str, token: str) -> list[dict]:
        """The resources of every page of a search or history Bundle (not the server's notes
        on a search, such as a total left out: entries in search mode `outcome`)."""
        found, url = [], f"{self.url}/fhir/{path}"
        while url:
            page = self.http.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=60)
            assert page.status_code == 200, page.text[:500]
            bundle = page.json()
            entries = bundle.get("entry", [])
            found += [
                e["resource"] for e in entries if e.get("search", {}).get("mode") != "outcome"
            ]
            links = bundle.get("link", [])
            url = next((x["url"] for x in links if x["relation"] == "next"), None)
        return found


def register_platform_client(name: str = "durable-platform", *for_whom: str) -> str:
    """`fhir-server register-client` for a backend client holding the demo platform key: the
    operator's platform, or with `for_whom` ("--organization", "Organization/x") an organisation's."""
    done = admin(
        "register-client",
        "--name",
        name,
        "--jwks",
        str(KEYS / "demo-platform.public.jwks.json"),
        *(for_whom or ["--platform"]),
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]
