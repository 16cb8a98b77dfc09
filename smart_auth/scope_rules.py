"""Which scopes a client may be granted: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

`user/` scopes only for labelled professional software (and never for a patient's own login);
`system/` scopes only through Backend Services (client_credentials); Backend Services only
`system/` scopes. Refusals are OAuth `invalid_scope` errors saying why.
"""

from authlib.oauth2.rfc6749 import InvalidScopeError

from carnet_core.scopes import InvalidScope, ScopeSet

REFRESH_SCOPES = ("offline_access", "online_access")


def parse(scope: str | None) -> ScopeSet:
    try:
        return ScopeSet.parse(scope or "")
    except InvalidScope as exc:
        raise InvalidScopeError(description=str(exc)) from exc


def check_user_scopes(scopes: ScopeSet, client) -> None:
    if any(s.context == "user" for s in scopes.resources) and not client.labelled:
        raise InvalidScopeError(
            description=f"user/ scopes are reserved to labelled professional software; "
            f"client '{client.client_id}' is not registered as labelled"
        )


def check_interactive(scope: str | None, client) -> ScopeSet:
    """An authorization request's scopes (authorization code flow)."""
    scopes = parse(scope)
    check_user_scopes(scopes, client)
    if any(s.context == "system" for s in scopes.resources):
        raise InvalidScopeError(
            description="system/ scopes are only granted to backend services (client_credentials)"
        )
    return scopes


def check_for_person(scopes: ScopeSet, actor: str) -> None:
    """Once the person is known: a patient's app gets patient/ scopes, not user/."""
    if actor == "patient" and any(s.context == "user" for s in scopes.resources):
        raise InvalidScopeError(
            description="A patient's login grants patient/ scopes, not user/ scopes"
        )


def check_backend(scope: str | None, client) -> ScopeSet:
    """A Backend Services token request: system/ scopes only, at least one."""
    scopes = parse(scope)
    if (
        not scopes.raw
        or any(s.context != "system" for s in scopes.resources)
        or len(scopes.resources) != len(scopes.raw)
    ):
        raise InvalidScopeError(
            description="Backend services request system/ scopes only (e.g. system/*.rs)"
        )
    return scopes
