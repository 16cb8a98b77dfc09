"""The core needs no web framework: importing it, or building it as tests/core.py does, loads no Flask.

Only the HTTP layer imports Flask, flask-smorest or authlib's Flask integration
(docs/architecture.md#packages-and-layers).
Checked in a fresh interpreter, since the test session itself has imported the app.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CORE = (
    "fhir_server.interactions",
    "fhir_server.search.engine",
    "fhir_server.store.repository",
    "consent.policy",
    "carnet.core",
    "tests.core",
)
FRAMEWORKS = ("flask", "flask_smorest", "authlib.integrations.flask_oauth2")


@pytest.mark.parametrize("module", CORE)
def test_importing_the_core_loads_no_web_framework(module):
    check = (
        f"import sys, {module}\n"
        f"loaded = sorted(m for m in sys.modules if m in {FRAMEWORKS!r})\n"
        "assert not loaded, loaded\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", check], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr


def test_the_core_serves_a_create_and_a_search_without_a_web_framework(tmp_path):
    check = f"""
import sys
from fhir_server.config import Settings
from tests.core import build_core, patient

core = build_core(Settings(data_dir={str(tmp_path)!r}))
core.interactions.update(core.operator, "Patient", "alice", {{"resourceType": "Patient", "id": "alice"}})
alice = patient("alice")
core.interactions.create(alice, "Observation", {{
    "resourceType": "Observation", "status": "final", "code": {{"text": "weight"}},
    "subject": {{"reference": "Patient/alice"}},
}})
found = core.interactions.search(alice, "Observation", [("subject", "Patient/alice")])
assert found.body["total"] == 1, found.body
loaded = sorted(m for m in sys.modules if m in {FRAMEWORKS!r})
assert not loaded, loaded
"""
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"}
    run = subprocess.run(
        [sys.executable, "-c", check],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stderr
