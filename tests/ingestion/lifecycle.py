"""Shared steps of the record's-life tests: the clock, the `fhir-server lifecycle` command, the
records' states and what the store still holds of a record."""

import io
import sys
from datetime import UTC, datetime

from carnet.cli import main
from ingestion.ins import INS_NIR
from ingestion.models import PatientRecord

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class Lifecycle:
    """`fhir-server lifecycle ...` run as the operator would, on the test's store and clock."""

    def __init__(self, monkeypatch, settings, clock):
        for variable, value in (
            ("FHIR_SERVER_OUTBOX", settings.outbox),
            ("FHIR_SERVER_BASE_URL", settings.base_url),
            ("MONGODB_DB", settings.mongodb_db),
        ):
            monkeypatch.setenv(variable, value)
        self.monkeypatch = monkeypatch
        self.clock = clock

    def run(self, *argv: str, stdin: str | None = None) -> int:
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        return main(["lifecycle", *argv], clock=self.clock)

    def notify(self, *lines: str) -> int:
        return self.run("notify", stdin="\n".join(lines) + "\n")


def record(nir: str) -> PatientRecord | None:
    return PatientRecord.objects(system=INS_NIR, value=nir).first()


def status(nir: str) -> str | None:
    found = record(nir)
    return found.status if found else None


def remains_of(db, *needles: str) -> list[tuple[str, dict]]:
    """Every stored document (any collection, GridFS included) naming one of `needles`; `db`: the
    store's database unchecked (the test's own reads, not the server's: tests/plan_check.py)."""
    found = []
    for name in sorted(db.list_collection_names()):
        for doc in db[name].find():
            if any(needle in repr(doc) for needle in needles):
                found.append((name, doc))
    return found
