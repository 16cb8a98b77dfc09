"""The `fhir-server` console script: serve, create indexes, load resources.

fhir-server serve [--host H] [--port P] [--workers N] [--dev] [--demo]
fhir-server create-indexes
fhir-server rotate-keys           (new signing key; the old one stays published until its tokens expire)
fhir-server load FILE...        (JSON resources or Bundles, NDJSON one resource a line)
fhir-server import FILE... [--job NAME] [--resume]
                                (bulk NDJSON import, resumable; progress and bad lines on stderr)
fhir-server create-account --username U --password-stdin --fhir-user Patient/x --otp-email A
                           [--represents Patient/y   (with --fhir-user RelatedPerson/z)]
fhir-server register-client --name N [--redirect-uri U]... [--auth-method M] [--jwks FILE]
                            [--jwks-uri URL] [--scope S] [--labelled] [--organization O] [--platform]
fhir-server record-status --ins NIR [--system OID] [--set open|opposed|closed]
                                (a person's record: opposed or closed refuses pushes)
fhir-server notify-pending      (tell patients of documents kept from them for two weeks, and of
                                 new documents released to them or left untold; daily)
"""

import argparse
import logging
import sys
from pathlib import Path

from carnet import cli_admin, heap
from fhir_server import jsonio
from fhir_server.config import Settings

DEMO_DIR = Path(__file__).resolve().parent.parent / "examples" / "demo"


def load_files(carnet, paths: list[Path]) -> tuple[int, int]:
    """Load resources as the operator; returns (loaded, failed). Bundles go through the processor."""
    from carnet_core.context import operator_context
    from carnet_core.errors import FhirError

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
    from carnet_core.context import operator_context
    from ingestion.bulk import JobError, run_import

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
    try:
        job = run_import(
            carnet.interactions,
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


def load_demo(carnet) -> None:
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
    from carnet.app import build, create_app

    settings = Settings.from_env()
    if args.port and "FHIR_SERVER_BASE_URL" not in __import__("os").environ:
        settings = Settings.from_env(
            base_url=f"http://{args.host if args.host != '0.0.0.0' else 'localhost'}:{args.port}/fhir"
        )
    if args.dev:
        carnet = build(settings)
        if args.demo:
            load_demo(carnet)
        app = create_app(settings, carnet)
        heap.settle()
        app.run(host=args.host, port=args.port)
        return 0
    if args.demo:
        load_demo(build(settings))
    # Each worker builds its own app after the fork: its own connections to the store.
    return _gunicorn(lambda: create_app(settings), args)


def _gunicorn(factory, args) -> int:
    from gunicorn.app.base import BaseApplication

    from fhir_server.api import limits
    from smart_auth.request_log import GUNICORN_ACCESS_FORMAT

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("accesslog", "-")
            # Paths without query strings: codes and states never reach the access log.
            self.cfg.set("access_log_format", GUNICORN_ACCESS_FORMAT)
            # gunicorn's control socket has one path per user: several servers on a machine
            # would take it from each other, and nothing here uses it.
            self.cfg.set("control_socket_disable", True)
            # The application answers over-long URLs (414) and header fields (431) itself, as
            # OperationOutcomes (fhir_server.api.limits), instead of gunicorn's HTML pages.
            self.cfg.set("limit_request_line", limits.SERVER_REQUEST_LINE)
            self.cfg.set("limit_request_field_size", limits.SERVER_HEADER_FIELD)

        def load(self):  # in each worker, after the fork
            app = factory()
            heap.settle()
            return app

    Server().run()
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The `fhir-server` command line; every option's help says its default (or that it is
    required), tests/fhir_server/test_cli_help.py checks it."""
    parser = argparse.ArgumentParser(prog="fhir-server", description="Carnet FHIR R4 server")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the FHIR API")
    serve.add_argument(
        "--host", default="127.0.0.1", help="the address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=int, default=8080, help="the port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=2,
        help="gunicorn worker processes, each with its own connections (default: %(default)s)",
    )
    serve.add_argument(
        "--dev",
        action="store_true",
        help="Flask's development server instead of gunicorn (default: off, gunicorn)",
    )
    serve.add_argument(
        "--demo",
        action="store_true",
        help="load the demo data from examples/demo and the demo accounts and clients first "
        "(default: off)",
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
    load.add_argument("files", nargs="+", type=Path, help="JSON or NDJSON files (at least one)")
    bulk = sub.add_parser(
        "import", help="bulk NDJSON import: per-line errors, progress, resumable with --job"
    )
    bulk.add_argument("files", nargs="*", type=Path, help="NDJSON files (none with --resume)")
    bulk.add_argument(
        "--job", help="the job's name, to resume it after a crash (default: a new name)"
    )
    bulk.add_argument(
        "--resume",
        action="store_true",
        help="continue job --job where it stopped (default: off, a new job)",
    )
    cli_admin.add_create_account(sub)
    cli_admin.add_register_client(sub)
    cli_admin.add_record_status(sub)
    cli_admin.add_lifecycle(sub)
    return parser


def main(argv: list[str] | None = None, clock=None) -> int:
    """The `fhir-server` command; `clock` (carnet_core.clock.Clock): the record's deadlines'
    (the tests pass theirs; default the system's time)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    args = build_parser().parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    if args.command == "create-account":
        return cli_admin.create_account(args)
    if args.command == "register-client":
        return cli_admin.register_client_command(args)
    if args.command == "record-status":
        return cli_admin.record_status(args)
    from carnet.app import build

    carnet = build(Settings.from_env(), clock=clock)
    if args.command == "lifecycle":
        return cli_admin.lifecycle(carnet, args)
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
        records = carnet.notices.tell_all()
        print(f"{records} record(s) with new documents awaiting their notice looked at.")
        return 0
    loaded, failed = load_files(carnet, args.files)
    print(f"{loaded} loaded, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
