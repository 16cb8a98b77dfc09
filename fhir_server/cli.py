"""The `fhir-server` console script: serve, create indexes, load resources.

fhir-server serve [--host H] [--port P] [--workers N] [--dev] [--demo]
fhir-server create-indexes
fhir-server load FILE...        (JSON resources or Bundles, NDJSON one resource a line)
"""

import argparse
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


def demo_files() -> list[Path]:
    return sorted(DEMO_DIR.glob("*.json")) + sorted(DEMO_DIR.glob("*.ndjson"))


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
            loaded, failed = load_files(carnet, demo_files())
            print(f"Demo data: {loaded} loaded, {failed} failed", file=sys.stderr)
        app = create_app(settings, carnet)
        if args.dev:
            app.run(host=args.host, port=args.port)
            return 0
        return _gunicorn(lambda: app, args)
    if args.demo:
        carnet = build(settings)
        load_files(carnet, demo_files())
    return _gunicorn(lambda: create_app(settings), args)


def _gunicorn(factory, args) -> int:
    from gunicorn.app.base import BaseApplication

    class Server(BaseApplication):
        def load_config(self):
            self.cfg.set("bind", f"{args.host}:{args.port}")
            self.cfg.set("workers", args.workers)
            self.cfg.set("accesslog", "-")

        def load(self):
            return factory()

    Server().run()
    return 0


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
    load = sub.add_parser("load", help="load resources (JSON, Bundles, NDJSON) into the store")
    load.add_argument("files", nargs="+", type=Path)
    args = parser.parse_args(argv)
    if args.command == "serve":
        return _serve(args)
    from fhir_server.app import build

    carnet = build(Settings.from_env())
    if args.command == "create-indexes":
        print("Indexes created.")
        return 0
    loaded, failed = load_files(carnet, args.files)
    print(f"{loaded} loaded, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
