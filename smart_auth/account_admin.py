"""POST /auth/admin/accounts: an administrator creates a login account for a Patient or Practitioner.

Behind the administrator credential FHIR_SERVER_ADMIN_TOKEN, sent as an RFC 6750 bearer token
(https://www.rfc-editor.org/rfc/rfc6750#section-3.1): none sent, 401 with WWW-Authenticate; a
wrong one (or no administrator credential configured), 403.

Body: {"username", "password", "fhir_user", "otp_channel": "email"|"sms", "otp_address"}, and
for a Practitioner optionally "external_subject": their national id as the external identity
provider asserts it (smart_auth.external_idp); for a legal representative (fhir_user
"RelatedPerson/<id>") "represents": "Patient/<id>", the minor or protected adult they act for.
"""

import hmac

from flask import Blueprint, current_app, jsonify, request

from smart_auth.accounts import AccountError, AccountExists, create_account

blueprint = Blueprint("carnet_account_admin", __name__, url_prefix="/auth/admin")

REALM = 'Bearer realm="carnet-admin"'


def _refusal():
    """None when the request carries the administrator credential, else the 401/403 answer."""
    expected = current_app.extensions["carnet"].auth.settings.admin_token
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not sent.strip():
        response = jsonify(error="invalid_token", error_description="administrator token required")
        response.headers["WWW-Authenticate"] = REALM
        return response, 401
    if not expected or not hmac.compare_digest(sent.strip().encode(), expected.encode()):
        return jsonify(error="insufficient_scope", error_description="not an administrator"), 403
    return None


@blueprint.post("/accounts")
def create():
    refusal = _refusal()
    if refusal is not None:
        return refusal
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return jsonify(error="invalid_request", error_description="a JSON object is expected"), 400
    try:
        account = create_account(
            str(body.get("username") or ""),
            str(body.get("password") or ""),
            str(body.get("fhir_user") or ""),
            str(body.get("otp_channel") or "email"),
            str(body.get("otp_address") or ""),
            str(body.get("external_subject") or "") or None,
            str(body.get("represents") or "") or None,
        )
    except AccountExists as exc:
        return jsonify(error="conflict", error_description=str(exc)), 409
    except AccountError as exc:
        return jsonify(error="invalid_request", error_description=str(exc)), 400
    created = {
        "username": account.username,
        "fhir_user": account.fhir_user,
        "otp_channel": account.otp_channel,
        "otp_address": account.otp_address,
    }
    if account.external_subject:
        created["external_subject"] = account.external_subject
    if account.represents:
        created["represents"] = account.represents
    response = jsonify(created)
    response.headers["Cache-Control"] = "no-store"
    return response, 201
