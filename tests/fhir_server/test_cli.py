"""The `fhir-server` console script: load files, and serve (the README's first command)."""

import http.client
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid

from carnet.cli import main


def _scratch_db(monkeypatch) -> str:
    name = f"carnet_cli_{uuid.uuid4().hex[:10]}"
    monkeypatch.setenv("MONGODB_DB", name)
    return name


def _drop(name: str) -> None:
    if os.environ.get("MONGODB_URI"):
        import pymongo

        pymongo.MongoClient(os.environ["MONGODB_URI"]).drop_database(name)


def test_load_reports_loaded_and_failed(tmp_path, capsys, monkeypatch):
    db_name = _scratch_db(monkeypatch)
    good = tmp_path / "patient.json"
    good.write_text(json.dumps({"resourceType": "Patient", "id": "cli-1", "gender": "female"}))
    lines = tmp_path / "more.ndjson"
    lines.write_text(
        json.dumps({"resourceType": "Patient", "gender": "male"})
        + "\n"
        + json.dumps({"resourceType": "Patient", "gender": "robot"})
        + "\n"
    )
    assert main(["load", str(good), str(lines)]) == 1
    out = capsys.readouterr()
    assert "2 loaded, 1 failed" in out.out
    assert "robot" in out.err
    _drop(db_name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_answers_metadata_over_real_http(monkeypatch):
    db_name = _scratch_db(monkeypatch)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "FHIR_SERVER_BASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "carnet.cli", "serve", "--port", str(port), "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        body = None
        while time.monotonic() < deadline and body is None:
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/fhir/metadata", timeout=2
                ) as response:
                    body = json.loads(response.read())
            except OSError:
                time.sleep(0.3)
        assert body is not None, "the server did not answer within 60 s"
        assert body["resourceType"] == "CapabilityStatement"
        assert body["fhirVersion"] == "4.0.1"
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
        _drop(db_name)
    assert "EMBEDDED" in output or os.environ.get("MONGODB_URI")


def _answer(port: int, path: str, headers: dict | None = None) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read()
    finally:
        connection.close()


def test_gunicorn_leaves_long_urls_and_headers_to_the_fhir_answers(monkeypatch):
    """414 and 431 as OperationOutcomes from the application, not gunicorn's HTML pages."""
    db_name = _scratch_db(monkeypatch)
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "FHIR_SERVER_BASE_URL"}
    process = subprocess.Popen(
        [sys.executable, "-m", "carnet.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if _answer(port, "/fhir/metadata")[0] == 200:
                    break
            except OSError:
                time.sleep(0.3)
        answers = [
            (414, _answer(port, "/fhir/Patient?name=" + "a" * 9000)),
            (414, _answer(port, "/fhir/" + "b" * 20000)),
            (431, _answer(port, "/fhir/metadata", {"X-Padding": "c" * 9000})),
        ]
    finally:
        process.terminate()
        process.communicate(timeout=20)
        _drop(db_name)
    for expected, (status, content_type, body) in answers:
        assert status == expected, body[:200]
        assert content_type.startswith("application/fhir+json")
        outcome = json.loads(body)
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "too-long"


def test_rotate_keys_names_the_new_key(monkeypatch, capsys):
    db_name = _scratch_db(monkeypatch)
    assert main(["rotate-keys"]) == 0
    assert capsys.readouterr().out.startswith("Now signing with key ")
    _drop(db_name)
