"""Typed errors carrying HTTP status and FHIR issue code: https://hl7.org/fhir/R4/operationoutcome.html

Raised anywhere; rendered to an OperationOutcome in exactly one place (carnet_core.outcome).
"""

from dataclasses import dataclass, field


@dataclass
class Issue:
    """One OperationOutcome.issue: severity, code (IssueType), diagnostics, expression."""

    code: str
    diagnostics: str
    severity: str = "error"
    expression: list[str] = field(default_factory=list)


class FhirError(Exception):
    """An error answered with `status` and an OperationOutcome of one or more issues."""

    status = 400
    code = "invalid"

    def __init__(
        self,
        diagnostics: str,
        *,
        expression: list[str] | str | None = None,
        status: int | None = None,
        code: str | None = None,
        issues: list[Issue] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(diagnostics)
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if isinstance(expression, str):
            expression = [expression]
        self.issues = issues or [Issue(self.code, diagnostics, expression=expression or [])]
        self.headers = headers or {}

    @property
    def diagnostics(self) -> str:
        return self.issues[0].diagnostics


class BadRequest(FhirError):
    status, code = 400, "invalid"


class InvalidResource(FhirError):
    """The resource fails validation against FHIR R4 or a profile (422 Unprocessable Entity)."""

    status, code = 422, "invalid"


class NotFound(FhirError):
    status, code = 404, "not-found"


class Gone(FhirError):
    status, code = 410, "deleted"


class MethodNotAllowed(FhirError):
    status, code = 405, "not-supported"


class Conflict(FhirError):
    status, code = 409, "conflict"


class RecordRefused(Conflict):
    """A write into a record the person opposed or closed (409: the record's state forbids it)."""

    code = "business-rule"


class PreconditionFailed(FhirError):
    status, code = 412, "conflict"


class TooCostly(FhirError):
    """A search the server will not run as asked: it would scan or match too much (400)."""

    status, code = 400, "too-costly"


class TooLarge(TooCostly):
    status, code = 413, "too-costly"


class UnsupportedMediaType(FhirError):
    status, code = 415, "not-supported"


class NotAcceptable(FhirError):
    status, code = 406, "not-supported"


class Unauthorized(FhirError):
    status, code = 401, "login"


class Forbidden(FhirError):
    status, code = 403, "forbidden"


class NotSupported(FhirError):
    status, code = 400, "not-supported"


class UriTooLong(FhirError):
    status, code = 414, "too-long"


class HeaderTooLarge(FhirError):
    """A request header field larger than the server reads (RFC 6585, section 5)."""

    status, code = 431, "too-long"
