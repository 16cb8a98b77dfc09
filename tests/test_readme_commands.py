"""The README's commands run as written against a fresh demo server (`fhir-server serve --demo`).

Every command of the README's `sh` blocks is run, in the README's order, with only the server's
address changed (a free port instead of 8080), except the ones that cannot run as such, each for
a reason named below (a placeholder to fill in, an install, a benchmark). A curl command must
answer the status its comment gives (`# read: 200`), or a 2xx when it gives none; any other
command must exit 0. The token the FHIR examples use is obtained as the README says, by
`examples/backend_client.py --client-id demo-platform --print-token`.
"""

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from tests.live_server import ADMIN_TOKEN, LiveServer

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
PASSWORD = "a passphrase for the readme test"
# Variables the README's prose defines before its commands (the FHIR block defines B, H and J).
DEFINED = {"TOKEN", "A", "PASSWORD", "FHIR_SERVER_ADMIN_TOKEN", "B", "H", "J", "CONTENT"}
# Why a command is not run (the first that applies).
NOT_RUN = [
    ("an install, or the test suite itself", re.compile(r"python3 -m venv|scripts/check|pytest")),
    ("a benchmark (minutes long)", re.compile(r"^python bench/")),
    ("a synopsis of options", re.compile(r"\[--|\bFILE\b|\bNIR\b|--name N\b")),
    ("it serves (the test's server is already running)", re.compile(r"^fhir-server serve")),
    (
        "a placeholder from a flow run elsewhere (code, client id or secret, refresh token)",
        re.compile(r"\$(CODE|VERIFIER|ID|SECRET|RT)\b"),
    ),
    ("it needs a one-time code sent first (a sign-in)", re.compile(r"outbox\.jsonl")),
]
STATUS = re.compile(r"#[^#]*?:\s*(\d{3})\b")


def commands() -> list[tuple[str, str | None]]:
    """Each command of the README's sh blocks (continuation lines joined), with the status its
    comment announces."""
    found, pending = [], ""
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if not pending and (not line.strip() or line.lstrip().startswith("#")):
                continue
            pending = f"{pending}\n{line}" if pending else line
            try:
                shlex.split(pending, comments=True)
            except ValueError:  # a quoted body goes on over the next line
                continue
            command, _, comment = pending.rpartition("  #") if "  #" in line else (pending, "", "")
            status = STATUS.search("#" + comment) if comment else None
            found.append((command.strip(), status.group(1) if status else None))
            pending = ""
    return found


def reason_not_run(command: str) -> str | None:
    return next((why for why, pattern in NOT_RUN if pattern.search(command)), None)


def test_every_command_is_run_or_has_a_reason():
    for command, _ in commands():
        used = set(re.findall(r"\$\{?([A-Z_]+)", command)) - DEFINED
        if reason_not_run(command) is None:
            assert not used, f"{command!r} uses {used}: define them or give a reason"
    run = [c for c, _ in commands() if reason_not_run(c) is None]
    assert len(run) >= 20, run


@pytest.fixture
def demo(tmp_path, monkeypatch):
    monkeypatch.setenv("FHIR_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("FHIR_SERVER_OUTBOX", str(tmp_path / "outbox.jsonl"))
    monkeypatch.chdir(tmp_path)  # doc.pdf and the server's files land here
    server = LiveServer(tmp_path / "server.log", workers=1, demo=True).start(timeout=180)
    try:
        yield server
    finally:
        server.stop()


def _shell(script: str, cwd: Path, env: dict) -> tuple[str, str]:
    """The script's outcome (what follows its last `@@`) and its whole output."""
    done = subprocess.run(
        ["bash", "-c", script], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    return done.stdout.rsplit("@@", 1)[-1].strip(), done.stdout + done.stderr


def test_the_readme_commands_answer_as_it_says(demo, tmp_path):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    address = f"127.0.0.1:{demo.port}"
    bin_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
        "PASSWORD": PASSWORD,
        "FHIR_SERVER_ADMIN_TOKEN": ADMIN_TOKEN,
        "A": f"Authorization: Bearer {ADMIN_TOKEN}",
    }
    readme = README.read_text(encoding="utf-8")
    token_command = re.search(r"TOKEN=\$\((python examples/backend_client\.py[^)]*)\)", readme)
    token = subprocess.run(
        f"{token_command.group(1)} --base http://{address}",
        shell=True,
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert token.returncode == 0, token.stderr
    env["TOKEN"] = token.stdout.strip()

    failures = []
    prelude = []
    for command, status in commands():
        if reason_not_run(command):
            continue
        command = command.replace("localhost:8080", address).replace("127.0.0.1:8080", address)
        if re.match(r"^[A-Z]+=", command):  # B=...; H=...; J=...: kept for the commands after it
            prelude.append(command)
            continue
        if command.startswith("curl "):
            script = "\n".join([*prelude, command + " -w '\\n@@%{http_code}'"])
            got, out = _shell(script, tmp_path, env)
            ok = got == status if status else got.startswith("2")
        else:
            got, out = _shell("\n".join([*prelude, command, "echo @@$?"]), tmp_path, env)
            ok = got == "0"
        if not ok:
            failures.append(
                f"{command}\n  expected {status or '2xx / exit 0'}, got {got}: {out[-400:]}"
            )
    assert not failures, "\n".join(failures)
    assert (tmp_path / "doc.pdf").read_bytes().startswith(b"%PDF")
