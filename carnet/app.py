"""The composition root: builds Carnet's object graph, then the Flask app around it.

https://flask.palletsprojects.com/en/stable/patterns/appfactories/ - `build` constructs every
collaborator once, in dependency order, each handed whole to those that use it; `create_app`
registers the routes of every package. Nothing else happens here.
"""

import logging
from dataclasses import dataclass

from flask import Flask, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from carnet import compression, cors
from carnet.core import build_core
from carnet_core.clock import Clock
from carnet_core.errors import FhirError, MethodNotAllowed, NotFound, TooLarge
from consent import care_team_page
from consent.audit import Announcer, Auditor
from consent.care_team import CareTeamAnnouncer
from consent.notify import Notifier
from consent.record_notices import RecordNotices
from fhir_server import resources
from fhir_server.api import http, limits, openapi, routes
from fhir_server.bulk_export.operation import BulkExport
from fhir_server.capability import capability_statement
from fhir_server.config import Settings
from fhir_server.indexing.registry import REGISTRY
from fhir_server.interactions import Interactions, Reply
from fhir_server.route_table import ROUTES as FHIR_ROUTES
from fhir_server.route_table import RouteTable
from fhir_server.store.db import connect, connect_documents
from fhir_server.store.repository import Store, instant, new_id, now
from fhir_server.store.unit_of_work import when_committed
from fhir_server.transaction import BundleProcessor
from ingestion import record_pages
from ingestion.bulk_routes import IMPORT_ROUTES
from ingestion.iti65 import Ingestion
from ingestion.lifecycle import Periods, RecordLife
from smart_auth import endpoints as smart_auth_endpoints
from smart_auth import login, models, password_pages
from smart_auth.discovery import capability_security
from smart_auth.server_secret import server_secret
from smart_auth.services import AuthServices

log = logging.getLogger("carnet")

# The consent's care team page joins the sign-in pages (their session, CSRF check and security
# headers): once per process, before any app registers their blueprint.
care_team_page.add_routes(login.blueprint)
# Every FHIR route: the FHIR interactions' and the layers' above them ($import). Registered once
# per process on the FHIR blueprint.
ROUTES = RouteTable([*FHIR_ROUTES, *IMPORT_ROUTES])
routes.register(routes.blp, ROUTES)
record_pages.add_routes(login.blueprint)
password_pages.add_routes(login.blueprint)


@dataclass
class Carnet:
    """What the routes need, built once per process."""

    settings: Settings
    store: Store
    interactions: Interactions
    bundles: BundleProcessor
    auth: AuthServices
    audit: Auditor
    ingestion: Ingestion  # POST [base]: MHD pushes and INS-named transactions, then `bundles`
    exports: BulkExport  # $export jobs
    lifecycle: RecordLife  # the record's life: opt-out, activation, $close, $reopen, $erase
    clock: Clock  # the record's deadlines are read from it (tests set it)
    secret: str  # FHIR_SERVER_SECRET_KEY, or the one the server made and keeps in its store
    notices: RecordNotices  # new documents and first accesses, told to the record's side

    def capabilities(self) -> Reply:
        security = capability_security(self.settings.public_root)
        statement = capability_statement(REGISTRY, self.settings.base_url, security, ROUTES)
        return Reply(200, statement)


def build(
    settings: Settings, db=None, transactions: bool | None = None, clock: Clock | None = None
) -> Carnet:
    """Every collaborator once, each built after what it uses; `db` (with `transactions`): an
    open database to use instead of the one the settings name; `clock`: the record's deadlines'
    (default: the system's time)."""
    if db is None:
        db, transactions = connect(settings.mongodb_uri, settings.mongodb_db, settings.data_dir)
    connect_documents(models.ALIAS, settings.mongodb_uri, settings.mongodb_db, settings.data_dir)
    core = build_core(settings, db, bool(transactions))
    store, interactions, policy = core.store, core.interactions, core.policy
    bundles = BundleProcessor(interactions, settings.max_bundle_entries, ROUTES)
    auth = AuthServices.build(settings)
    notifier = Notifier(auth.sender, settings.public_root + "/auth/care-team")
    clock = clock or Clock()
    notices = RecordNotices(
        policy,
        store,
        auth.sender,
        clock,
        when_committed,
        settings.public_root + "/auth/record/mine",
    )
    auditor = Auditor(
        store,
        policy,
        new_id,
        lambda: instant(now()),
        observers=[
            Announcer(policy, notifier),
            CareTeamAnnouncer(policy, notifier, core.documents),
            notices,
        ],
    )
    secret = settings.secret_key or server_secret()
    ingestion = Ingestion(store, interactions, bundles, secret)
    exports = BulkExport(interactions, auditor.record, settings.data_dir)
    lifecycle = RecordLife(
        store,
        interactions,
        interactions.blobs,
        ingestion.identity,
        auth.sender,
        clock,
        Periods(settings.opt_out_days, settings.archive_years),
        settings.public_root + "/auth/record",
        exports,
    )
    return Carnet(
        settings,
        store,
        interactions,
        bundles,
        auth,
        auditor,
        ingestion,
        exports,
        lifecycle,
        clock,
        secret,
        notices,
    )


def create_app(settings: Settings | None = None, carnet: Carnet | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask("carnet")
    app.url_map.strict_slashes = False
    app.config.update(
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        API_TITLE="Carnet FHIR R4 server",
        API_VERSION="0.1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
    )
    carnet = carnet or build(settings)
    resources.load_models()
    app.extensions["carnet"] = carnet
    limits.init_app(app)  # before every other hook: an over-long request is refused first
    cors.init_app(app, settings.cors_origins)  # preflights answered before any route
    compression.init_app(app)  # gzip when asked, for every answer of the app
    api = Api(app)
    openapi.components(api.spec)
    api.register_blueprint(routes.blp)
    login.init_app(app)  # sign-in, one-time code, consent and account pages under /auth
    app.register_blueprint(smart_auth_endpoints.blueprint)
    _register_errors(app)

    @app.get("/")
    def index():
        return jsonify(
            {
                "service": "Carnet FHIR R4 server",
                "fhir": settings.base_url,
                "openapi": "/openapi.json",
            }
        )

    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(FhirError)
    def fhir_error(error: FhirError):
        return http.render_error(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code == 405:
            allowed = ", ".join(sorted(getattr(error, "valid_methods", None) or []))
            return http.render_error(
                MethodNotAllowed(
                    f"{request.method} is not allowed on {request.path}",
                    headers={"Allow": allowed} if allowed else {},
                )
            )
        if error.code == 413:
            return http.render_error(TooLarge("The request body is too large"))
        if error.code == 404:
            return http.render_error(NotFound("No such URL on this FHIR server"))
        return http.render_error(
            FhirError(error.description or error.name, status=error.code or 500, code="exception")
        )

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        log.exception("unexpected error")
        return http.render_error(FhirError("Internal server error", status=500, code="exception"))
