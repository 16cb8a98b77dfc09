"""One-time sign-in codes: the second factor after the password.

Six digits, valid `otp_lifetime` seconds, single-use, stored only as an argon2 hash, a few
attempts per code (NIST SP 800-63B section 5.1.3 "Out-of-Band Devices",
https://pages.nist.gov/800-63-3/sp800-63b.html#sec5). A wrong code also counts against the
username's lockout (smart_auth.accounts). Codes reach the person through the pluggable sender.
"""

import re
import secrets
from datetime import timedelta

from smart_auth.accounts import (
    HASHER,
    LoginPolicy,
    LoginRefused,
    clear_failures,
    find_account,
    is_locked,
    record_failure,
    throttle_keys,
    verify_hash,
)
from smart_auth.models import Account, LoginChallenge, utcnow
from smart_auth.sender import Sender

MAX_CODE_ATTEMPTS = 3
CODE_DIGITS = 6

WRONG = "This code is incorrect. Check the last message you received and try again."
GONE = "This code is no longer valid. Please sign in again to receive a new code."
_CODE = re.compile(r"^[0-9]{6}$")


def send_code(account: Account, lifetime: int, sender: Sender) -> str:
    """Create a challenge, send its code to the account's channel, and return the challenge id."""
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    challenge = LoginChallenge(
        challenge_id=secrets.token_urlsafe(24),
        username=account.username,
        code_hash=HASHER.hash(code),
        expires_at=utcnow() + timedelta(seconds=lifetime),
    ).save(force_insert=True)
    minutes = max(1, round(lifetime / 60))
    sender.send(
        account.otp_channel,
        account.otp_address,
        "Your Carnet sign-in code",
        f"Your Carnet sign-in code is {code}. It is valid for {minutes} minutes and can be used "
        "once. Never share it: nobody from Carnet will ever ask you for it.",
        code=code,
    )
    return challenge.challenge_id


def verify_code(challenge_id: str, code: str, address: str | None, policy: LoginPolicy) -> Account:
    """The account this code signs in, or LoginRefused (restart=True: the challenge is spent)."""
    challenge = LoginChallenge.objects(challenge_id=challenge_id or "").first()
    if challenge is None or challenge.used or challenge.expires_at <= utcnow():
        raise LoginRefused(GONE, restart=True)
    keys = throttle_keys(challenge.username, address)
    if is_locked(keys):
        _spend(challenge)
        raise LoginRefused(policy.locked_message, restart=True)
    # Count the attempt before checking it, atomically, so parallel guesses cannot exceed the limit.
    counted = LoginChallenge.objects(
        challenge_id=challenge.challenge_id, used=False, attempts__lt=MAX_CODE_ATTEMPTS
    ).modify(inc__attempts=1, new=True)
    if counted is None:
        raise LoginRefused(GONE, restart=True)
    code = re.sub(r"\s", "", code or "")
    if not (_CODE.match(code) and verify_hash(challenge.code_hash, code)):
        record_failure(keys, policy)
        if is_locked(keys):
            _spend(challenge)
            raise LoginRefused(policy.locked_message, restart=True)
        if counted.attempts >= MAX_CODE_ATTEMPTS:
            _spend(challenge)
            raise LoginRefused(GONE, restart=True)
        raise LoginRefused(WRONG)
    # Single use: only the request that flips `used` signs in.
    if not LoginChallenge.objects(challenge_id=challenge.challenge_id, used=False).update_one(
        set__used=True
    ):
        raise LoginRefused(GONE, restart=True)
    account = find_account(challenge.username)
    if account is None:
        raise LoginRefused(GONE, restart=True)
    clear_failures(account.username)
    return account


def _spend(challenge: LoginChallenge) -> None:
    LoginChallenge.objects(challenge_id=challenge.challenge_id).update_one(set__used=True)
