"""The framework-free half of Carnet's object graph: the store under the consent policy, search and
the FHIR interactions (docs/architecture.md#how-a-request-flows).

`carnet.app.build` adds the authorization services, the audit and ingestion on top; the tests
that drive the core without Flask build it here too, so the two never drift apart. Importing this
module loads no web framework (tests/test_core_without_flask.py).
"""

from dataclasses import dataclass

from consent.facts import Facts
from consent.policy import Policy
from fhir_server.config import Settings
from fhir_server.indexing.registry import REGISTRY
from fhir_server.interactions import Interactions
from fhir_server.profile import bmi
from fhir_server.profile.directives import AdvanceDirectives
from fhir_server.profile.masking import RecordMasking
from fhir_server.profile.records import RecordReader
from fhir_server.profile.summary import Summary
from fhir_server.profile.trusted_person import TrustedPerson
from fhir_server.search.engine import SearchEngine
from fhir_server.search.parameters import ParameterCompiler
from fhir_server.store.binary import BlobStore
from fhir_server.store.documents import Documents
from fhir_server.store.repository import Store
from ingestion import records
from smart_auth.enforcement import ScopeEnforcer


@dataclass
class Core:
    documents: Documents  # the store's collections, read unfiltered by the policy's facts only
    policy: Policy
    store: Store
    engine: SearchEngine
    interactions: Interactions


def build_core(settings: Settings, db, transactions: bool) -> Core:
    """Every core collaborator once, each built after what it uses, on the open database `db`."""
    # Searches the store runs for others: granular scopes, the policy's own lookups.
    parameters = ParameterCompiler(REGISTRY, settings.base_url)
    enforcer = ScopeEnforcer(parameters.compile_params)
    # The policy decides on facts read below it, from the store's collections.
    documents = Documents(db)
    facts = Facts(documents, parameters.compile_params, records.refused)
    policy = Policy(facts, emergency_sees_masked=settings.emergency_sees_masked)
    store = Store(documents, policy, REGISTRY, settings.base_url, transactions, enforcer)
    store.ensure_indexes()
    engine = SearchEngine(store, parameters, settings)
    blobs = BlobStore(db, settings.gridfs_threshold)
    # The patient's profile: what the server derives after a write, and its two operations.
    reader = RecordReader(store, engine)
    interactions = Interactions(
        store,
        engine,
        blobs,
        settings.base_url,
        profile_checks=[bmi.check],
        follow_ups=[
            bmi.BodyMassIndex(store, reader).follow,
            TrustedPerson(store, reader).follow,
            AdvanceDirectives(store, reader).follow,
        ],
        summary=Summary(store, reader, settings.base_url),
        masking=RecordMasking(store, reader),
    )
    return Core(documents, policy, store, engine, interactions)
