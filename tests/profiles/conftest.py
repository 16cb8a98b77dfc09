"""The ITI-65 example Bundles of examples/mhd, loaded afresh for each test."""

import json
from pathlib import Path

import pytest

MHD_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mhd"
EXAMPLES = ("iti65-discharge-letter.json", "iti65-lab-report.json")


def load_example(name: str) -> dict:
    return json.loads((MHD_EXAMPLES / name).read_text("utf-8"))


@pytest.fixture
def bundle() -> dict:
    """The discharge letter Bundle: entry 0 SubmissionSet, 1 DocumentReference, 2 Binary."""
    return load_example("iti65-discharge-letter.json")
