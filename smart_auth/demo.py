"""Demo sign-in accounts and OAuth clients, created by `fhir-server serve --demo` only.

DEMO ONLY: the passwords, the client secret and the backend clients' private keys below are
published in examples/README.md and examples/keys/, so that the scripts in examples/ can run every
SMART flow against the demo server. Never seed them into a real deployment.

Accounts go through `accounts.create_account` (as `fhir-server create-account` and
POST /auth/admin/accounts do) and clients through `rfc7591.register_client` (as
`fhir-server register-client` and POST /auth/register do). Seeding twice (a persistent
MONGODB_URI) keeps what is already there.
"""

import json
import logging
from pathlib import Path

from smart_auth.accounts import AccountExists, create_account
from smart_auth.models import OAuthClient
from smart_auth.rfc7591 import register_client

log = logging.getLogger("carnet.demo")

KEYS_DIR = Path(__file__).resolve().parent.parent / "examples" / "keys"
DEMO_REDIRECT_URI = "http://127.0.0.1:8765/callback"

# username, demo password, fhir_user, one-time code channel and address (codes go to the outbox)
DEMO_ACCOUNTS = (
    ("alice", "demo-alice-password", "Patient/demo-alice", "email", "alice@demo.carnet.invalid"),
    (
        "dr.lefevre",
        "demo-lefevre-password",
        "Practitioner/demo-dr-lefevre",
        "sms",
        "+33600000001",
    ),
)

PATIENT_APP = "demo-patient-app"
PRO_SOFTWARE = "demo-pro-software"
PRO_SOFTWARE_SECRET = "demo-pro-software-secret-not-for-production"
HOSPITAL = "demo-hospital"
LAB = "demo-lab"
PLATFORM = "demo-platform"  # the operator's own service: reads every record (audited)


# The Organization each demo backend client acts for (operator-set, not RFC 7591 metadata).
ORGANIZATIONS = {HOSPITAL: "Organization/demo-hegp", LAB: "Organization/demo-labo"}


def _public_jwks(client_id: str) -> dict:
    return json.loads((KEYS_DIR / f"{client_id}.public.jwks.json").read_text("utf-8"))


def demo_clients() -> list[tuple[str, str | None, dict]]:
    """(client_id, client_secret, RFC 7591 metadata) of each demo client."""
    return [
        (
            PATIENT_APP,
            None,
            {
                "client_name": "Demo patient app",
                "redirect_uris": [DEMO_REDIRECT_URI],
                "token_endpoint_auth_method": "none",
            },
        ),
        (
            PRO_SOFTWARE,
            PRO_SOFTWARE_SECRET,
            {
                "client_name": "Demo professional software (labelled)",
                "redirect_uris": [DEMO_REDIRECT_URI],
                "token_endpoint_auth_method": "client_secret_basic",
                "labelled": True,
            },
        ),
        (
            HOSPITAL,
            None,
            {
                "client_name": "Demo hospital system (Backend Services)",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": _public_jwks(HOSPITAL),
            },
        ),
        (
            LAB,
            None,
            {
                "client_name": "Demo medical laboratory system (Backend Services)",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": _public_jwks(LAB),
            },
        ),
        (
            PLATFORM,
            None,
            {
                "client_name": "Demo operator platform (Backend Services, full access)",
                "token_endpoint_auth_method": "private_key_jwt",
                "jwks": _public_jwks(PLATFORM),
            },
        ),
    ]


def seed() -> list[str]:
    """Create the demo accounts and clients that do not exist yet; returns what was created."""
    created = []
    for username, password, fhir_user, channel, address in DEMO_ACCOUNTS:
        try:
            create_account(username, password, fhir_user, channel, address)
        except AccountExists:
            continue
        created.append(f"account {username} ({fhir_user})")
    for client_id, secret, metadata in demo_clients():
        if OAuthClient.objects(client_id=client_id).first() is not None:
            continue
        _register(client_id, secret, metadata)
        created.append(f"client {client_id}")
    return created


def _register(client_id: str, secret: str | None, metadata: dict) -> None:
    """Register through RFC 7591 with the fixed, documented demo credentials."""
    register_client(
        metadata,
        client_id=client_id,
        client_secret=secret,
        organization=ORGANIZATIONS.get(client_id),
        platform=client_id == PLATFORM,
    )
