"""The senders and readers of the ingestion tests (pushes are built with tests/ingestion/mhd.py)."""

import pytest

from ingestion.ins import INS_NIR
from tests.ingestion.lifecycle import T0
from tests.ingestion.mhd import HEGP
from tests.smart_auth.conftest import (
    Outbox,
    live_server,  # noqa: F401  (the browser tests' server)
)


@pytest.fixture
def hospital(client_for):
    """The demo hospital's system (SMART Backend Services, acting for Organization/demo-hegp)."""
    return client_for("system/*.cruds", organization=HEGP, client_id="hegp-system")


@pytest.fixture
def other_hospital(client_for):
    return client_for(
        "system/*.cruds", organization="Organization/other-hospital", client_id="other-system"
    )


@pytest.fixture
def patient_of(client_for):
    """The patient's own app, for the record `Patient/<id>`."""
    return lambda reference: client_for(
        "patient/*.rs", "patient", fhir_user=reference, patient=reference
    )


@pytest.fixture
def record_of(fhir):
    """`Patient/<id>` of the record holding an INS (read by the platform), None if none."""

    def find(value: str, system: str = INS_NIR):
        ids = fhir.ids(f"Patient?identifier={system}|{value}")
        assert len(ids) <= 1, ids
        return f"Patient/{ids[0]}" if ids else None

    return find


@pytest.fixture
def outbox(settings) -> Outbox:
    """What the sender wrote (the record's-life tests read the codes from it)."""
    return Outbox(settings.outbox)


@pytest.fixture
def clock(carnet):
    """The app's clock, set to T0 (tests/ingestion/lifecycle.py); tests move it."""
    carnet.clock.set(T0)
    return carnet.clock
