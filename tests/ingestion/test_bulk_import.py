"""Bulk NDJSON import (ingestion.bulk) and `fhir-server import`: per-line errors, resume, progress."""

import json
from pathlib import Path

import pytest

from carnet.cli import main
from carnet_core.context import operator_context
from ingestion.bulk import JobError, find_job, run_import

CTX = operator_context("test-import")


def patient(n: int, with_id: bool = True) -> dict:
    resource = {"resourceType": "Patient", "name": [{"family": f"Bulk{n}"}], "gender": "female"}
    return {**resource, "id": f"bulk-{n}"} if with_id else resource


def write_ndjson(path: Path, lines: list) -> Path:
    text = "".join((line if isinstance(line, str) else json.dumps(line)) + "\n" for line in lines)
    path.write_text(text, encoding="utf-8")
    return path


def total(fhir, query: str = "Patient") -> int:
    return fhir.search(f"{query}?_summary=count")["total"]


def versions(fhir, id: str) -> int:
    return len(fhir.search(f"Patient/{id}/_history").get("entry", []))


def crash_after(monkeypatch, carnet, writes: int, error: type[BaseException] = RuntimeError):
    """Make the process 'die' on its n-th write (create or update), as a kill would."""
    calls = {"n": 0}
    for name in ("create", "update"):
        original = getattr(carnet.interactions, name)

        def failing(*args, _original=original, **kwargs):
            calls["n"] += 1
            if calls["n"] == writes:
                raise error("simulated crash")
            return _original(*args, **kwargs)

        monkeypatch.setattr(carnet.interactions, name, failing)


def test_every_line_is_imported_with_and_without_id(carnet, fhir, tmp_path):
    source = write_ndjson(
        tmp_path / "p.ndjson",
        [patient(n) for n in range(30)] + [patient(n, False) for n in range(5)],
    )
    job = run_import(carnet.interactions, CTX, [source], job_id="all-lines")
    assert job.status == "completed"
    assert (job.total("loaded"), job.total("failed"), job.total("skipped")) == (35, 0, 0)
    assert total(fhir) == 35
    assert fhir.get("Patient/bulk-7").get_json()["name"][0]["family"] == "Bulk7"


def test_a_bad_line_is_reported_with_its_number_and_the_rest_imported(carnet, fhir, tmp_path):
    lines = [patient(1), patient(2), '{"resourceType": "Patient", ', patient(4)]
    lines += ["[1, 2]", {**patient(6), "gender": "robot"}, "", "   "]
    lines += [{"resourceType": "Observation", "id": "x"}, patient(10)]
    source = write_ndjson(tmp_path / "mixed.ndjson", lines)
    errors = []
    job = run_import(
        carnet.interactions,
        CTX,
        [source],
        on_error=lambda path, line, message: errors.append((line, message)),
    )
    assert [line for line, _ in errors] == [3, 5, 6, 9]
    assert "Malformed JSON" in errors[0][1]
    assert "Not a FHIR resource" in errors[1][1]
    assert "robot" in errors[2][1]
    assert (job.total("loaded"), job.total("failed")) == (4, 4)
    assert [(e.line, e.source) for e in find_job(job.job_id).line_errors] == [
        (3, 0),
        (5, 0),
        (6, 0),
        (9, 0),
    ]
    assert total(fhir) == 4


def test_a_line_not_utf8_or_too_long_fails_alone(carnet, fhir, tmp_path):
    source = tmp_path / "raw.ndjson"
    long_line = json.dumps({**patient(2), "text": {"status": "generated", "div": "x" * 500}})
    source.write_bytes(
        b'{"resourceType": "Patient", "id": "bad-\xff"}\n'
        + long_line.encode()
        + b"\n"
        + json.dumps(patient(3)).encode()
    )
    errors = []
    job = run_import(
        carnet.interactions,
        CTX,
        [source],
        max_line_bytes=300,
        on_error=lambda path, line, message: errors.append((line, message)),
    )
    assert [line for line, _ in errors] == [1, 2]
    assert "not UTF-8" in errors[0][1] and "longer than 300 bytes" in errors[1][1]
    assert job.total("loaded") == 1
    assert fhir.get("Patient/bulk-3").status_code == 200


def test_importing_the_same_file_again_adds_no_versions(carnet, fhir, tmp_path):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(n) for n in range(10)])
    run_import(carnet.interactions, CTX, [source], job_id="first")
    again = run_import(carnet.interactions, CTX, [source], job_id="second")
    assert (again.total("loaded"), again.total("skipped")) == (0, 10)
    assert versions(fhir, "bulk-3") == 1
    changed = write_ndjson(tmp_path / "q.ndjson", [{**patient(3), "gender": "male"}])
    assert run_import(carnet.interactions, CTX, [changed]).total("loaded") == 1
    assert versions(fhir, "bulk-3") == 2


@pytest.mark.parametrize("with_id", [True, False])
def test_a_crashed_job_resumes_without_duplicates(carnet, fhir, tmp_path, monkeypatch, with_id):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(n, with_id) for n in range(250)])
    with monkeypatch.context() as patched:
        crash_after(patched, carnet, 160)
        with pytest.raises(RuntimeError):
            run_import(carnet.interactions, CTX, [source], job_id="crashy", checkpoint_every=100)
    stored = find_job("crashy")
    assert stored.status == "failed" and "simulated crash" in stored.message
    # Only what the last checkpoint committed: lines 101-159 will be applied again.
    assert (stored.sources[0].line, stored.sources[0].loaded) == (100, 100)

    job = run_import(carnet.interactions, CTX, [], job_id="crashy", resume=True)
    assert job.status == "completed"
    assert job.total("failed") == 0
    assert job.total("loaded") + job.total("skipped") == 250
    assert job.total("skipped") == 59
    assert total(fhir) == 250
    if with_id:  # the lines applied twice made no second version
        assert [versions(fhir, f"bulk-{n}") for n in (99, 100, 130, 158, 159, 160)] == [1] * 6


def test_resuming_needs_the_job_and_the_same_unchanged_files(carnet, tmp_path):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(1)])
    other = write_ndjson(tmp_path / "o.ndjson", [patient(2)])
    with pytest.raises(JobError, match="No import job"):
        run_import(carnet.interactions, CTX, [], job_id="nope", resume=True)
    run_import(carnet.interactions, CTX, [source], job_id="named")
    with pytest.raises(JobError, match="exists already"):
        run_import(carnet.interactions, CTX, [source], job_id="named")
    with pytest.raises(JobError, match="other files"):
        run_import(carnet.interactions, CTX, [other], job_id="named", resume=True)
    with pytest.raises(JobError, match="no such file"):
        run_import(carnet.interactions, CTX, [tmp_path / "missing.ndjson"])
    with pytest.raises(JobError, match="not a job name"):
        run_import(carnet.interactions, CTX, [source], job_id="../x")


def test_a_file_changed_before_the_resume_is_refused(carnet, tmp_path, monkeypatch):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(n) for n in range(5)])
    with monkeypatch.context() as patched:
        crash_after(patched, carnet, 3)
        with pytest.raises(RuntimeError):
            run_import(carnet.interactions, CTX, [source], job_id="changed", checkpoint_every=1)
    write_ndjson(source, [patient(n) for n in range(6)])
    with pytest.raises(JobError, match="changed since the job started"):
        run_import(carnet.interactions, CTX, [], job_id="changed", resume=True)


def test_progress_is_reported_along_the_way(carnet, tmp_path):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(n) for n in range(120)])
    seen = []
    run_import(carnet.interactions, CTX, [source], progress=seen.append, progress_every=50)
    assert [p.lines for p in seen] == [0, 50, 100, 120]
    assert seen[1].bytes_done < seen[2].bytes_done < seen[3].bytes_total
    last = seen[-1]
    assert last.finished and last.percent == 100.0 and last.loaded == 120 and last.rate > 0


# -- the command line ---------------------------------------------------------------------------


@pytest.fixture
def cli(carnet, monkeypatch):
    """`fhir-server` on the test's store (the command builds its Carnet through the factory)."""
    monkeypatch.setattr("carnet.app.build", lambda settings, **built_with: carnet)
    return main


def test_cli_import_prints_bad_lines_and_fails(cli, fhir, tmp_path, capsys):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(1), "not json", patient(3)])
    assert cli(["import", str(source), "--job", "cli-bad"]) == 1
    err = capsys.readouterr().err
    assert f"{source.resolve()}:2: Malformed JSON" in err
    assert "Import cli-bad completed: 2 loaded, 1 failed, 0 skipped" in err
    assert total(fhir) == 2


def test_cli_import_shows_progress_every_1000_lines(cli, tmp_path, capsys):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(n, False) for n in range(1001)])
    assert cli(["import", str(source)]) == 0
    err = capsys.readouterr().err
    assert "1000 lines (" in err and "lines/s" in err
    assert "Import" in err and "completed: 1001 loaded, 0 failed, 0 skipped in" in err


def test_cli_resumes_an_interrupted_import(cli, carnet, fhir, tmp_path, capsys, monkeypatch):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(n) for n in range(150)])
    with monkeypatch.context() as patched:
        crash_after(patched, carnet, 120, KeyboardInterrupt)
        assert cli(["import", str(source), "--job", "cli-crash"]) == 130
    assert "resume with --job cli-crash --resume" in capsys.readouterr().err
    assert cli(["import", "--job", "cli-crash", "--resume"]) == 0
    err = capsys.readouterr().err
    assert "from line 100" in err
    assert "Import cli-crash completed: 131 loaded, 0 failed, 19 skipped" in err
    assert total(fhir) == 150


def test_cli_import_usage_errors(cli, tmp_path, capsys):
    source = write_ndjson(tmp_path / "p.ndjson", [patient(1)])
    assert cli(["import", "--resume"]) == 2
    assert cli(["import"]) == 2
    assert cli(["import", "--job", "unknown", "--resume"]) == 2
    assert cli(["import", str(source), "--job", "twice"]) == 0
    assert cli(["import", str(source), "--job", "twice"]) == 2
    assert "exists already" in capsys.readouterr().err
