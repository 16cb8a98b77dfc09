"""Login accounts for a Patient or a Practitioner, and password verification with lockout.

Passwords are hashed with argon2id (RFC 9106, https://www.rfc-editor.org/rfc/rfc9106). Failed
attempts are counted per username, known or not, and per client address (OWASP ASVS 4.0 V2.2.1,
https://github.com/OWASP/ASVS/blob/v4.0.3/4.0/en/0x11-V2-Authentication.md): after
`login_max_failures` failures sign-in pauses for `lockout_seconds`. Nothing here tells whether a
username exists: the same message, and an unknown username costs the same argon2 verification.
"""

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta

import mongoengine as me
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from smart_auth.models import Account, AppGrant, LoginThrottle, SignInSession, utcnow

HASHER = PasswordHasher()
# Verified against when the username is unknown, so that both cases take the same time.
_DUMMY_HASH = HASHER.hash("carnet-no-such-account")

MIN_PASSWORD_LENGTH = 12
# A client address may fail this many times the per-username limit (several people behind one NAT).
ADDRESS_FACTOR = 4

REFUSED = "The username or password is incorrect."
LOCKED = "Too many failed attempts. For your security, sign-in is paused for {minutes} minutes."

_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._@+-]{2,99}$")
_FHIR_USER = re.compile(r"^(Patient|Practitioner|RelatedPerson)/[A-Za-z0-9\-.]{1,64}$")
_PATIENT = re.compile(r"^Patient/[A-Za-z0-9\-.]{1,64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 .-]{5,19}$")
_EXTERNAL_SUBJECT = re.compile(r"^\S{1,200}$")


class AccountError(ValueError):
    """The account cannot be created as asked (the message says why)."""


class AccountExists(AccountError):
    pass


class LoginRefused(Exception):
    """A refused sign-in step; `message` is safe to show the person."""

    def __init__(self, message: str, restart: bool = False):
        super().__init__(message)
        self.message = message
        self.restart = restart  # the person must start again from the password


@dataclass(frozen=True)
class LoginPolicy:
    max_failures: int
    lockout_seconds: int

    @classmethod
    def from_settings(cls, settings) -> "LoginPolicy":
        return cls(settings.login_max_failures, settings.lockout_seconds)

    @property
    def locked_message(self) -> str:
        return LOCKED.format(minutes=max(1, round(self.lockout_seconds / 60)))


def normalize_username(username: str) -> str:
    return (username or "").strip().lower()


def create_account(
    username: str,
    password: str,
    fhir_user: str,
    otp_channel: str,
    otp_address: str,
    external_subject: str | None = None,
    represents: str | None = None,
) -> Account:
    """Create a login account; raise AccountError (or AccountExists) with a reason.

    `external_subject` links a Practitioner's account to the external identity provider's id
    claim (smart_auth.external_idp). `represents`: for a legal representative's account
    (fhir_user RelatedPerson/<id>), the Patient whose record they act on.
    """
    represents = (represents or "").strip() or None
    username = normalize_username(username)
    otp_address = (otp_address or "").strip()
    external_subject = (external_subject or "").strip() or None
    if not _USERNAME.match(username):
        raise AccountError(
            "username: 3 to 100 characters among letters, digits and . _ @ + -, "
            "starting with a letter or digit"
        )
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    if not _FHIR_USER.match(fhir_user or ""):
        raise AccountError("fhir_user: 'Patient/<id>', 'Practitioner/<id>' or 'RelatedPerson/<id>'")
    if fhir_user.startswith("RelatedPerson/") != (represents is not None):
        raise AccountError(
            "represents: a legal representative's account (RelatedPerson) names the Patient "
            "they represent, and only such an account does"
        )
    if represents is not None and not _PATIENT.match(represents):
        raise AccountError("represents: 'Patient/<id>'")
    if otp_channel not in ("email", "sms"):
        raise AccountError("otp_channel: 'email' or 'sms'")
    if not (_EMAIL if otp_channel == "email" else _PHONE).match(otp_address):
        raise AccountError(
            f"otp_address: not a valid {'e-mail address' if otp_channel == 'email' else 'phone number'}"
        )
    if external_subject is not None:
        if not fhir_user.startswith("Practitioner/"):
            raise AccountError("external_subject: only for a Practitioner's account")
        if not _EXTERNAL_SUBJECT.match(external_subject):
            raise AccountError("external_subject: 1 to 200 characters, no spaces")
        if Account.objects(external_subject=external_subject).first() is not None:
            raise AccountExists("external_subject: already linked to another account")
    account = Account(
        username=username,
        password_hash=HASHER.hash(password),
        fhir_user=fhir_user,
        otp_channel=otp_channel,
        otp_address=otp_address,
        external_subject=external_subject,
        represents=represents,
    )
    try:
        return account.save(force_insert=True)
    except me.NotUniqueError as exc:
        if Account.objects(username=username).first() is None:
            raise AccountExists("external_subject: already linked to another account") from exc
        raise AccountExists(f"username: '{username}' is already taken") from exc


def find_account(username: str) -> Account | None:
    return Account.objects(username=normalize_username(username)).first()


def authenticate(username: str, password: str, address: str | None, policy: LoginPolicy) -> Account:
    """The account whose password this is, or LoginRefused; every failure is counted."""
    keys = throttle_keys(username, address)
    account = find_account(username)
    if is_locked(keys):
        # Same work as a real verification: a locked-out guess must not be measurably faster.
        verify_hash(_DUMMY_HASH, password or "")
        raise LoginRefused(policy.locked_message)
    ok = verify_hash(account.password_hash if account else _DUMMY_HASH, password or "")
    if not ok or account is None:
        record_failure(keys, policy)
        raise LoginRefused(policy.locked_message if is_locked(keys) else REFUSED)
    if HASHER.check_needs_rehash(account.password_hash):
        account.update(set__password_hash=HASHER.hash(password))
    return account


def verify_hash(password_hash: str, password: str) -> bool:
    try:
        return HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def throttle_keys(username: str, address: str | None, counter: str = "") -> list[str]:
    """The throttle records a sign-in attempt counts against: the username, the client address.

    `counter` names another count kept the same way (password-reset requests: "reset:")."""
    keys = [counter + "user:" + normalize_username(username)]
    if address:
        keys.append(counter + "addr:" + address)
    return [hashlib.sha256(k.encode()).hexdigest() for k in keys]


def is_locked(keys: list[str]) -> bool:
    now = utcnow()
    return any(
        t.locked_until is not None and t.locked_until > now
        for t in LoginThrottle.objects(key__in=keys)
    )


def record_failure(keys: list[str], policy: LoginPolicy) -> None:
    """Count one failure against each key; lock a key that reaches its limit."""
    now = utcnow()
    window = now + timedelta(seconds=policy.lockout_seconds)
    for index, key in enumerate(keys):
        limit = policy.max_failures * (ADDRESS_FACTOR if index else 1)
        current = LoginThrottle.objects(key=key).first()
        if current is not None and current.expires_at <= now:
            current.delete()  # a stale window: the TTL monitor had not removed it yet
        throttle = LoginThrottle.objects(key=key).modify(
            upsert=True, new=True, inc__failures=1, set__expires_at=window
        )
        if throttle.failures >= limit:
            throttle.update(set__locked_until=window)


def clear_failures(username: str) -> None:
    """A completed sign-in forgets the username's failures (not the address's)."""
    LoginThrottle.objects(key__in=throttle_keys(username, None)).delete()


def set_password(account: Account, password: str) -> None:
    """A new password (12+ characters, argon2id); every sign-in session begun before it ends
    (smart_auth.sessions compares the password hash it began with)."""
    if len(password or "") < MIN_PASSWORD_LENGTH:
        raise AccountError(f"password: at least {MIN_PASSWORD_LENGTH} characters")
    account.update(set__password_hash=HASHER.hash(password))
    account.reload()


def delete_accounts_of(fhir_user: str) -> int:
    """Remove the login accounts of a person whose record was erased, with the apps they allowed
    and their sign-in sessions; returns how many accounts went."""
    accounts = list(Account.objects(fhir_user=fhir_user))
    SignInSession.objects(username__in=[a.username for a in accounts]).delete()
    AppGrant.objects(fhir_user=fhir_user).delete()
    for account in accounts:
        account.delete()
    return len(accounts)
