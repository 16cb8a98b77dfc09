"""The administration commands change what a running `fhir-server serve` serves (issue 11, item 3).

Each command runs in its own process, as an operator runs it, next to a real gunicorn server with
two workers; its effect is then seen through the server's HTTP API.
"""

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest
from joserfc import jws

from tests.ingestion.mhd import LETTER_NIR
from tests.live_server import ADMIN_TOKEN, LiveServer, admin, register_platform_client, server_env

TAG = "urn:test:admin-while-serving"


def _kid(token: str) -> str:
    return jws.extract_compact(token.encode()).headers()["kid"]


def _tagged(n: int, run: str) -> dict:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": TAG, "value": f"{run}-{n}"}],
        "meta": {"tag": [{"system": TAG, "code": run}]},
    }


def _count(server: LiveServer, token: str, run: str) -> int:
    """How many Patients tagged with `run` the store holds."""
    return server.total(f"Patient?_tag={TAG}|{run}", token)


def test_admin_commands_take_effect_on_the_running_server(server, tmp_path):
    # register-client: the new client gets a token from the running server.
    client_id = register_platform_client("admin-while-serving")
    issued = server.token(client_id)
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]

    # create-account: the server knows the username (a second account by that name is refused).
    created = admin(
        "create-account",
        "--username",
        "while.serving",
        "--password-stdin",
        "--fhir-user",
        "Patient/while-serving",
        "--otp-email",
        "ws@example.org",
        stdin="a long enough passphrase\n",
    )
    assert created.returncode == 0, created.stderr
    assert "warning" not in created.stderr.lower()
    again = server.http.post(
        f"{server.url}/auth/admin/accounts",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
        json={
            "username": "while.serving",
            "password": "another long passphrase",
            "fhir_user": "Patient/other",
            "otp_address": "other@example.org",
        },
        timeout=30,
    )
    assert again.status_code == 409, again.text

    # record-status: a person who opposed gets no record opened by a push.
    status = admin("record-status", "--ins", LETTER_NIR, "--set", "opposed")
    assert status.returncode == 0, status.stderr
    assert "warning" not in status.stderr.lower()
    allergy = {
        "resourceType": "AllergyIntolerance",
        "code": {"coding": [{"system": "http://snomed.info/sct", "code": "91936005"}]},
        "patient": {"reference": f"Patient?identifier=urn:oid:1.2.250.1.213.1.4.8|{LETTER_NIR}"},
    }
    hospital = register_platform_client("hospital", "--organization", "Organization/hegp")
    pushed = server.fhir(
        "POST",
        "",
        server.token(hospital).json()["access_token"],
        {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {"resource": allergy, "request": {"method": "POST", "url": "AllergyIntolerance"}}
            ],
        },
    )
    assert pushed.status_code == 409, pushed.text[:500]
    assert "opposed the creation of their record" in pushed.text

    # load: the resource is served.
    loaded_file = tmp_path / "loaded.json"
    loaded_file.write_text(json.dumps({"resourceType": "Patient", "id": "loaded-while-serving"}))
    loaded = admin("load", str(loaded_file))
    assert loaded.returncode == 0 and "1 loaded, 0 failed" in loaded.stdout, loaded.stderr
    assert server.fhir("GET", "Patient/loaded-while-serving", token).status_code == 200

    # rotate-keys: the running server publishes the new key and signs new tokens with it at once;
    # a token signed with the old key still works.
    rotated = admin("rotate-keys")
    assert rotated.returncode == 0, rotated.stderr
    new_kid = rotated.stdout.split("key ")[1].rstrip(".\n")
    published = {key["kid"] for key in server.http.get(f"{server.url}/auth/jwks").json()["keys"]}
    assert {new_kid, _kid(token)} <= published
    for _ in range(4):  # whichever worker answers
        fresh = server.token(client_id).json()["access_token"]
        assert _kid(fresh) == new_kid
        assert server.fhir("GET", "Patient/loaded-while-serving", fresh).status_code == 200
    assert server.fhir("GET", "Patient/loaded-while-serving", token).status_code == 200


def test_an_import_killed_midway_resumes_and_loads_every_line_once(server, tmp_path):
    token = server.token(register_platform_client()).json()["access_token"]
    run, size = uuid.uuid4().hex[:8], 2500
    lines = tmp_path / "bulk.ndjson"
    lines.write_text("".join(json.dumps(_tagged(n, run)) + "\n" for n in range(size)))
    importing = subprocess.Popen(
        [sys.executable, "-m", "carnet.cli", "import", str(lines), "--job", "killed-job"],
        env=server_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # Killed as soon as it reports its first 1,000 lines (it reports after committing them).
    # Watched on its own output, not through the server: while the import writes line after
    # line, a request's own write (its AuditEvent) can wait for the store until the import ends.
    try:
        for report in importing.stderr:
            if "killed-job: 1000 lines" in report:
                break
        else:
            pytest.fail("the import ended before it was killed")
    finally:
        os.kill(importing.pid, signal.SIGKILL)
        importing.wait(timeout=20)
        importing.stderr.close()
    assert 0 < _count(server, token, run) < size

    resumed = admin("import", "--job", "killed-job", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    assert "Import killed-job completed" in resumed.stderr
    found = server.every(f"Patient?_tag={TAG}|{run}&_count=200", token)
    values = sorted(resource["identifier"][0]["value"] for resource in found)
    assert values == sorted(f"{run}-{n}" for n in range(size))
