"""The sign-in fixtures (outbox, OAuth driver) serve the consent tests' token flows too; the
framework-free core (tests/core.py) serves the policy's own tests."""

from tests.core import core  # noqa: F401
from tests.smart_auth.conftest import oauth, outbox, settings  # noqa: F401
