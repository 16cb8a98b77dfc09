"""GET /auth/care-team: the signed-in patient's care team; POST .../<id>/withdraw takes one out.

The page beside the consent and apps pages (smart_auth.login: same sign-in session, CSRF token
and security headers). What it shows and does is consent.care_team's, run as the patient (or the
legal representative) with a context of their own, so the access policy decides as for their apps;
a representative's withdrawal is audited as their other accesses are (consent.audit).
"""

from flask import current_app, flash, redirect, session, url_for

from consent.care_team import CareTeam
from smart_auth import login
from smart_auth.context import AccessContext
from smart_auth.models import Account
from smart_auth.scopes import ScopeSet

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
    account = login._signed_in()
    if account is None:
        session["next"] = url_for(".care_team")
        return None, redirect(url_for(".login"))
    ctx = _context(account)
    if ctx is None:
        return None, login._error(403, "Not available", "This page is for patients.")
    return (account, ctx), None


@login.bp.get("/care-team")
def care_team():
    signed_in, answer = _signed_in_patient()
    if signed_in is None:
        return answer
    account, ctx = signed_in
    return login._page("care_team.html", members=_care_team().members(ctx), account=account)


@login.bp.post("/care-team/<consent_id>/withdraw")
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
