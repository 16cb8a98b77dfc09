"""The person's pages of the record's life, as a browser uses them: answer the notice (oppose,
withdraw, new code, activate), then, signed in with the 2-factor login, close, reopen, erase.

French pages with the sign-in pages' CSRF check; every refusal is a page with a way back that
changed nothing. The clock is the test's (carnet.clock).
"""

import dataclasses

import pytest

from ingestion.ins import INS_NIR
from smart_auth.accounts import verify_hash
from smart_auth.models import Account
from tests.ingestion.lifecycle import Lifecycle, record, remains_of, status
from tests.ingestion.mhd import LETTER_NIR, example, fresh
from tests.plan_check import unchecked
from tests.smart_auth.conftest import ADMIN_TOKEN, Browser

BORN = "1991-03-07"
NEW_PASSWORD = "un mot de passe bien long"
CARD = "1234567890"


@pytest.fixture
def settings(settings, tmp_path):
    return dataclasses.replace(
        settings,
        outbox=str(tmp_path / "outbox.jsonl"),
        admin_token=ADMIN_TOKEN,
        secret_key="test-session-key",
    )


@pytest.fixture
def snapshot(snapshot):
    """The store, but for the count of failed attempts (kept on purpose: the lockout)."""
    return lambda: {k: v for k, v in snapshot().items() if k != "auth_login_throttle"}


@pytest.fixture
def browser(app, clock) -> Browser:
    return Browser(app.test_client())


@pytest.fixture
def notified(monkeypatch, settings, clock, outbox):
    """LETTER_NIR notified by e-mail; returns the code sent."""
    assert (
        Lifecycle(monkeypatch, settings, clock).notify(f"{LETTER_NIR},{BORN},email,paul@example.fr")
        == 0
    )
    return outbox.last_code()


def answer(browser: Browser, kind: str, code: str, born: str = BORN, **extra):
    browser.get(f"/auth/record/{kind}")
    form = {"ins": LETTER_NIR, "birth_date": born, "code": code, **extra}
    return browser.submit(f"/auth/record/{kind}", form)


def activate(browser: Browser, code: str, **changes):
    form = {
        "card": CARD,
        "username": "paul.martin",
        "password": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        "channel": "sms",
        "otp_address": "+33611223344",
        **changes,
    }
    return answer(browser, "activate", code, **form)


def test_the_pages_are_french_forms_with_csrf(browser, notified, snapshot):
    for path in ("", "/oppose", "/withdraw", "/new-code", "/activate"):
        response = browser.get(f"/auth/record{path}")
        assert response.status_code == 200 and '<html lang="fr">' in browser.page, path
        assert response.headers["X-Frame-Options"] == "DENY"
    before = snapshot()
    browser.get("/auth/record/oppose")
    refused = browser.submit(
        "/auth/record/oppose",
        {"ins": LETTER_NIR, "birth_date": BORN, "code": notified},
        csrf=False,
    )
    assert refused.status_code == 400 and status(LETTER_NIR) == "pending"
    assert snapshot() == before


def test_opposing_within_the_window_keeps_nothing_but_the_opposition(
    browser, notified, hospital, record_of, carnet, snapshot
):
    assert hospital.post("", fresh(example())).status_code == 200  # a push opened the record
    pk = record_of(LETTER_NIR)
    before = snapshot()
    for wrong in ({"code": "AAAA-BBBB-CCCC"}, {"born": "1991-03-08"}):
        response = answer(browser, "oppose", wrong.get("code", notified), wrong.get("born", BORN))
        assert response.status_code == 401 and "ne correspondent pas" in browser.page
        assert 'href="/auth/record"' in browser.page  # a way back
    assert snapshot() == before
    response = answer(browser, "oppose", notified.lower().replace("-", ""))  # as typed
    assert response.status_code == 200 and "Opposition enregistrée" in browser.page
    assert status(LETTER_NIR) == "opposed"
    left = remains_of(unchecked(carnet.store.db), pk.removeprefix("Patient/"), LETTER_NIR)
    assert [name for name, _ in left] == ["patient_records"], left  # the opposition only
    kept = record(LETTER_NIR)
    assert kept.patient is None and kept.code_hash is None
    answer_again = hospital.post("", fresh(example()))
    assert answer_again.status_code == 409  # an opposed record takes nothing
    assert record_of(LETTER_NIR) is None


def test_opposing_after_the_window_is_refused(browser, notified, clock, snapshot, outbox):
    clock.advance(days=41)
    browser.get("/auth/record/new-code")
    browser.submit("/auth/record/new-code", {"ins": LETTER_NIR, "birth_date": BORN})
    code = outbox.last_code()  # valid 42 days more, for the activation
    clock.advance(days=1)
    before = snapshot()
    assert answer(browser, "oppose", notified).status_code == 401  # the first code expired
    response = answer(browser, "oppose", code)
    assert response.status_code == 409 and "délai" in browser.page
    assert status(LETTER_NIR) == "pending" and snapshot() == before


def test_new_codes_are_sent_at_most_once_a_day_and_tell_nothing(browser, notified, outbox, clock):
    def ask(born: str = BORN, ins: str = LETTER_NIR):
        browser.get("/auth/record/new-code")
        response = browser.submit("/auth/record/new-code", {"ins": ins, "birth_date": born})
        assert response.status_code == 200 and "Demande reçue" in browser.page
        return browser.page

    ask()
    assert len(outbox.messages()) == 1  # the notice was sent today
    clock.advance(days=1)
    unknown = ask(ins="184057512300192")
    wrong = ask(born="1990-01-01")
    assert unknown == wrong and len(outbox.messages()) == 1
    ask()
    assert len(outbox.messages()) == 2
    new = outbox.last_code()
    assert answer(browser, "oppose", notified).status_code == 401  # the old code is replaced
    ask()
    assert len(outbox.messages()) == 2  # once a day
    clock.advance(days=1)
    ask()
    assert len(outbox.messages()) == 3 and outbox.last_code() != new


def test_an_opposition_can_be_withdrawn_later_and_the_record_opens(
    browser, notified, outbox, clock, hospital
):
    assert answer(browser, "oppose", notified).status_code == 200
    clock.advance(days=400)
    browser.get("/auth/record/new-code")
    browser.submit("/auth/record/new-code", {"ins": LETTER_NIR, "birth_date": BORN})
    code = outbox.last_code()
    response = answer(browser, "withdraw", code)
    assert response.status_code == 200 and status(LETTER_NIR) == "open"
    assert answer(browser, "withdraw", code).status_code == 409  # not opposed any more
    assert hospital.post("", fresh(example())).status_code == 200
    response = activate(browser, code)
    assert response.status_code == 200, browser.page


def test_activation_creates_the_account_and_the_2_factor_login_follows(
    browser, notified, outbox, fhir
):
    refusals = (
        {"password": "too short", "password2": "too short"},
        {"password2": NEW_PASSWORD + "!"},
        {"card": "12"},
        {"channel": "pigeon"},
        {"otp_address": "not a number"},
    )
    for change in refusals:
        response = activate(browser, notified, **change)
        assert response.status_code == 400, (change, browser.page)
        assert 'href="/auth/record"' in browser.page
    assert Account.objects.count() == 0 and status(LETTER_NIR) == "pending"
    response = activate(browser, notified)
    assert response.status_code == 200 and "paul.martin" in browser.page
    kept = record(LETTER_NIR)
    assert kept.status == "open" and kept.account == "paul.martin" and kept.code_hash is None
    assert CARD not in repr(kept.to_mongo()) and verify_hash(kept.card_hash, CARD)
    patient = fhir.get(kept.patient).get_json()
    assert patient["identifier"][0] == {"use": "official", "system": INS_NIR, "value": LETTER_NIR}
    assert patient["birthDate"] == BORN
    # The code is spent; the username is taken.
    assert activate(browser, notified).status_code == 401
    # Then the existing 2-factor sign-in, codes by text message.
    assert browser.login("paul.martin", NEW_PASSWORD).status_code == 302
    assert outbox.messages()[-1]["channel"] == "sms"
    assert browser.enter_code(outbox.last_code()).status_code == 302


def test_activation_after_the_window_opened_the_record(
    browser, notified, monkeypatch, settings, clock, outbox
):
    clock.advance(days=43)
    assert Lifecycle(monkeypatch, settings, clock).run("run") == 0
    assert status(LETTER_NIR) == "open"
    assert activate(browser, notified).status_code == 401  # the notice's code expired with it
    browser.get("/auth/record/new-code")
    browser.submit("/auth/record/new-code", {"ins": LETTER_NIR, "birth_date": BORN})
    assert activate(browser, outbox.last_code()).status_code == 200


def test_wrong_answers_lock_the_form_like_the_login(browser, notified, settings):
    for _ in range(settings.login_max_failures):
        assert answer(browser, "oppose", "AAAA-BBBB-CCCC").status_code == 401
    response = answer(browser, "oppose", notified)
    assert response.status_code == 429 and "Trop d" in browser.page
    assert status(LETTER_NIR) == "pending"


@pytest.fixture
def signed_in(browser, notified, outbox):
    assert activate(browser, notified).status_code == 200
    assert browser.login("paul.martin", NEW_PASSWORD).status_code == 302
    assert browser.enter_code(outbox.last_code()).status_code == 302
    return browser


def test_the_patient_closes_reopens_and_erases_from_their_page(
    signed_in, hospital, carnet, clock, snapshot
):
    browser = signed_in
    pk = record(LETTER_NIR).patient
    assert hospital.post("", fresh(example())).status_code == 200
    browser.get("/auth/record/mine")
    assert "est <strong>ouvert</strong>" in browser.page
    assert browser.submit("/auth/record/mine/close", {}).status_code == 200
    assert status(LETTER_NIR) == "closed"
    assert hospital.search(f"DocumentReference?patient={pk}").get("entry", []) == []
    browser.get("/auth/record/mine")
    assert "est <strong>fermé</strong>" in browser.page and "02/03/2036" in browser.page
    before = snapshot()
    refused = browser.submit("/auth/record/mine/close", {})
    assert refused.status_code == 409 and "/auth/record/mine" in browser.page
    assert snapshot() == before
    browser.get("/auth/record/mine")
    assert browser.submit("/auth/record/mine/reopen", {}).status_code == 200
    assert status(LETTER_NIR) == "open"
    assert hospital.search(f"DocumentReference?patient={pk}")["total"] >= 1
    browser.get("/auth/record/mine")
    assert browser.submit("/auth/record/mine/erase", {}).status_code == 400  # not confirmed
    assert status(LETTER_NIR) == "open"
    browser.get("/auth/record/mine")
    assert browser.submit("/auth/record/mine/erase", {"confirm": "yes"}).status_code == 200
    assert status(LETTER_NIR) == "erased" and Account.objects.count() == 0
    left = remains_of(unchecked(carnet.store.db), pk.removeprefix("Patient/"), LETTER_NIR)
    assert [name for name, _ in left] == ["AuditEvent", "patient_records"], left
    assert browser.get("/auth/record/mine").status_code == 302  # signed out: no account left
