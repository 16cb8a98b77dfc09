"""The person-facing pages of the authorization endpoint: sign-in, one-time code, consent, apps.

RFC 6749 sections 4.1.1-4.1.2 (https://www.rfc-editor.org/rfc/rfc6749#section-4.1.1) and SMART
App Launch 2 (https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code):
GET /auth/authorize is validated by the authlib server (`auth.extra["server"]`); the validated
request then waits in the signed session while the person gives their password, then the code
sent to them, then approves or refuses. A completed sign-in is kept on the server
(smart_auth.sessions): the cookie only names it, and logout ends it. Approval asks the server for the redirect with a code;
refusal redirects with `error=access_denied` (RFC 6749 section 4.1.2.1). The password never
enters the session. When FHIR_SERVER_PRO_IDP_ISSUER is set, professionals may instead sign in
with that OpenID Connect provider (smart_auth.external_idp), which replaces password and code.
"""

import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import OAuth2Request
from authlib.oauth2.rfc6749.requests import BasicOAuth2Payload
from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from smart_auth import account_admin, csrf, external_idp, request_log, sessions
from smart_auth.accounts import LoginPolicy, LoginRefused, authenticate
from smart_auth.authorized_apps import authorized_apps, record_grant, revoke_grant
from smart_auth.languages import negotiate, translate
from smart_auth.models import Account, OAuthClient
from smart_auth.otp import send_code, verify_code
from smart_auth.scope_text import describe

blueprint = Blueprint(
    "carnet_login",
    __name__,
    url_prefix="/auth",
    template_folder="templates",
    static_folder="static",
)


SIGN_IN_SECONDS = 30 * 60  # how long a completed sign-in lets the person approve apps

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    # No form-action: browsers apply it to the redirect to the app after consent.
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "base-uri 'none'; frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class PendingRequest(OAuth2Request):
    """The authorization request validated at GET /auth/authorize, replayed from the session."""

    def __init__(self, uri: str, params: dict[str, str], headers):
        super().__init__("GET", uri, headers=headers)
        self._params = params
        self.payload = BasicOAuth2Payload(params)

    @property
    def args(self) -> dict[str, str]:
        return self._params

    @property
    def form(self) -> dict[str, str]:
        return {}


def init_app(app: Flask) -> None:
    """Register the sign-in pages and the account administration endpoint; configure the session."""
    carnet = app.extensions["carnet"]
    settings = carnet.settings
    if not app.secret_key:
        # Every worker signs and reads sign-in sessions with the same key, kept across restarts.
        app.secret_key = carnet.secret
    app.config.update(
        SESSION_COOKIE_NAME="carnet_auth",
        SESSION_COOKIE_PATH="/auth",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.base_url.startswith("https://"),
    )
    app.register_blueprint(blueprint)
    app.register_blueprint(account_admin.blueprint)
    external_idp.init_app(app)
    request_log.install()


def page_language() -> str:
    """The pages' language for this request (French unless the browser prefers English)."""
    return negotiate(request.headers.get("Accept-Language"))


@blueprint.context_processor
def _template_globals() -> dict:
    lang = page_language()
    return {
        "csrf_token": csrf.token,
        "csrf_field": csrf.FIELD,
        "lang": lang,
        "t": lambda text, **values: translate(text, lang, **values),
    }


@blueprint.before_request
def _check_csrf():
    # The authorization request itself comes from the app's page, not from ours (OIDC POST form).
    if request.endpoint == "carnet_login.authorize":
        return None
    if request.method == "POST" and not csrf.is_valid():
        return error_page(
            400,
            "This form has expired",
            "For your security, this form was refused: it was not sent from a page of this "
            "session. Go back, reload the page and try again.",
        )
    return None


@blueprint.after_request
def _security_headers(response: Response) -> Response:
    response.headers.update(SECURITY_HEADERS)
    if response.mimetype == "text/html":
        response.headers["Content-Language"] = page_language()
        response.vary.add("Accept-Language")
    return response


@blueprint.route("/authorize", methods=["GET", "POST"])
def authorize():
    """RFC 6749 section 4.1.1: validate, keep the request, then sign in (or go to consent).

    POST too: OpenID Connect Core 1.0 section 3.1.2.1 requires both methods.
    """
    server = _server()
    try:
        server.get_consent_grant(end_user=None)
    except OAuth2Error as error:
        return _oauth_error(server, error)
    session["authz"] = {"id": secrets.token_urlsafe(12), "params": request.values.to_dict()}
    if "login" in (request.values.get("prompt") or "").split():
        sessions.end(session.pop("sid", None))
    return redirect(url_for(".consent" if signed_in_account() else ".login"))


@blueprint.get("/login")
def login():
    return _login_page()


@blueprint.post("/login")
def login_submit():
    auth = _auth()
    username = request.form.get("username", "")
    try:
        account = authenticate(
            username, request.form.get("password", ""), request.remote_addr, _policy()
        )
    except LoginRefused as refused:
        return _login_page(refused.message, 401, username)
    session["challenge"] = send_code(account, auth.settings.otp_lifetime, auth.sender)
    session["code_hint"] = _hint(account)
    return redirect(url_for(".code"))


@blueprint.get("/code")
def code():
    if "challenge" not in session:
        return redirect(url_for(".login"))
    return render_page("code.html", hint=session.get("code_hint"))


@blueprint.post("/code")
def code_submit():
    challenge = session.get("challenge")
    if not challenge:
        return redirect(url_for(".login"))
    try:
        account = verify_code(
            challenge, request.form.get("code", ""), request.remote_addr, _policy()
        )
    except LoginRefused as refused:
        if refused.restart:
            session.pop("challenge", None)
            session.pop("code_hint", None)
            return _login_page(refused.message, 401)
        return render_page("code.html", 401, hint=session.get("code_hint"), message=refused.message)
    return _signed_in_redirect(account)


@blueprint.get("/login/external")
def login_external():
    """A professional signs in with the external provider instead of password and code."""
    if external_idp.provider() is None:
        return error_page(404, "Not available", "This server has no external identity provider.")
    try:
        return external_idp.redirect_to_provider(
            url_for(".login_external_callback", _external=True)
        )
    except external_idp.ExternalLoginRefused as refused:
        return error_page(refused.status, refused.title, refused.message)


@blueprint.get("/login/external/callback")
def login_external_callback():
    """The provider's answer (OpenID Connect Core 1.0 section 3.1.2.5); then as after the code."""
    if external_idp.provider() is None:
        return error_page(404, "Not available", "This server has no external identity provider.")
    try:
        account = external_idp.complete()
    except external_idp.ExternalLoginRefused as refused:
        return error_page(refused.status, refused.title, refused.message)
    return _signed_in_redirect(account)


@blueprint.get("/consent")
def consent():
    pending = session.get("authz")
    if pending is None:
        return error_page(400, "Nothing to approve", "No app is waiting for your approval.")
    account = signed_in_account()
    if account is None:
        return redirect(url_for(".login"))
    server = _server()
    try:
        grant, _ = _replay(server, pending, account)
    except OAuth2Error as error:
        session.pop("authz", None)
        return _oauth_error(server, error)
    return render_page(
        "consent.html",
        app_name=_client_name(pending["params"].get("client_id")),
        permissions=describe(grant.request.scope or "", page_language()),
        account=account,
        request_id=pending["id"],
    )


@blueprint.post("/consent")
def consent_submit():
    pending = session.get("authz")
    account = signed_in_account()
    if pending is None or request.form.get("request_id") != pending["id"]:
        return error_page(400, "This page is out of date", "Go back to the app and start again.")
    if account is None:
        return redirect(url_for(".login"))
    server = _server()
    session.pop("authz", None)
    try:
        grant, pending_request = _replay(server, pending, account)
    except OAuth2Error as error:
        return _oauth_error(server, error)
    approved = request.form.get("decision") == "approve"
    # grant_user None: RFC 6749 section 4.1.2.1 access_denied, with the client's state.
    response = server.create_authorization_response(
        request=pending_request, grant_user=account if approved else None, grant=grant
    )
    if approved and _issued_code(response):
        record_grant(account.fhir_user, grant.client.get_client_id(), grant.request.scope or "")
    return response


@blueprint.get("/apps")
def apps():
    account = signed_in_account()
    if account is None:
        session["next"] = url_for(".apps")
        return redirect(url_for(".login"))
    apps = authorized_apps(account.fhir_user, page_language())
    return render_page("apps.html", apps=apps, account=account)


@blueprint.post("/apps/<grant_id>/revoke")
def revoke(grant_id: str):
    account = signed_in_account()
    if account is None:
        session["next"] = url_for(".apps")
        return redirect(url_for(".login"))
    if revoke_grant(account.fhir_user, grant_id):
        flash("Done: this app can no longer reach your record.")
    else:
        flash("This app had already lost its access.")
    return redirect(url_for(".apps"))


@blueprint.post("/logout")
def logout():
    sessions.end(session.get("sid"))  # on the server: a copy of the cookie is worth nothing now
    session.clear()
    return render_page("message.html", title="Signed out", message="You are signed out of Carnet.")


def _auth():
    return current_app.extensions["carnet"].auth


def _server():
    from smart_auth.server import server_for

    return server_for(_auth())


def _policy() -> LoginPolicy:
    return LoginPolicy.from_settings(_auth().settings)


def render_page(template: str, status: int = 200, **context):
    """One of the sign-in pages' templates (templates/carnet_auth/), with `status`."""
    return render_template(f"carnet_auth/{template}", **context), status


def error_page(status: int, title: str, message: str, **more):
    """A page telling the person what went wrong, with `status` (and `detail`, `back_url`)."""
    return render_page("message.html", status, title=title, message=message, error=True, **more)


def _login_page(message: str | None = None, status: int = 200, username: str = ""):
    pending = session.get("authz")
    app_name = _client_name(pending["params"].get("client_id")) if pending else None
    external = external_idp.provider()
    return render_page(
        "login.html",
        status,
        message=message,
        username=username,
        app_name=app_name,
        external_name=external.name if external else None,
    )


# What a person is told of an authorization request that cannot go back to the app.
_UNTRUSTED_REQUEST = {
    "invalid_client": "This app is not known to Carnet, so it cannot connect to your health "
    "record. Nothing was shared.",
    "redirect_uri": "This app asked to come back to an address it did not register, so Carnet "
    "stopped here. Nothing was shared.",
}


def _oauth_error(server, error: OAuth2Error):
    """Redirect with the error when the redirect URI is trusted (RFC 6749 section 4.1.2.1),
    else explain it on a page with a way back: never to the untrusted redirect URI."""
    if error.redirect_uri:
        return server.handle_response(*error())
    description = error.get_error_description() or error.description or ""
    if error.error == "invalid_client":
        message = _UNTRUSTED_REQUEST["invalid_client"]
    elif "redirect" in description.lower():
        message = _UNTRUSTED_REQUEST["redirect_uri"]
    else:
        message = (
            "This app's request is incomplete or wrong, so Carnet stopped here. Nothing was shared."
        )
    referrer = request.referrer or ""
    return error_page(
        400,
        "This app's request cannot be accepted",
        message,
        detail=f"{error.error}: {description}".strip(": "),
        back_url=referrer if referrer.startswith(("https://", "http://")) else None,
    )


def _replay(server, pending: dict, account: Account):
    uri = url_for(".authorize", _external=True) + "?" + urlencode(pending["params"])
    pending_request = PendingRequest(uri, pending["params"], request.headers)
    pending_request.user = account
    grant = server.get_authorization_grant(pending_request)
    grant.validate_consent_request()
    return grant, pending_request


def _issued_code(response: Response) -> bool:
    location = response.headers.get("Location", "")
    return response.status_code in (302, 303) and "code" in parse_qs(urlsplit(location).query)


def _signed_in_redirect(account: Account):
    """Sign the person in, then on to the waiting app's consent page (or where they were going)."""
    _sign_in(account)
    if "authz" in session:
        return redirect(url_for(".consent"))
    return redirect(session.pop("next", None) or url_for(".apps"))


def _sign_in(account: Account) -> None:
    """A fresh session for the signed-in person, keeping only the pending request."""
    kept = {k: session[k] for k in ("authz", "next") if k in session}
    sessions.end(session.get("sid"))
    session.clear()
    session.update(kept)
    session["sid"] = sessions.start(account, SIGN_IN_SECONDS)
    csrf.renew()


def signed_in_account() -> Account | None:
    """The account this browser's sign-in session (smart_auth.sessions) names, if still valid."""
    return sessions.account_of(session.get("sid"))


def _client_name(client_id: str | None) -> str | None:
    client = OAuthClient.objects(client_id=client_id).first() if client_id else None
    return client.client_name if client else None


def _hint(account: Account) -> str:
    """Where the code went, partly hidden: 'by e-mail to j…@example.fr', 'by text message to …42'."""
    address = account.otp_address
    if account.otp_channel == "sms":
        return f"by text message to the number ending in {address[-2:]}"
    local, _, domain = address.partition("@")
    return f"by e-mail to {local[:1]}…@{domain}"
