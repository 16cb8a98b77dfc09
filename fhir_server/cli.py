"""The `fhir-server` console script: serve, create indexes, load resources.

fhir-server serve [--host H] [--port P] [--workers N] [--dev] [--demo]
fhir-server create-indexes
fhir-server rotate-keys           (new signing key; the old one stays published until its tokens expire)
fhir-server load FILE...        (JSON resources or Bundles, NDJSON one resource a line)
fhir-server import FILE... [--job NAME] [--resume]
                                (bulk NDJSON import, resumable; progress and bad lines on stderr)
fhir-server create-account --username U --password-stdin --fhir-user Patient/x --otp-email A
fhir-server register-client --name N [--redirect-uri U]... [--auth-method M] [--jwks FILE]
                            [--jwks-uri URL] [--scope S] [--labelled] [--organization O] [--platform]
fhir-server record-status --ins NIR [--system OID] [--set open|opposed|closed]
                                (a person's record: opposed or closed refuses pushes)
fhir-server notify-pending      (tell patients of documents kept from them for two weeks; daily)
"""

import argparse
import getpass
import logging
import sys
from pathlib import Path

from fhir_server import jsonio
from fhir_server.config import Settings

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "demo"


def load_files(carnet, paths: list[Path]) -> tuple[int, int]:
    """Load resources as the operator; returns (loaded, failed). Bundles go through the processor."""
    from fhir_server.errors import FhirError
    from smart_auth.context import operator_context

    ctx = operator_context("loader")
    loaded = failed = 0
    for path in paths:
        text = path.read_text(encoding="utf-8")
        items = (
            [jsonio.loads(line) for line in text.splitlines() if line.strip()]
            if path.suffix == ".ndjson"
            else [jsonio.loads(text)]
        )
        for item in items:
            try:
                if item.get("resourceType") == "Bundle" and item.get("type") in (
                    "transaction",
                    "batch",
                ):
                    carnet.bundles.process(ctx, item, None)
                elif item.get("id"):
                    carnet.interactions.update(ctx, item["resourceType"], item["id"], item)
                else:
                    carnet.interactions.create(ctx, item["resourceType"], item)
                loaded += 1
            except FhirError as error:
                failed += 1
                print(f"{path}: {error.diagnostics}", file=sys.stderr)
    return loaded, failed


def _import(carnet, args) -> int:
    """Bulk NDJSON import as the operator (ingestion.bulk); exit 1 when some line failed."""
    from ingestion.bulk import JobError, run_import
    from smart_auth.context import operator_context

    last = None

    def progress(p) -> None:
        nonlocal last
        last = p
        if p.finished:
            return  # the summary below says it
        if not p.lines_this_run:
            print(
                f"Import {p.job_id}: {p.bytes_total} bytes, from line {p.lines} "
                f"(after a crash: --job {p.job_id} --resume)",
                file=sys.stderr,
            )
            return
        print(
            f"{p.job_id}: {p.lines} lines ({p.percent:.0f}%): {p.loaded} loaded, {p.failed} "
            f"failed, {p.skipped} skipped, {p.rate:.0f} lines/s",
            file=sys.stderr,
        )

    def line_error(path: str, line: int, message: str) -> None:
        print(f"{path}:{line}: {message}", file=sys.stderr)

    if args.resume and not args.job:
        print("--resume needs --job NAME", file=sys.stderr)
        return 2
    if not args.files and not args.resume:
        print("Name the NDJSON files to import", file=sys.stderr)
        return 2
    if carnet.settings.mongodb_uri is None:
        print(
            "warning: no MONGODB_URI, so the import goes to this command's embedded store",
            file=sys.stderr,
        )
    try:
        job = run_import(
            carnet,
            operator_context("import"),
            args.files,
            job_id=args.job,
            resume=args.resume,
            progress=progress,
            progress_every=1000,
            on_error=line_error,
        )
    except JobError as error:
        print(f"Import not done: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        named = last.job_id if last else args.job
        print(f"Interrupted: resume with --job {named} --resume", file=sys.stderr)
        return 130
    failed = job.total("failed")
    print(
        f"Import {job.job_id} {job.status}: {job.total('loaded')} loaded, {failed} failed, "
        f"{job.total('skipped')} skipped"
        + (f" in {last.seconds:.1f} s ({last.rate:.0f} lines/s)" if last else ""),
        file=sys.stderr,
    )
    if job.status != "completed":
        return 1
    return 1 if failed else 0


def demo_files() -> list[Path]:
    return sorted(DEMO_DIR.glob("*.json")) + sorted(DEMO_DIR.glob("*.ndjson"))


def _load_demo(carnet) -> None:
    """The demo data, then the demo accounts and clients (smart_auth.demo, examples/README.md)."""
    from smart_auth import demo

    loaded, failed = load_files(carnet, demo_files())
    print(f"Demo data: {loaded} loaded, {failed} failed", file=sys.stderr)
    created = demo.seed()
    print(
        f"Demo accounts and clients (DEMO ONLY): {', '.join(created) or 'already there'}; "
        f"one-time codes go to {Path(carnet.settings.outbox).resolve()}",
        file=sys.stderr,
    )


def _serve(args) -> int:
    from fhir_server.app import build, create_app

    settings = Settings.from_env()
    if args.port and "FHIR_SERVER_BASE_URL" not in __import__("os").environ:
        settings = Settings.from_env(
            base_url=f"http://{args.host if args.host != '0.0.0.0' else 'localhost'}:{args.port}/fhir"
        )
    embedded = settings.mongodb_uri is None
    if embedded and args.workers > 1 and not args.dev:
        print(
            "The embedded store lives inside one process: serving with 1 worker.", file=sys.stderr
        )
        args.workers = 1
    if args.dev or embedded:
        carnet = build(settings)
        if args.demo:
            _load_demo(carnet)
        app = create_app(settings, carnet)
        if args.dev:
            app.run(host=args.host, port=args.port)
            return 0
        return _gunicorn(lambda: app, args)
    if args.demo:
        _load_demo(build(settings))
    return _gunicorn(lambda: create_app(settings), args)


def _create_account(args) -> int:
    """Create a login account; the password comes from stdin (or a prompt), never from argv."""
    from smart_auth import models
    from smart_auth.accounts import AccountError, create_account

    settings = Settings.from_env()
    if settings.mongodb_uri is None:
        print(
            "warning: no MONGODB_URI, so this account lives only in this command's embedded "
            "store; use the admin endpoint POST /auth/admin/accounts on a running server.",
            file=sys.stderr,
        )
    password = (
        sys.stdin.readline().rstrip("\r\n")
        if args.password_stdin
        else getpass.getpass("Password: ")
    )
    models.connect(settings.mongodb_uri, settings.mongodb_db)
    channel, address = ("sms", args.otp_sms) if args.otp_sms else ("email", args.otp_email)
    try:
        account = create_account(
            args.username, password, args.fhir_user, channel, address, args.external_subject
        )
    except AccountError as error:
        print(f"Account not created: {error}", file=sys.stderr)
        return 1
    print(f"Account '{account.username}' created for {account.fhir_user} (codes by {channel}).")
    return 0


def _register_client(args) -> int:
    """Register an OAuth client (RFC 7591 metadata); prints its client_id (and secret, once)."""
    import json

    from smart_auth import models
    from smart_auth.rfc7591 import ClientMetadataError, register_client

    settings = Settings.from_env()
    models.connect(settings.mongodb_uri, settings.mongodb_db)
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


def _record_status(args) -> int:
    """Show or set the status of a person's record (ingestion.records), keyed by INS."""
    from ingestion import records
    from ingestion.ins import InvalidIns
    from smart_auth import models

    settings = Settings.from_env()
    if settings.mongodb_uri is None:
        print(
            "warning: no MONGODB_URI, so this status lives only in this command's embedded store",
            file=sys.stderr,
        )
    models.connect(settings.mongodb_uri, settings.mongodb_db)
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


def _gunicorn(factory, args) -> int:
    from gunicorn.app.base import BaseApplication

    from smart_auth.request_log import GUNICORN_ACCESS_FORMAT

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("accesslog", "-")
            # Paths without query strings: codes and states never reach the access log.
            self.cfg.set("access_log_format", GUNICORN_ACCESS_FORMAT)

        def load(self):
            return factory()

    Server().run()
    return 0


def _add_create_account(sub) -> None:
    account = sub.add_parser(
        "create-account", help="create a login account for a Patient or a Practitioner"
    )
    account.add_argument("--username", required=True)
    account.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (else prompt for it)",
    )
    account.add_argument("--fhir-user", required=True, help="Patient/<id> or Practitioner/<id>")
    channel = account.add_mutually_exclusive_group(required=True)
    channel.add_argument("--otp-email", metavar="ADDRESS", help="send one-time codes by e-mail")
    channel.add_argument("--otp-sms", metavar="PHONE", help="send one-time codes by text message")
    account.add_argument(
        "--external-subject",
        metavar="ID",
        help="a Practitioner's national id as the external identity provider asserts it",
    )


def _add_register_client(sub) -> None:
    client = sub.add_parser("register-client", help="register an OAuth client (SMART app)")
    client.add_argument("--name", required=True)
    client.add_argument("--redirect-uri", action="append", default=[], help="repeatable")
    client.add_argument(
        "--auth-method",
        choices=["none", "client_secret_basic", "client_secret_post", "private_key_jwt"],
        help="default: private_key_jwt with --jwks/--jwks-uri, else client_secret_basic",
    )
    client.add_argument("--jwks", type=Path, help="a JSON file holding the public JWK Set")
    client.add_argument("--jwks-uri")
    client.add_argument("--scope", default="", help="scopes it may be granted (default: any)")
    client.add_argument(
        "--labelled", action="store_true", help="labelled professional software (user/ scopes)"
    )
    client.add_argument(
        "--organization",
        help="backend client: the Organization it acts for (e.g. Organization/123)",
    )
    client.add_argument(
        "--platform",
        action="store_true",
        help="backend client of the operator's own services: reads every record (audited)",
    )


def _add_record_status(sub) -> None:
    from ingestion.ins import INS_NIR
    from ingestion.models import RECORD_STATUSES

    record = sub.add_parser(
        "record-status",
        help="show or set a person's record status (opposed or closed: pushes are refused)",
    )
    record.add_argument("--ins", required=True, help="the INS matricule (15 characters)")
    record.add_argument("--system", default=INS_NIR, help=f"the INS system (default {INS_NIR})")
    record.add_argument("--set", choices=RECORD_STATUSES, help="the new status")


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    parser = argparse.ArgumentParser(prog="fhir-server", description="Carnet FHIR R4 server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the FHIR API")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=2)
    serve.add_argument(
        "--dev", action="store_true", help="Flask's development server instead of gunicorn"
    )
    serve.add_argument(
        "--demo", action="store_true", help="load the demo data from examples/demo first"
    )
    sub.add_parser("create-indexes", help="create the indexes the server declares")
    sub.add_parser(
        "notify-pending",
        help="tell patients of documents kept from them (INVISIBLE_PATIENT) for two weeks",
    )
    sub.add_parser(
        "rotate-keys",
        help="sign new tokens with a new key; the old one stays published until its tokens expire",
    )
    load = sub.add_parser("load", help="load resources (JSON, Bundles, NDJSON) into the store")
    load.add_argument("files", nargs="+", type=Path)
    bulk = sub.add_parser(
        "import", help="bulk NDJSON import: per-line errors, progress, resumable with --job"
    )
    bulk.add_argument("files", nargs="*", type=Path, help="NDJSON files (none with --resume)")
    bulk.add_argument("--job", help="the job's name, to resume it after a crash")
    bulk.add_argument("--resume", action="store_true", help="continue job --job where it stopped")
    _add_create_account(sub)
    _add_register_client(sub)
    _add_record_status(sub)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "create-account":
        return _create_account(args)
    if args.command == "register-client":
        return _register_client(args)
    if args.command == "record-status":
        return _record_status(args)
    from fhir_server.app import build

    carnet = build(Settings.from_env())
    if args.command == "create-indexes":
        print("Indexes created.")
        return 0
    if args.command == "rotate-keys":
        print(f"Now signing with key {carnet.auth.keys.rotate()}.")
        return 0
    if args.command == "import":
        return _import(carnet, args)
    if args.command == "notify-pending":
        from consent.reminders import notify_pending

        told = notify_pending(carnet.store, carnet.auth.sender)
        print(f"{len(told)} patient notice(s) sent.")
        return 0
    loaded, failed = load_files(carnet, args.files)
    print(f"{loaded} loaded, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
