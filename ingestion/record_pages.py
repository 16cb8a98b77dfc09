"""The person's pages of their record's life: answer the opt-out notice (oppose, withdraw an
opposition, activate, ask for a new code) and, signed in, close, reopen or erase the record.

CSP R1111-28 and R1111-36 (https://www.legifrance.gouv.fr/codes/texte_lc/LEGITEXT000006072665/);
the rules are ingestion.lifecycle's, these views only read forms and show answers, in French. They
join smart_auth.login's blueprint (its CSRF check, security headers and session), added by the
composition root (carnet.app). Every refusal is a page with a way back, and changes nothing.
"""

from flask import Blueprint, current_app, redirect, request, session, url_for

from carnet_core.clock import aware
from carnet_core.context import AccessContext
from carnet_core.errors import FhirError
from carnet_core.scopes import ScopeSet
from consent import record_notices
from ingestion import opt_out
from ingestion.lifecycle import RecordLife
from ingestion.models import PatientRecord
from ingestion.opt_out import AnswerRefused
from smart_auth import login
from smart_auth.accounts import MIN_PASSWORD_LENGTH, LoginPolicy
from smart_auth.models import Account
from smart_auth.password_pages import new_password

CLIENT_ID = "carnet-record-page"
SCOPES = "patient/Patient.ru"
FIELDS = ("ins", "birth_date", "username", "channel", "otp_address")


def _life() -> RecordLife:
    return current_app.extensions["carnet"].lifecycle


def _policy() -> LoginPolicy:
    return LoginPolicy.from_settings(current_app.extensions["carnet"].auth.settings)


def _form() -> dict:
    """What the person typed, shown again after a refusal (never the code or passwords)."""
    return {name: request.form.get(name, "") for name in FIELDS}


def _message(status: int, title: str, text: str, error: bool = False, **links):
    return login.render_page(
        "record_message.html", status, title=title, text=text, error=error, **links
    )


def _verified() -> PatientRecord:
    return opt_out.verify(
        request.form.get("ins", ""),
        request.form.get("birth_date", ""),
        request.form.get("code", ""),
        request.remote_addr,
        _life().clock,
        _policy(),
    )


# -- the notice's answers ---------------------------------------------------------------------
ANSWERS = {
    "oppose": (
        "Vous opposer à l'ouverture de votre dossier",
        "Votre dossier ne sera pas ouvert et rien n'y sera conservé. Vous pourrez revenir sur "
        "votre décision plus tard.",
        "Je m'oppose à l'ouverture de mon dossier",
    ),
    "withdraw": (
        "Revenir sur votre opposition",
        "Votre dossier s'ouvre ; vous pourrez ensuite l'activer avec le même code.",
        "Ouvrir mon dossier",
    ),
}


def _answer_page(kind: str, status: int = 200, message: str | None = None):
    title, explanation, button = ANSWERS[kind]
    action = url_for(f".record_{kind}_submit")
    return login.render_page(
        "record_answer.html",
        status,
        title=title,
        explanation=explanation,
        button=button,
        action=action,
        form=_form(),
        message=message,
    )


def record_index():
    return login.render_page("record_index.html")


def record_oppose():
    return _answer_page("oppose")


def record_oppose_submit():
    try:
        _life().oppose(_verified())
    except AnswerRefused as refused:
        return _answer_page("oppose", refused.status, refused.message)
    return _message(
        200,
        "Opposition enregistrée",
        "Votre opposition est enregistrée : votre dossier ne sera pas ouvert et rien n'y est "
        "conservé. Vous pouvez revenir sur cette décision à tout moment.",
    )


def record_withdraw():
    return _answer_page("withdraw")


def record_withdraw_submit():
    try:
        _life().withdraw(_verified())
    except AnswerRefused as refused:
        return _answer_page("withdraw", refused.status, refused.message)
    return _message(
        200,
        "Votre dossier est ouvert",
        "Votre opposition est levée et votre dossier est ouvert.",
        next_url=url_for(".record_activate"),
        next_label="Activer mon dossier avec mon code",
    )


def record_new_code():
    return login.render_page("record_new_code.html", form=_form())


def record_new_code_submit():
    try:
        _life().new_code(
            request.form.get("ins", ""),
            request.form.get("birth_date", ""),
            request.remote_addr,
            _policy(),
        )
    except AnswerRefused as refused:
        return login.render_page(
            "record_new_code.html", refused.status, form=_form(), message=refused.message
        )
    return _message(
        200,
        "Demande reçue",
        "Si ces informations correspondent à un dossier en attente, un nouveau code vient "
        "d'être envoyé par le moyen indiqué dans notre premier courrier (un seul par jour).",
    )


def _activate_page(status: int = 200, message: str | None = None):
    return login.render_page(
        "record_activate.html",
        status,
        form=_form(),
        message=message,
        min_length=MIN_PASSWORD_LENGTH,
    )


def record_activate():
    return _activate_page()


def record_activate_submit():
    form = request.form
    password = new_password()
    if password is None:
        return _activate_page(
            400,
            f"Le mot de passe doit compter au moins {MIN_PASSWORD_LENGTH} caractères et être "
            "saisi deux fois à l'identique.",
        )
    card = "".join(form.get("card", "").split())
    if not (card.isascii() and card.isalnum() and 8 <= len(card) <= 20):
        return _activate_page(
            400, "Le numéro de série de la carte Vitale compte de 8 à 20 chiffres ou lettres."
        )
    if form.get("channel") not in ("email", "sms"):
        return _activate_page(400, "Choisissez de recevoir vos codes par courriel ou par SMS.")
    try:
        username = _life().activate(
            _verified(),
            form.get("username", ""),
            password,
            form["channel"],
            form.get("otp_address", ""),
            card,
        )
    except AnswerRefused as refused:
        return _activate_page(refused.status, refused.message)
    return _message(
        200,
        "Votre dossier est activé",
        f"Votre compte « {username} » est créé. Connectez-vous : un code vous sera envoyé à "
        "chaque connexion.",
        next_url=url_for(".login"),
        next_label="Me connecter",
    )


# -- the signed-in patient's record -----------------------------------------------------------
def _signed_in():
    """(account, context), or the answer to give instead: the sign-in page, or a refusal."""
    account = login.signed_in_account()
    if account is None:
        session["next"] = url_for(".record_mine")
        return None, redirect(url_for(".login"))
    if not account.fhir_user.startswith("Patient/"):
        return None, _message(
            403, "Page réservée", "Cette page est réservée aux patients.", error=True
        )
    ctx = AccessContext(
        actor_kind="patient",
        actor_ref=account.fhir_user,
        patient=account.fhir_user,
        scopes=ScopeSet.parse(SCOPES),
        client_id=CLIENT_ID,
    )
    return (account, ctx), None


def _status_of(account: Account) -> PatientRecord | None:
    return PatientRecord.objects(patient=account.fhir_user).first()


def record_mine():
    signed_in, answer = _signed_in()
    if signed_in is None:
        return answer
    account, _ = signed_in
    record = _status_of(account)
    status = record.status if record else "open"
    until = (
        aware(record.archive_until).strftime("%d/%m/%Y") if record and record.archive_until else ""
    )
    years = _life().periods.archive_years
    return login.render_page(
        "record_mine.html",
        record_status=status,
        archive_until=until,
        archive_years=years,
        notices=record_notices.preferences(account.fhir_user),
        channel=account.otp_channel,
    )


def record_mine_notices():
    """The kinds of notice the patient receives: each checked box on, each other off."""
    signed_in, answer = _signed_in()
    if signed_in is None:
        return answer
    account, ctx = signed_in
    whose = current_app.extensions["carnet"].store.policy.notice_chooser(ctx, account.fhir_user)
    record_notices.choose(
        whose, {kind: request.form.get(kind) == "on" for kind in record_notices.KINDS}
    )
    return _message(
        200,
        "Vos choix sont enregistrés",
        "Nous vous préviendrons désormais selon les choix que vous venez de faire.",
        back=url_for(".record_mine"),
    )


def _operation(run, done_title: str, done_text: str):
    signed_in, answer = _signed_in()
    if signed_in is None:
        return answer
    account, ctx = signed_in
    try:
        run(ctx, account.fhir_user.removeprefix("Patient/"))
    except FhirError as error:
        return _message(
            error.status,
            "Action impossible",
            f"Cette action n'a pas pu être faite : {error.diagnostics}",
            error=True,
            back=url_for(".record_mine"),
        )
    return _message(200, done_title, done_text, back=url_for(".record_mine"))


def record_mine_close():
    return _operation(
        lambda ctx, id: _life().close(ctx, id, "archive"),
        "Dossier fermé",
        "Votre dossier est fermé et archivé. Vous pouvez le rouvrir pendant la durée d'archivage.",
    )


def record_mine_reopen():
    return _operation(
        _life().reopen,
        "Dossier rouvert",
        "Votre dossier est rouvert, tel qu'il était à sa fermeture.",
    )


def record_mine_erase():
    if request.form.get("confirm") != "yes":
        return _message(
            400,
            "Confirmation manquante",
            "Cochez la case pour confirmer que l'effacement est définitif.",
            error=True,
            back=url_for(".record_mine"),
        )
    answer = _operation(
        _life().erase,
        "Dossier effacé",
        "Votre dossier et votre compte sont effacés. Seuls le fait et la date de l'effacement "
        "sont conservés.",
    )
    return answer


def add_routes(blueprint: Blueprint) -> None:
    """Add the record's pages to the sign-in pages' blueprint (before it is first registered)."""
    rules = (
        ("/record", record_index, "GET"),
        ("/record/oppose", record_oppose, "GET"),
        ("/record/oppose", record_oppose_submit, "POST"),
        ("/record/withdraw", record_withdraw, "GET"),
        ("/record/withdraw", record_withdraw_submit, "POST"),
        ("/record/new-code", record_new_code, "GET"),
        ("/record/new-code", record_new_code_submit, "POST"),
        ("/record/activate", record_activate, "GET"),
        ("/record/activate", record_activate_submit, "POST"),
        ("/record/mine", record_mine, "GET"),
        ("/record/mine/close", record_mine_close, "POST"),
        ("/record/mine/reopen", record_mine_reopen, "POST"),
        ("/record/mine/erase", record_mine_erase, "POST"),
        ("/record/mine/notices", record_mine_notices, "POST"),
    )
    for rule, view, method in rules:
        blueprint.add_url_rule(rule, view_func=view, methods=[method])
