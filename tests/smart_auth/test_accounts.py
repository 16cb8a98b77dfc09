"""smart_auth.accounts and smart_auth.otp: argon2 passwords, lockout, one-time codes."""

from datetime import timedelta

import pytest

from smart_auth.accounts import (
    REFUSED,
    AccountError,
    AccountExists,
    LoginPolicy,
    LoginRefused,
    authenticate,
    create_account,
)
from smart_auth.models import Account, LoginChallenge, LoginThrottle, utcnow
from smart_auth.otp import GONE, MAX_CODE_ATTEMPTS, WRONG, send_code, verify_code
from tests.smart_auth.conftest import PASSWORD

POLICY = LoginPolicy(max_failures=5, lockout_seconds=900)


class Captured:
    def __init__(self):
        self.sent: list[dict] = []

    def send(self, channel, address, subject, body, **data):
        self.sent.append({"channel": channel, "to": address, "body": body, **data})


def refusal(call) -> LoginRefused:
    with pytest.raises(LoginRefused) as caught:
        call()
    return caught.value


def test_password_is_stored_as_argon2id(patient_account):
    stored = Account.objects(username="alice.martin").first()
    assert stored.password_hash.startswith("$argon2id$")
    assert PASSWORD not in str(stored.to_mongo())


def test_correct_password_signs_in_whatever_the_username_case(patient_account):
    assert authenticate(" Alice.Martin ", PASSWORD, "10.0.0.1", POLICY).fhir_user == "Patient/p1"


def test_unknown_user_and_wrong_password_get_the_same_refusal(patient_account):
    wrong = refusal(lambda: authenticate("alice.martin", "not the password", None, POLICY))
    unknown = refusal(lambda: authenticate("nobody.here", "not the password", None, POLICY))
    assert wrong.message == unknown.message == REFUSED
    assert (wrong.restart, unknown.restart) == (False, False)


def test_lockout_after_max_failures_even_with_the_right_password(patient_account):
    for _ in range(POLICY.max_failures):
        refusal(lambda: authenticate("alice.martin", "wrong password!", None, POLICY))
    locked = refusal(lambda: authenticate("alice.martin", PASSWORD, None, POLICY))
    assert locked.message == POLICY.locked_message


def test_unknown_usernames_lock_out_alike(carnet):
    """Otherwise the lockout itself would reveal which usernames exist."""
    messages = [
        refusal(lambda: authenticate("ghost", "wrong password!", None, POLICY)).message
        for _ in range(POLICY.max_failures + 1)
    ]
    assert messages[-2:] == [POLICY.locked_message] * 2


def test_lockout_ends_after_lockout_seconds(patient_account, plan_check):
    for _ in range(POLICY.max_failures):
        refusal(lambda: authenticate("alice.martin", "wrong password!", None, POLICY))
    past = utcnow() - timedelta(seconds=1)
    with plan_check.paused():  # the test sets the clock back on every throttle
        LoginThrottle.objects.update(set__locked_until=past, set__expires_at=past)
    assert authenticate("alice.martin", PASSWORD, None, POLICY).username == "alice.martin"


def test_one_address_trying_many_usernames_is_slowed_down(patient_account):
    for index in range(POLICY.max_failures * 4):
        refusal(lambda i=index: authenticate(f"guess{i}", "wrong password!", "203.0.113.9", POLICY))
    locked = refusal(lambda: authenticate("alice.martin", PASSWORD, "203.0.113.9", POLICY))
    assert locked.message == POLICY.locked_message
    assert authenticate("alice.martin", PASSWORD, "198.51.100.1", POLICY)


@pytest.mark.parametrize(
    "field, kwargs",
    [
        ("username", {"username": "a"}),
        ("password", {"password": "short"}),
        ("fhir_user", {"fhir_user": "Organization/x"}),
        ("otp_channel", {"otp_channel": "pigeon"}),
        ("otp_address", {"otp_address": "not-an-address"}),
    ],
)
def test_invalid_accounts_are_refused_with_the_reason(carnet, field, kwargs):
    values = {
        "username": "bob",
        "password": PASSWORD,
        "fhir_user": "Practitioner/10001234567",
        "otp_channel": "email",
        "otp_address": "bob@example.fr",
        **kwargs,
    }
    with pytest.raises(AccountError, match=field):
        create_account(**values)


def test_usernames_are_unique(patient_account):
    with pytest.raises(AccountExists):
        create_account("ALICE.MARTIN", PASSWORD, "Patient/p2", "sms", "+33612345678")


def test_code_is_six_digits_sent_and_stored_hashed(patient_account):
    sender = Captured()
    challenge_id = send_code(patient_account, 900, sender)
    (message,) = sender.sent
    assert (message["channel"], message["to"]) == ("email", "alice@example.fr")
    assert len(message["code"]) == 6 and message["code"].isdigit()
    assert message["code"] in message["body"]
    stored = LoginChallenge.objects(challenge_id=challenge_id).first()
    assert message["code"] not in str(stored.to_mongo())
    assert timedelta(seconds=890) < stored.expires_at - utcnow() <= timedelta(seconds=900)


def test_right_code_signs_in_once(patient_account):
    sender = Captured()
    challenge_id = send_code(patient_account, 900, sender)
    code = sender.sent[0]["code"]
    assert verify_code(challenge_id, code, None, POLICY).username == "alice.martin"
    reused = refusal(lambda: verify_code(challenge_id, code, None, POLICY))
    assert (reused.message, reused.restart) == (GONE, True)


def test_wrong_code_then_right_code(patient_account):
    sender = Captured()
    challenge_id = send_code(patient_account, 900, sender)
    code = sender.sent[0]["code"]
    wrong = refusal(
        lambda: verify_code(challenge_id, "000000" if code != "000000" else "111111", None, POLICY)
    )
    assert (wrong.message, wrong.restart) == (WRONG, False)
    assert verify_code(challenge_id, code, None, POLICY)


def test_expired_code_is_refused(patient_account):
    sender = Captured()
    challenge_id = send_code(patient_account, 900, sender)
    LoginChallenge.objects(challenge_id=challenge_id).update(
        set__expires_at=utcnow() - timedelta(seconds=1)
    )
    expired = refusal(lambda: verify_code(challenge_id, sender.sent[0]["code"], None, POLICY))
    assert (expired.message, expired.restart) == (GONE, True)


def test_code_attempts_are_limited(patient_account):
    sender = Captured()
    challenge_id = send_code(patient_account, 900, sender)
    code = sender.sent[0]["code"]
    bad = "000000" if code != "000000" else "111111"
    for _ in range(MAX_CODE_ATTEMPTS - 1):
        assert not refusal(lambda: verify_code(challenge_id, bad, None, POLICY)).restart
    assert refusal(lambda: verify_code(challenge_id, bad, None, POLICY)).restart
    # Even the right code is worthless now: the person must sign in again.
    assert refusal(lambda: verify_code(challenge_id, code, None, POLICY)).message == GONE


def test_wrong_codes_count_towards_the_lockout(patient_account):
    policy = LoginPolicy(max_failures=2, lockout_seconds=900)
    sender = Captured()
    challenge_id = send_code(patient_account, 900, sender)
    code = sender.sent[0]["code"]
    bad = "000000" if code != "000000" else "111111"
    refusal(lambda: verify_code(challenge_id, bad, None, policy))
    locked = refusal(lambda: verify_code(challenge_id, bad, None, policy))
    assert (locked.message, locked.restart) == (policy.locked_message, True)
    assert refusal(lambda: authenticate("alice.martin", PASSWORD, None, policy)).message == (
        policy.locked_message
    )
