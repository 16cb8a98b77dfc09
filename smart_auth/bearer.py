"""Turning a request's credentials into an AccessContext.

Issue #3 replaces this with bearer-token validation (signed JWTs, SMART scopes). Until then every
request runs as the development operator: the server must not be exposed beyond loopback.
"""

from smart_auth.context import AccessContext, operator_context


def context_from_headers(headers) -> AccessContext:
    return operator_context("development")
