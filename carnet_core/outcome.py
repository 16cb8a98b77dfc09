"""OperationOutcome rendering, the one place errors become FHIR: https://hl7.org/fhir/R4/operationoutcome.html"""

from carnet_core.errors import FhirError, Issue


def issue_json(issue: Issue) -> dict:
    out = {"severity": issue.severity, "code": issue.code, "diagnostics": issue.diagnostics}
    if issue.expression:
        out["expression"] = list(issue.expression)
    return out


def operation_outcome(issues: list[Issue]) -> dict:
    return {"resourceType": "OperationOutcome", "issue": [issue_json(i) for i in issues]}


def from_error(error: FhirError) -> dict:
    return operation_outcome(error.issues)


def information(diagnostics: str, code: str = "informational") -> dict:
    return operation_outcome([Issue(code, diagnostics, severity="information")])
