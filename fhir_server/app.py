"""The application factory: wires settings, store, policy, search and routes, and nothing else.

https://flask.palletsprojects.com/en/stable/patterns/appfactories/
"""

import logging
from dataclasses import dataclass

from flask import Flask, jsonify, request
from flask_smorest import Api
from werkzeug.exceptions import HTTPException

from consent.audit import Announcer, Auditor
from consent.care_team import CareTeamAnnouncer
from consent.facts import Facts
from consent.notify import Notifier
from consent.policy import Policy
from fhir_server.api import http, limits
from fhir_server.api.bulk_routes import register_bulk_routes
from fhir_server.api.routes import blp
from fhir_server.capability import capability_statement
from fhir_server.config import Settings
from fhir_server.errors import FhirError, MethodNotAllowed, NotFound, TooLarge
from fhir_server.interactions import Interactions, Reply
from fhir_server.search.engine import SearchEngine
from fhir_server.search.registry import REGISTRY
from fhir_server.store.binary import BlobStore
from fhir_server.store.db import connect
from fhir_server.store.repository import Store, instant, new_id, now
from fhir_server.transaction import BundleProcessor
from ingestion import records
from ingestion.iti65 import Ingestion
from smart_auth import endpoints as smart_auth_endpoints
from smart_auth import login
from smart_auth.discovery import capability_security
from smart_auth.enforcement import ScopeEnforcer
from smart_auth.services import AuthServices

log = logging.getLogger("carnet")


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

    def capabilities(self) -> Reply:
        security = capability_security(self.settings.public_root)
        return Reply(200, capability_statement(REGISTRY, self.settings.base_url, security))


def build(settings: Settings, db=None, transactions: bool | None = None) -> Carnet:
    if db is None:
        db, transactions = connect(settings.mongodb_uri, settings.mongodb_db, settings.data_dir)
    enforcer = ScopeEnforcer(lambda rtype, params: engine.compile_params(rtype, params))
    policy = Policy(emergency_sees_masked=settings.emergency_sees_masked)
    store = Store(db, policy, REGISTRY, settings.base_url, bool(transactions), enforcer)
    store.ensure_indexes()
    engine = SearchEngine(store, REGISTRY, settings)
    policy.bind(
        Facts(
            lambda ctx, rtype, query, limit: store.find(ctx, rtype, query, limit=limit),
            engine.compile_params,
            records.refused,
        )
    )
    blobs = BlobStore(db, settings.gridfs_threshold)
    interactions = Interactions(store, engine, blobs, settings.base_url)
    auth = AuthServices.build(settings)
    bundles = BundleProcessor(interactions, settings.max_bundle_entries)
    auditor = Auditor(
        lambda ctx, event: store.write(ctx, event, method="POST", must_be_new=True),
        policy,
        new_id,
        lambda: instant(now()),
    )
    notifier = Notifier(auth.sender, settings.public_root + "/auth/care-team")
    auditor.observers.append(Announcer(policy, notifier))
    auditor.observers.append(
        CareTeamAnnouncer(
            policy,
            notifier,
            lambda ctx, rtype, query, limit: store.find(ctx, rtype, query, limit=limit),
        )
    )
    ingestion = Ingestion(store, interactions, bundles, settings.secret_key)
    return Carnet(settings, store, interactions, bundles, auth, auditor, ingestion)


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
    app.extensions["carnet"] = carnet or build(settings)
    limits.init_app(app)  # before every other hook: an over-long request is refused first
    api = Api(app)
    api.register_blueprint(blp)
    register_bulk_routes(app, lambda: app.extensions["carnet"], settings.import_dir)
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
