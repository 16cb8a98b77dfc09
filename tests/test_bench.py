"""The benchmark scripts still run (tiny sizes): they are not timed here, only kept working.

bench/*.py print the figures the README reports; a change that breaks one (a token it can no longer
use, an API it calls) fails here instead of on the next measurement.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize(
    "script, args, expected",
    [
        (
            "rest_core.py",
            ["--sizes", "300,400", "--queries", "3", "--per-patient", "15", "--http-creates", "10"],
            "create",
        ),
        ("policy.py", ["--size", "300", "--patients", "20", "--queries", "3"], "ratio"),
        (
            "ingestion.py",
            [
                "--singles",
                "3",
                "--tens",
                "1",
                "--size-kb",
                "5",
                "--patients",
                "3",
                "--preload",
                "0,300",
            ],
            "/s",
        ),
        ("memory.py", ["--first", "3", "--reads", "6", "--documents", "3"], "difference"),
        # The engines of this interpreter only (mongoeco runs in a separate Python 3.13, too slow
        # to load for a smoke test); one not installed here is skipped by the script itself.
        (
            "store.py",
            ["--sizes", "200,400", "--queries", "3", "--inserts", "3", "--op-budget", "2"]
            + ["--engines", "mongomock,carnet,litemongo,montydb"],
            "ratio p99",
        ),
    ],
)
def test_the_benchmark_runs(script, args, expected):
    env = {k: v for k, v in os.environ.items() if k != "MONGODB_URI"} | {"PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert expected in done.stdout
