"""Sign-in sessions kept on the server, so that logging out ends them for every copy of the cookie.

OWASP Session Management Cheat Sheet, "Session Expiration" and "Manual Session Expiration"
(https://cheatsheetseries.owasp.org/cheatsheets/Session_Management_Cheat_Sheet.html): the server
invalidates the session at logout, after a fixed lifetime, and when the credentials change; the
session id is random (256 bits) and stored only as a digest, so the store gives no usable cookie.
Flask's signed cookie only carries the id and the sign-in still in progress (smart_auth.login);
the id is never logged.
"""

import hashlib
import secrets
from datetime import timedelta

from smart_auth.accounts import find_account
from smart_auth.models import Account, SignInSession, utcnow


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def _stamp(account: Account) -> str:
    # A new password (or a reset by the operator) changes the hash, hence the stamp.
    return _digest(account.password_hash)


def start(account: Account, lifetime_seconds: int) -> str:
    """Record a completed sign-in; returns the id for the cookie (the only copy of it)."""
    session_id = secrets.token_urlsafe(32)
    SignInSession(
        id_hash=_digest(session_id),
        username=account.username,
        password_stamp=_stamp(account),
        expires_at=utcnow() + timedelta(seconds=lifetime_seconds),
    ).save()
    return session_id


def account_of(session_id: str | None) -> Account | None:
    """The signed-in account, if the session is live: not ended, not expired, same password."""
    if not session_id:
        return None
    record = SignInSession.objects(id_hash=_digest(session_id), ended_at=None).first()
    if record is None or record.expires_at <= utcnow():
        return None
    account = find_account(record.username)
    if account is None or _stamp(account) != record.password_stamp:
        end(session_id)
        return None
    return account


def end(session_id: str | None) -> None:
    """Logout: the session stops working for every copy of its cookie."""
    if session_id:
        SignInSession.objects(id_hash=_digest(session_id), ended_at=None).update(
            set__ended_at=utcnow()
        )
