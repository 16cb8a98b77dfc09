"""`fhir-server ... --help` describes every option with its default (carnet.cli, carnet.cli_admin)."""

import argparse
import re
import subprocess
import sys

import pytest

from carnet.cli import build_parser


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(sub.choices)


def _help_of(name: str) -> str:
    """What `fhir-server NAME --help` prints, as a person runs it."""
    done = subprocess.run(
        [sys.executable, "-m", "carnet.cli", name, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    return re.sub(r"\s+", " ", done.stdout)


@pytest.mark.parametrize("name", sorted(_subcommands()))
def test_every_option_says_its_default(name):
    shown = _help_of(name)
    parser = _subcommands()[name]
    for action in parser._actions:
        if not action.option_strings or action.dest == "help":
            continue
        option = action.option_strings[-1]
        assert action.help, f"{name} {option} has no help"
        text = re.sub(r"\s+", " ", parser._get_formatter()._expand_help(action))
        assert text in shown, f"{name} {option}: {text!r} is not in --help"
        assert re.search(r"\((default|required)|default:", text), (
            f"{name} {option}: the help does not say its default: {text!r}"
        )
        if action.default not in (None, False, [], "", argparse.SUPPRESS):
            assert str(action.default) in text, f"{name} {option}: {text!r}"
