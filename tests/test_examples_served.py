"""The SMART examples sign in end to end against the server as the README serves it.

`fhir-server serve --demo` runs two workers: a sign-in's pages (the form, its CSRF token, the
one-time code, the consent) land on either, so each step must be readable by the other. Each
flow is run several times: one that depended on the worker would fail most of them.
"""

import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import LiveServer

ROOT = Path(__file__).resolve().parent.parent
RUNS = 4


@pytest.fixture
def served(tmp_path, monkeypatch):
    monkeypatch.setenv("FHIR_SERVER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    monkeypatch.delenv("FHIR_SERVER_SECRET_KEY", raising=False)
    monkeypatch.chdir(tmp_path)
    server = LiveServer(tmp_path / "server.log", workers=2, demo=True).start(timeout=180)
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.parametrize("script", ["patient_app.py", "ehr_launch.py"])
def test_the_smart_examples_sign_in_on_two_workers(served, tmp_path, script):
    for run in range(RUNS):
        done = subprocess.run(
            [sys.executable, str(ROOT / "examples" / script), "--auto"]
            + ["--base", served.url, "--outbox", str(tmp_path / "outbox.jsonl")],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, (run, done.stdout[-1500:], done.stderr[-1500:])
    assert "Patient/demo-alice" in done.stdout
