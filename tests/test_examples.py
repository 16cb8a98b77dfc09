"""The example scripts (examples/*.py) run against a live demo server (`serve --demo` seeding).

One server for the module: the demo data set, the demo accounts and clients (smart_auth.demo),
served by werkzeug in a thread. Each script's main() runs with --auto, reading one-time codes from
the server's outbox, and its printed output is checked.
"""

import dataclasses
import importlib
import os
import shutil
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest

from carnet import cli
from carnet.app import build, create_app
from fhir_server.config import Settings
from smart_auth.models import Account, OAuthClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


@dataclasses.dataclass
class DemoServer:
    url: str
    outbox: str
    carnet: object


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    from werkzeug.serving import make_server

    holder: dict = {}
    server = make_server("127.0.0.1", 0, lambda environ, start: holder["app"](environ, start))
    root = f"http://127.0.0.1:{server.server_port}"
    db_name = f"carnet_test_{uuid.uuid4().hex[:12]}" if os.environ.get("MONGODB_URI") else "demo"
    settings = Settings.from_env(
        base_url=root + "/fhir",
        mongodb_db=db_name,
        outbox=str(tmp_path_factory.mktemp("demo") / "outbox.jsonl"),
        secret_key="test-session-key",
        data_dir=str(tmp_path_factory.mktemp("demo-data")),
    )
    carnet = build(settings)
    cli.load_demo(carnet)  # what `fhir-server serve --demo` does before serving
    holder["app"] = create_app(settings, carnet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sys.path.insert(0, str(EXAMPLES))
    try:
        yield DemoServer(root, settings.outbox, carnet)
    finally:
        sys.path.remove(str(EXAMPLES))
        server.shutdown()
        thread.join(timeout=5)
        if os.environ.get("MONGODB_URI"):
            carnet.store.db.client.drop_database(carnet.store.db.name)


def run_script(name: str, capsys, *args: str) -> str:
    module = importlib.import_module(name)
    status = module.main(list(args))
    out, err = capsys.readouterr()
    assert status == 0, out + err
    return out


def test_demo_seeding_creates_the_accounts_and_clients(demo_server):
    accounts = {a.username: a.fhir_user for a in Account.objects}
    assert accounts == {"alice": "Patient/demo-alice", "dr.lefevre": "Practitioner/demo-dr-lefevre"}
    clients = {c.client_id: c for c in OAuthClient.objects}
    assert set(clients) == {
        "demo-patient-app",
        "demo-pro-software",
        "demo-hospital",
        "demo-lab",
        "demo-platform",
    }
    assert clients["demo-platform"].platform and not clients["demo-hospital"].platform
    assert clients["demo-pro-software"].labelled
    assert clients["demo-patient-app"].token_endpoint_auth_method == "none"
    assert clients["demo-hospital"].grant_types == ["client_credentials"]
    assert clients["demo-lab"].organization == "Organization/demo-labo"
    # No private key material is registered, and seeding again changes nothing.
    assert "d" not in clients["demo-hospital"].jwks["keys"][0]
    assert "d" not in clients["demo-lab"].jwks["keys"][0]
    from smart_auth import demo

    assert demo.seed() == []


def test_backend_client_pushes_and_reads_back_a_document(demo_server, capsys):
    out = run_script("backend_client", capsys, "--base", demo_server.url)
    assert "token obtained: scope system/*.cruds" in out
    assert "Document pushed and read back: DocumentReference/" in out
    assert "subject Patient/demo-alice, content Binary/" in out


@pytest.mark.skipif(not shutil.which("curl"), reason="examples/curl.sh needs curl")
def test_curl_script_runs_every_interaction_with_the_platform_token(demo_server, capsys):
    out = run_script(
        "backend_client",
        capsys,
        "--base",
        demo_server.url,
        "--client-id",
        "demo-platform",
        "--print-token",
    )
    env = {**os.environ, "TOKEN": out.strip(), "BASE": demo_server.url + "/fhir"}
    done = subprocess.run(
        ["bash", str(EXAMPLES / "curl.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def test_backend_client_prints_only_a_token(demo_server, capsys):
    out = run_script("backend_client", capsys, "--base", demo_server.url, "--print-token")
    token = out.strip()
    assert "\n" not in token and token.count(".") == 2
    claims = demo_server.carnet.auth.tokens.verify(token)
    assert claims["client_id"] == "demo-hospital" and claims["scope"] == "system/*.cruds"


def test_hospital_client_pushes_finds_and_fetches_a_discharge_letter(demo_server, capsys):
    out = run_script("hospital_client", capsys, "--base", demo_server.url)
    assert "ITI-65 Provide Document Bundle: Discharge letter for INS 284057505612387" in out
    assert "   201 Created: DocumentReference/" in out
    assert "is in Patient/demo-alice" in out
    assert "bytes, SHA-1 as declared" in out
    assert "stored once: answered 200 OK with the same locations" in out
    assert "Discharge letter pushed, found and retrieved: DocumentReference/" in out


def test_lab_client_pushes_a_lab_report_with_narrow_scopes(demo_server, capsys):
    out = run_script("lab_client", capsys, "--base", demo_server.url)
    assert (
        "token obtained: scope system/List.c system/DocumentReference.crs system/Binary.cr" in out
    )
    assert "ITI-65 Provide Document Bundle: Lab report for INS 156096912304594" in out
    assert "Lab report pushed, found and retrieved: DocumentReference/" in out
    assert out.rstrip().endswith("in Patient/demo-bernard")


def test_patient_app_standalone_launch_lists_the_patients_documents(demo_server, capsys):
    out = run_script(
        "patient_app", capsys, "--base", demo_server.url, "--auto", "--outbox", demo_server.outbox
    )
    assert "Token obtained; patient in context: demo-alice" in out
    assert "Patient/demo-alice: " in out
    assert "DocumentReference(s) for Patient/demo-alice:" in out
    assert "DocumentReference/demo-alice-doc-01" in out
    assert "demo-bernard" not in out


def test_ehr_launch_hands_the_software_its_patient(demo_server, capsys):
    out = run_script(
        "ehr_launch", capsys, "--base", demo_server.url, "--auto", "--outbox", demo_server.outbox
    )
    assert "Sign in as dr.lefevre" in out
    assert "Token response patient: demo-alice (need_patient_banner: false)" in out
