"""The framework-free core built by hand, for the tests that drive it without Flask.

The store on this test's database, the consent policy and its facts, the search engine and the
interactions, built by carnet.core as the application factory builds them, without importing the
factory's module (it imports Flask): these tests show the core does not need it
(tests/test_core_without_flask.py checks that importing it loads no Flask).
"""

import os
from contextlib import contextmanager
from dataclasses import dataclass

import pytest

import carnet.core
from carnet_core.context import AccessContext, from_claims, operator_context
from consent.policy import Policy
from fhir_server.config import Settings
from fhir_server.interactions import Interactions
from fhir_server.search.engine import SearchEngine
from fhir_server.store.db import connect
from fhir_server.store.repository import Store


@dataclass
class Core:
    store: Store
    policy: Policy
    engine: SearchEngine
    interactions: Interactions
    operator: AccessContext  # the server's own context (loaders, the demo): reads and writes all


def build_core(settings: Settings) -> Core:
    """The core as carnet.core builds it for the app, with the server's own context beside it."""
    db, transactions = connect(settings.mongodb_uri, settings.mongodb_db, settings.data_dir)
    built = carnet.core.build_core(settings, db, bool(transactions))
    return Core(
        built.store, built.policy, built.engine, built.interactions, operator_context("core-test")
    )


@contextmanager
def watched(store: Store, queries: list):
    """A test's store: every query it issues goes into `queries` (tests/plan_check.py checks each
    is served by a declared index); on MongoDB the test's database is dropped afterwards."""
    store.observers.append(
        lambda collection, query, sort: queries.append((collection, query, sort))
    )
    yield store
    if os.environ.get("MONGODB_URI"):
        store.db.client.drop_database(store.db.name)


@pytest.fixture
def core(settings, queries):
    """The core on this test's store (watched as the app's is)."""
    built = build_core(settings)
    with watched(built.store, queries):
        yield built


def caller(actor: str, fhir_user: str, scope: str, **claims) -> AccessContext:
    """The context a request with such an access token would carry (carnet_core.context)."""
    return from_claims(
        {"actor": actor, "fhirUser": fhir_user, "scope": scope, "client_id": "core-test", **claims}
    )


def patient(id: str, scope: str = "patient/*.cruds") -> AccessContext:
    """A patient signed in to an app, their own record in context."""
    return caller("patient", f"Patient/{id}", scope, patient=f"Patient/{id}")


def practitioner(id: str, scope: str = "user/*.cruds") -> AccessContext:
    """A professional through labelled software, no patient in context."""
    return caller("practitioner", f"Practitioner/{id}", scope, labelled=True)


def open_record(core: Core, id: str, attending: str | None = None) -> AccessContext:
    """A patient's record opened by the server, as a loader would (`attending`: their attending
    doctor, Practitioner/<id>); returns the patient's own context."""
    record = {"resourceType": "Patient", "id": id, "name": [{"family": id.capitalize()}]}
    if attending:
        record["generalPractitioner"] = [{"reference": attending}]
    assert core.interactions.update(core.operator, "Patient", id, record).status == 201
    return patient(id)
