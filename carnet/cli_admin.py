"""The `fhir-server` administration sub-commands: accounts, OAuth clients, a person's record status.

Each writes to the store the server serves: MONGODB_URI, or else the embedded store under
FHIR_SERVER_DATA_DIR, which a running server's workers share. Secrets are read from standard input
or prompted, never taken from the arguments.
"""

import getpass
import sys
from pathlib import Path

from fhir_server.config import Settings


def _connect(settings: Settings) -> None:
    """Bind the records that are not FHIR (accounts, clients, record statuses) to the store."""
    from fhir_server.store.db import connect_documents
    from smart_auth.models import ALIAS

    connect_documents(ALIAS, settings.mongodb_uri, settings.mongodb_db, settings.data_dir)


def create_account(args) -> int:
    """Create a login account; the password comes from stdin (or a prompt), never from argv."""
    from smart_auth.accounts import AccountError, create_account

    settings = Settings.from_env()
    password = (
        sys.stdin.readline().rstrip("\r\n")
        if args.password_stdin
        else getpass.getpass("Password: ")
    )
    _connect(settings)
    channel, address = ("sms", args.otp_sms) if args.otp_sms else ("email", args.otp_email)
    try:
        account = create_account(
            args.username,
            password,
            args.fhir_user,
            channel,
            address,
            args.external_subject,
            args.represents,
        )
    except AccountError as error:
        print(f"Account not created: {error}", file=sys.stderr)
        return 1
    print(f"Account '{account.username}' created for {account.fhir_user} (codes by {channel}).")
    return 0


def register_client_command(args) -> int:
    """Register an OAuth client (RFC 7591 metadata); prints its client_id (and secret, once)."""
    import json

    from smart_auth.rfc7591 import ClientMetadataError, register_client

    settings = Settings.from_env()
    _connect(settings)
    metadata = {
        "client_name": args.name,
        "redirect_uris": args.redirect_uri,
        "token_endpoint_auth_method": args.auth_method,
        "scope": args.scope,
        "labelled": args.labelled,
        "jwks": json.loads(args.jwks.read_text(encoding="utf-8")) if args.jwks else None,
        "jwks_uri": args.jwks_uri,
    }
    try:
        client = register_client(
            {k: v for k, v in metadata.items() if v},
            organization=args.organization,
            platform=args.platform,
        )
    except ClientMetadataError as error:
        print(f"Client not registered: {error.error}: {error.description}", file=sys.stderr)
        return 1
    print(client["client_id"])
    if "client_secret" in client:
        print(f"client_secret (shown once): {client['client_secret']}", file=sys.stderr)
    return 0


def record_status(args) -> int:
    """Show or set the status of a person's record (ingestion.records), keyed by INS."""
    from ingestion import records
    from ingestion.ins import InvalidIns

    settings = Settings.from_env()
    _connect(settings)
    try:
        if args.set:
            record = records.set_status(args.ins, args.set, args.system)
        else:
            record = records.find(args.ins, args.system)
    except InvalidIns as error:
        print(f"Invalid INS: {error}", file=sys.stderr)
        return 2
    status = record.status if record else "open (never opposed, no record opened yet)"
    opened = f", {record.patient}" if record and record.patient else ""
    print(f"Record of INS {args.system}|{args.ins}: {status}{opened}")
    return 0


def add_create_account(sub) -> None:
    account = sub.add_parser(
        "create-account", help="create a login account for a Patient or a Practitioner"
    )
    account.add_argument("--username", required=True, help="the sign-in name (required)")
    account.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (default: off, prompt for it)",
    )
    account.add_argument(
        "--fhir-user",
        required=True,
        help="Patient/<id>, Practitioner/<id>, or RelatedPerson/<id> for a legal representative "
        "(required)",
    )
    account.add_argument(
        "--represents",
        metavar="Patient/ID",
        help="a legal representative's account: the patient whose record they act on "
        "(default: none)",
    )
    channel = account.add_mutually_exclusive_group(required=True)
    channel.add_argument(
        "--otp-email",
        metavar="ADDRESS",
        help="send one-time codes by e-mail (required: this or --otp-sms)",
    )
    channel.add_argument(
        "--otp-sms",
        metavar="PHONE",
        help="send one-time codes by text message (required: this or --otp-email)",
    )
    account.add_argument(
        "--external-subject",
        metavar="ID",
        help="a Practitioner's national id as the external identity provider asserts it "
        "(default: none, built-in sign-in only)",
    )


def add_register_client(sub) -> None:
    client = sub.add_parser("register-client", help="register an OAuth client (SMART app)")
    client.add_argument("--name", required=True, help="the name people see (required)")
    client.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="a redirect URI, exactly; repeatable (default: none, for a backend client)",
    )
    client.add_argument(
        "--auth-method",
        choices=["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        help="default: private_key_jwt with --jwks/--jwks-uri, else client_secret_basic",
    )
    client.add_argument(
        "--jwks", type=Path, help="a JSON file holding the public JWK Set (default: none)"
    )
    client.add_argument("--jwks-uri", help="where the client publishes its JWK Set (default: none)")
    client.add_argument("--scope", default="", help="scopes it may be granted (default: any)")
    client.add_argument(
        "--labelled",
        action="store_true",
        help="labelled professional software, which may get user/ scopes (default: off)",
    )
    client.add_argument(
        "--organization",
        help="backend client: the Organization it acts for, e.g. Organization/123 (default: none)",
    )
    client.add_argument(
        "--platform",
        action="store_true",
        help="backend client of the operator's own services: reads every record, audited "
        "(default: off)",
    )


def add_record_status(sub) -> None:
    from ingestion.ins import INS_NIR
    from ingestion.models import OPERATOR_STATUSES

    record = sub.add_parser(
        "record-status",
        help="show or set a person's record status (opposed or closed: no writes, no professional reads)",
    )
    record.add_argument("--ins", required=True, help="the INS matricule, 15 characters (required)")
    record.add_argument("--system", default=INS_NIR, help="the INS system (default: %(default)s)")
    record.add_argument(
        "--set",
        choices=OPERATOR_STATUSES,
        help="the new status, one of %(choices)s (default: none, show the status)",
    )


def lifecycle(carnet, args) -> int:
    """`lifecycle notify`: write to each listed person; `lifecycle run`: the daily pass."""
    from ingestion.opt_out import read_notices

    if args.action == "run":
        done = carnet.lifecycle.run()
        print(f"{done['opened']} record(s) opened, {done['erased']} archived record(s) erased.")
        return 0
    if args.file is None or str(args.file) == "-":
        lines = sys.stdin.read().splitlines()
    else:
        lines = args.file.read_text(encoding="utf-8").splitlines()
    notices, errors = read_notices(lines, args.system)
    done = carnet.lifecycle.notify(notices)
    for line in errors:
        print(f"Not notified: {line}", file=sys.stderr)
    for line in done["skipped"]:
        print(f"Skipped: {line}", file=sys.stderr)
    print(
        f"{len(done['notified'])} person(s) notified, {len(done['skipped'])} skipped, "
        f"{len(errors)} invalid line(s)."
    )
    return 1 if errors else 0


def add_lifecycle(sub) -> None:
    from ingestion.ins import INS_NIR

    life = sub.add_parser(
        "lifecycle",
        help="the records' life: notify people of their record's opening; the daily pass",
    )
    actions = life.add_subparsers(dest="action", required=True)
    notify = actions.add_parser(
        "notify",
        help="send each listed person a provisional code; their record opens after "
        "FHIR_SERVER_OPT_OUT_DAYS (default 42) unless they oppose",
    )
    notify.add_argument(
        "file",
        nargs="?",
        type=Path,
        help="lines 'ins,birth_date(YYYY-MM-DD),channel(email|sms|letter),address' "
        "(default: standard input)",
    )
    notify.add_argument("--system", default=INS_NIR, help="the INS system (default: %(default)s)")
    actions.add_parser(
        "run",
        help="open the records whose opt-out window ended; erase the closed records whose "
        "FHIR_SERVER_ARCHIVE_YEARS (default 10) archive ended. Idempotent: run it daily",
    )
