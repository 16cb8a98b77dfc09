"""Which commits of the embedded store wait for the disk's flush, seen from the system calls.

A commit holding anything a client asked to change waits for the log's `fdatasync`; one holding
only a trail (the AuditEvents of a read or a search) does not, and the checkpointer's next pass,
a moment later, flushes the log for it. Traced with strace in a process of its own.
"""

import os
import re
import shutil
import subprocess
import sys
import textwrap

import pytest

pytestmark = [
    pytest.mark.skipif(bool(os.environ.get("MONGODB_URI")), reason="the embedded store's log"),
    pytest.mark.skipif(shutil.which("strace") is None, reason="needs strace"),
]

SCRIPT = textwrap.dedent(
    """
    import os, sys, time
    from fhir_server.store.embedded.engine import CHECKPOINT_DELAY, Engine

    engine = Engine(sys.argv[1])
    engine.put("carnet.Patient", "s1", {"_id": "1"})
    time.sleep(CHECKPOINT_DELAY * 4)  # the checkpointer's pass for the set-up is over
    def mark(name):
        os.write(2, f"@{name}@".encode())
    mark("asked")
    engine.put("carnet.Patient", "s2", {"_id": "2"})
    mark("trail")
    with engine.trail():
        engine.put("carnet.AuditEvent", "s3", {"_id": "3"})
    mark("answered")
    time.sleep(CHECKPOINT_DELAY * 4)
    mark("end")
    """
)


def _syncs_between_marks(trace: str) -> dict[str, int]:
    """How many fdatasync/fsync calls each marked stretch of the trace holds."""
    counts, current = {}, None
    for line in trace.splitlines():
        mark = re.search(r'"@(\w+)@"', line)
        if mark and "write(2" in line:
            current = mark.group(1)
            counts[current] = 0
        elif current and re.search(r"\b(fdatasync|fsync)\(", line):
            counts[current] += 1
    return counts


def test_a_trail_commit_does_not_wait_for_the_flush_and_the_next_pass_flushes_it(tmp_path):
    script = tmp_path / "commits.py"
    script.write_text(SCRIPT)
    trace = tmp_path / "trace.txt"
    done = subprocess.run(
        ["strace", "-f", "-qq", "-e", "trace=fdatasync,fsync,write", "-o", str(trace)]
        + [sys.executable, str(script), str(tmp_path / "data")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=os.getcwd(),
    )
    assert done.returncode == 0, done.stderr
    syncs = _syncs_between_marks(trace.read_text())
    assert syncs["asked"] >= 1  # a write a client asked for: flushed before its commit returns
    assert syncs["trail"] == 0  # a trail alone: its commit returns at once
    assert syncs["answered"] >= 1  # and the checkpointer flushes it a moment later
