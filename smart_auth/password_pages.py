"""Self-service passwords: change (signed in, with the current password) and reset (by a one-time
code sent on the account's registered channel).

NIST SP 800-63B section 6.1.2.3 "Replacement of Memorized Secrets"
(https://pages.nist.gov/800-63-3/sp800-63b.html#replacement): a forgotten password is replaced
after proving control of the out-of-band channel, never by showing or sending the old one. A new
password ends every sign-in session begun before it (smart_auth.sessions). The pages join
smart_auth.login's blueprint: its CSRF check, security headers and lockout apply.
"""

import secrets
from datetime import timedelta

from flask import Blueprint, current_app, redirect, request, session, url_for

from smart_auth import login
from smart_auth.accounts import (
    HASHER,
    MIN_PASSWORD_LENGTH,
    LoginPolicy,
    LoginRefused,
    authenticate,
    find_account,
    is_locked,
    record_failure,
    set_password,
    throttle_keys,
)
from smart_auth.models import LoginChallenge, utcnow
from smart_auth.otp import CODE_DIGITS, verify_code

RESET_KEY = "password_reset"


def _policy() -> LoginPolicy:
    return LoginPolicy.from_settings(current_app.extensions["carnet"].auth.settings)


def _page(template: str, status: int = 200, **context):
    return login.render_page(template, status, min_length=MIN_PASSWORD_LENGTH, **context)


def _message(status: int, title: str, text: str, back: str, error: bool = True, **links):
    return login.render_page(
        "record_message.html", status, title=title, text=text, back=back, error=error, **links
    )


def new_password() -> str | None:
    """The new password the form's `password` and `password2` hold, the same and long enough;
    None otherwise (the page says why). The record's activation page reads it too."""
    password, again = request.form.get("password", ""), request.form.get("password2", "")
    if password != again:
        return None
    return password if len(password) >= MIN_PASSWORD_LENGTH else None


NEW_PASSWORD_REFUSED = (
    f"Le nouveau mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères et être "
    "saisi deux fois à l'identique."
)


RESET_PAUSED = (
    "Trop de demandes de réinitialisation : pour votre sécurité, elles reprendront dans "
    "{minutes} minutes."
)


def password_change():
    account = login.signed_in_account()
    if account is None:
        session["next"] = url_for(".password_change")
        return redirect(url_for(".login"))
    return _page("password_change.html")


def password_change_submit():
    account = login.signed_in_account()
    if account is None:
        session["next"] = url_for(".password_change")
        return redirect(url_for(".login"))
    password = new_password()
    if password is None:
        return _page("password_change.html", 400, message=NEW_PASSWORD_REFUSED)
    try:
        authenticate(
            account.username, request.form.get("current", ""), request.remote_addr, _policy()
        )
    except LoginRefused:
        return _page("password_change.html", 401, message="Le mot de passe actuel est incorrect.")
    return _changed(account, password)


def _changed(account, password: str):
    """Set the new password (ending every earlier sign-in session) and say so."""
    set_password(account, password)
    return _message(
        200,
        "Mot de passe changé",
        "Votre mot de passe est changé. Connectez-vous avec le nouveau.",
        url_for(".login"),
        error=False,
    )


def password_reset():
    return _page("password_reset.html")


def _reset_policy() -> LoginPolicy:
    """FHIR_SERVER_RESET_MAX_REQUESTS per FHIR_SERVER_LOCKOUT_SECONDS, apart from sign-in."""
    settings = current_app.extensions["carnet"].auth.settings
    return LoginPolicy(settings.reset_max_requests, settings.lockout_seconds)


def password_reset_submit():
    """Send a code to the account's channel; the answer is the same for an unknown username.

    Requests are counted per username and per client address, known username or not (so that a
    pause tells nothing either), apart from sign-in failures: each one sends a message."""
    username = request.form.get("username", "")
    requests_of = throttle_keys(username, request.remote_addr, counter="reset:")
    policy = _reset_policy()
    if is_locked(requests_of):
        minutes = max(1, round(policy.lockout_seconds / 60))
        return _page("password_reset.html", 429, message=RESET_PAUSED.format(minutes=minutes))
    record_failure(requests_of, policy)
    account = find_account(username)
    challenge_id = secrets.token_urlsafe(24)
    if account is not None and not is_locked(throttle_keys(username, request.remote_addr)):
        code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
        auth = current_app.extensions["carnet"].auth
        LoginChallenge(
            challenge_id=challenge_id,
            username=account.username,
            code_hash=HASHER.hash(code),
            expires_at=utcnow() + timedelta(seconds=auth.settings.otp_lifetime),
        ).save(force_insert=True)
        auth.sender.send(
            account.otp_channel,
            account.otp_address,
            "Réinitialisation de votre mot de passe Carnet",
            f"Votre code pour choisir un nouveau mot de passe est {code}. Il ne sert qu'une fois. "
            "Si vous n'avez rien demandé, ignorez ce message : votre mot de passe reste le même.",
            code=code,
        )
    session[RESET_KEY] = challenge_id
    return redirect(url_for(".password_reset_code"))


def password_reset_code():
    if RESET_KEY not in session:
        return redirect(url_for(".password_reset"))
    return _page("password_reset_code.html")


def password_reset_code_submit():
    challenge_id = session.get(RESET_KEY)
    if not challenge_id:
        return redirect(url_for(".password_reset"))
    password = new_password()
    if password is None:
        return _page("password_reset_code.html", 400, message=NEW_PASSWORD_REFUSED)
    try:
        account = verify_code(
            challenge_id, request.form.get("code", ""), request.remote_addr, _policy()
        )
    except LoginRefused as refused:
        if refused.restart:
            session.pop(RESET_KEY, None)
            return _message(
                401,
                "Code expiré",
                "Ce code n'est plus valable (expiré, déjà utilisé ou trop d'essais). "
                "Demandez-en un nouveau.",
                url_for(".password_reset"),
            )
        return _page("password_reset_code.html", 401, message="Ce code est incorrect.")
    session.pop(RESET_KEY, None)
    return _changed(account, password)


def add_routes(blueprint: Blueprint) -> None:
    """Add the password pages to the sign-in pages' blueprint (before it is first registered)."""
    rules = (
        ("/password", password_change, "GET"),
        ("/password", password_change_submit, "POST"),
        ("/password/reset", password_reset, "GET"),
        ("/password/reset", password_reset_submit, "POST"),
        ("/password/reset/code", password_reset_code, "GET"),
        ("/password/reset/code", password_reset_code_submit, "POST"),
    )
    for rule, view, method in rules:
        blueprint.add_url_rule(rule, view_func=view, methods=[method])
