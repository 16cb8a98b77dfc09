"""The access policy driven directly, without Flask (consent.policy): who reads what, by which rule.

Alice's record: her attending doctor Practitioner/gp, Practitioner/colleague in her care team by
her privacy Consent, Practitioner/blocked blocked by another; a document and a masked one
(MASQUE_PS), deposited by her hospital's system.
"""

import pytest

from carnet_core.errors import Forbidden, NotFound
from consent import codes
from tests.consent.world import document, privacy_consent
from tests.core import caller, open_record, patient, practitioner

RECORD = "Patient/alice"


@pytest.fixture
def alice(core):
    """Alice's record and its two documents: {"normal": id, "masked": id}."""
    own = open_record(core, "alice", attending=_pr("gp"))
    core.interactions.create(own, "Consent", privacy_consent("alice", "permit", [_pr("colleague")]))
    core.interactions.create(own, "Consent", privacy_consent("alice", "deny", [_pr("blocked")]))
    hospital = caller(
        "system", None, "system/*.cruds", client_id="hospital", organization="Organization/h"
    )
    return {
        state: core.interactions.create(
            hospital, "DocumentReference", document("alice", state, labels)
        ).body["id"]
        for state, labels in (("normal", ()), ("masked", (codes.MASQUE_PS,)))
    }


def _pr(who: str) -> str:
    return f"Practitioner/{who}"


def _visible(core, ctx) -> list[str]:
    """The documents of Alice's record a search by `ctx` returns."""
    reply = core.interactions.search(ctx, "DocumentReference", [("patient", RECORD)])
    assert reply.body["total"] == len(reply.body.get("entry", []))
    return sorted(e["resource"]["description"] for e in reply.body.get("entry", []))


def test_a_masked_document_is_hidden_from_the_care_team_not_from_the_patient(core, alice):
    assert _visible(core, patient("alice")) == ["masked", "normal"]
    assert _visible(core, practitioner("gp")) == ["masked", "normal"]
    colleague = practitioner("colleague")
    assert _visible(core, colleague) == ["normal"]
    with pytest.raises(NotFound):
        core.interactions.read(colleague, "DocumentReference", alice["masked"])
    assert (
        core.interactions.read(patient("alice"), "DocumentReference", alice["masked"]).status == 200
    )
    assert _visible(core, practitioner("blocked")) == []
    assert _visible(core, practitioner("stranger")) == []


def test_each_decision_names_its_rule(core, alice):
    rule = core.policy.rule_for
    assert rule(practitioner("gp"), RECORD) == "attending-doctor"
    assert rule(practitioner("colleague"), RECORD) == "care-team"
    assert rule(practitioner("blocked"), RECORD) == "blocked-by-patient"
    assert rule(practitioner("stranger"), RECORD) == "own-deposits"
    assert rule(patient("alice"), RECORD) == "patient-own-record"
    assert rule(core.operator, RECORD) == "platform-full-access"
    assert core.policy.read_rule(practitioner("colleague"), "DocumentReference").rule == "care-team"


def test_the_patient_masks_a_document_and_the_care_team_loses_it(core, alice):
    colleague = practitioner("colleague")
    assert core.interactions.read(colleague, "DocumentReference", alice["normal"]).status == 200
    core.interactions.mask(patient("alice"), alice["normal"], True)
    assert _visible(core, colleague) == []
    assert _visible(core, practitioner("gp")) == ["masked", "normal"]


def test_a_refused_write_names_the_rule_that_refused_it(core, alice):
    consent = privacy_consent("alice", "permit", [_pr("stranger")])
    with pytest.raises(Forbidden) as refused:
        core.interactions.create(practitioner("blocked"), "Consent", consent)
    assert "(rule: privacy-choices-by-patient)" in refused.value.diagnostics
    directory = {"resourceType": "Organization", "name": "Clinique"}
    with pytest.raises(Forbidden) as refused:
        core.interactions.create(patient("alice"), "Organization", directory)
    assert "(rule: directory-operator-only)" in refused.value.diagnostics
