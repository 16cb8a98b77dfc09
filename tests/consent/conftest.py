"""The sign-in fixtures (outbox, OAuth driver) serve the consent tests' token flows too."""

from tests.smart_auth.conftest import oauth, outbox, settings  # noqa: F401
