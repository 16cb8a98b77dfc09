"""CSRF protection for the login, consent and app pages: a per-session synchronizer token.

OWASP CSRF Prevention Cheat Sheet, "Synchronizer Token Pattern"
(https://cheatsheetseries.owasp.org/cheatsheets/Cross-Site_Request_Forgery_Prevention_Cheat_Sheet.html):
every form carries the session's token in `csrf_token`; a POST without the matching token is refused.
"""

import hmac
import secrets

from flask import request, session

FIELD = "csrf_token"
_KEY = "csrf"


def token() -> str:
    """The session's token, made on first use."""
    if _KEY not in session:
        session[_KEY] = secrets.token_urlsafe(32)
    return session[_KEY]


def renew() -> None:
    """A new token after sign-in, so a token seen before it is worth nothing after."""
    session[_KEY] = secrets.token_urlsafe(32)


def is_valid() -> bool:
    """Whether this POST carries the session's token."""
    expected = session.get(_KEY)
    sent = request.form.get(FIELD, "")
    return bool(expected) and hmac.compare_digest(sent.encode(), expected.encode())
