"""GET /auth/care-team: the signed-in patient's care team; POST .../<id>/withdraw takes one out.

The page beside the consent and apps pages: its routes join smart_auth.login's blueprint (same
sign-in session, CSRF check and security headers), added by the composition root (carnet.app).
What it shows and does is consent.care_team's, run as the patient (or the legal representative)
with a context of their own, so the access policy decides as for their apps; a representative's
withdrawal is audited as their other accesses are (consent.audit).
"""

from flask import Blueprint, current_app, flash, redirect, session, url_for

from carnet_core.context import AccessContext
from carnet_core.scopes import ScopeSet
from consent.care_team import CareTeam
from smart_auth import login
from smart_auth.models import Account

CLIENT_ID = "carnet-care-team-page"
SCOPES = "patient/Consent.rus patient/Practitioner.rs patient/Organization.rs"


def _context(account: Account) -> AccessContext | None:
    """The patient's side acting on their record, or None for anyone else (a professional)."""
    if account.fhir_user.startswith("Patient/"):
        patient = account.fhir_user
    elif account.fhir_user.startswith("RelatedPerson/") and account.represents:
        patient = account.represents
    else:
        return None
    return AccessContext(
        actor_kind="patient",
        actor_ref=account.fhir_user,
        patient=patient,
        scopes=ScopeSet.parse(SCOPES),
        client_id=CLIENT_ID,
    )


def _care_team() -> CareTeam:
    carnet = current_app.extensions["carnet"]
    return CareTeam(carnet.store, carnet.interactions)


def _signed_in_patient():
    """(account, context), or the answer to give instead: the sign-in page, or a refusal."""
    account = login.signed_in_account()
    if account is None:
        session["next"] = url_for(".care_team")
        return None, redirect(url_for(".login"))
    ctx = _context(account)
    if ctx is None:
        return None, login.error_page(403, "Not available", "This page is for patients.")
    return (account, ctx), None


def care_team():
    signed_in, answer = _signed_in_patient()
    if signed_in is None:
        return answer
    account, ctx = signed_in
    return login.render_page("care_team.html", members=_care_team().members(ctx), account=account)


def withdraw(consent_id: str):
    signed_in, answer = _signed_in_patient()
    if signed_in is None:
        return answer
    _, ctx = signed_in
    if _care_team().withdraw(ctx, consent_id):
        current_app.extensions["carnet"].audit.record(ctx, "update", 200)
        flash("Done: this access to your record is withdrawn.")
    else:
        flash("This access had already been withdrawn.")
    return redirect(url_for(".care_team"))


def add_routes(blueprint: Blueprint) -> None:
    """Add the page's two routes to the sign-in pages' blueprint (before it is first registered)."""
    blueprint.add_url_rule("/care-team", view_func=care_team, methods=["GET"])
    blueprint.add_url_rule("/care-team/<consent_id>/withdraw", view_func=withdraw, methods=["POST"])
