"""A real server for the tests that kill, restart or administer one (tests/live_server.py), and
the framework-free core for those that drive it directly (tests/core.py)."""

import pytest

from tests.core import core  # noqa: F401
from tests.live_server import ADMIN_TOKEN, LiveServer


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("FHIR_SERVER_ADMIN_TOKEN", ADMIN_TOKEN)
    live = LiveServer(tmp_path / "server.log")
    try:
        yield live.start()
    finally:
        live.stop()
