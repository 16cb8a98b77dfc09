"""The body mass index, derived by the server: https://hl7.org/fhir/R4/observation-vitalsigns.html

When a body height (LOINC 8302-2) or weight (29463-7) Observation of a patient is written or
deleted, the record's one BMI Observation (39156-5, kg/m², `derivedFrom` the two it comes from) is
made, updated or removed in the same unit of work, from the latest height and the latest weight
by effective date that every reader of the record reads: one masked from professionals or kept
from the patient (consent.acl.HIDING_LABELS) is left out, so that neither `derivedFrom` nor the
value shows it to someone who may not read it. It is written as the server's own `profile`
context: nobody but the server changes it, and a BMI sent by a client as if measured is refused
(422).
"""

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from carnet_core.context import AccessContext, operator_context
from carnet_core.dates import MIN_DATE, date_range
from carnet_core.errors import Issue
from consent.acl import read_by_all_of_record
from fhir_server.profile.codes import BMI, HEIGHT, LOINC, UCUM, VITAL_SIGNS, WEIGHT, vital_sign
from fhir_server.profile.records import RecordReader
from fhir_server.profile.units import UnknownUnit, is_ucum, standard_value
from fhir_server.store.repository import Store, Stored, new_id
from fhir_server.store.unit_of_work import UnitOfWork

_NOT_MEASURED = ("entered-in-error", "cancelled")
_NAMES = {HEIGHT: "body height", WEIGHT: "body weight"}


def check(resource: dict) -> list[Issue]:
    """The profile check of a client's Observation: no BMI; a height or weight in UCUM is in a
    unit of its dimension, above zero (one in no UCUM unit is kept, but no BMI is made of it)."""
    sign = vital_sign(resource)
    if sign == BMI:
        return [
            Issue(
                "business-rule",
                "The body mass index (LOINC 39156-5) is computed by the server from the latest "
                "height and weight; it is not accepted from a client",
                expression=["Observation.code"],
            )
        ]
    if sign in (HEIGHT, WEIGHT) and is_ucum(resource.get("valueQuantity")):
        try:
            standard_value(resource["valueQuantity"], sign)
        except UnknownUnit as exc:
            return [
                Issue(
                    "value",
                    f"A {_NAMES[sign]} cannot be read: {exc}",
                    expression=["Observation.valueQuantity"],
                )
            ]
    return []


def _effective(resource: dict) -> datetime:
    period = resource.get("effectivePeriod") or {}
    for text in (
        resource.get("effectiveDateTime"),
        resource.get("effectiveInstant"),
        period.get("end"),
        period.get("start"),
    ):
        if isinstance(text, str):
            try:
                return date_range(text)[0]
            except ValueError:
                continue
    return MIN_DATE


class BodyMassIndex:
    """Keeps each record's BMI Observation current (a follow-up of fhir_server.interactions)."""

    def __init__(self, store: Store, reader: RecordReader):
        self.store = store
        self.reader = reader
        self.ctx = operator_context("profile")

    def follow(self, ctx: AccessContext, stored: Stored, uow: UnitOfWork) -> None:
        """After an Observation was written or deleted: its record's BMI, made current."""
        pk = stored.doc.get("pk", "")
        if stored.resource_type != "Observation" or not pk.startswith("Patient/"):
            return
        if stored.resource is not None and vital_sign(stored.resource) not in (HEIGHT, WEIGHT):
            return
        latest = {sign: self._latest(pk, sign, uow) for sign in (HEIGHT, WEIGHT)}
        current = [
            s.resource
            for s in self.reader.find(
                self.ctx, "Observation", pk, [("code", f"{LOINC}|{BMI}")], uow
            )
        ]
        if latest[HEIGHT] is None or latest[WEIGHT] is None:
            for stale in current:
                self.store.delete(self.ctx, "Observation", stale["id"], uow=uow)
            return
        bmi = _bmi(pk, latest[HEIGHT], latest[WEIGHT])
        if current:
            bmi["id"] = current[0]["id"]
            self.store.write(self.ctx, bmi, method="PUT", uow=uow)
            for extra in current[1:]:
                self.store.delete(self.ctx, "Observation", extra["id"], uow=uow)
        else:
            bmi["id"] = new_id()
            self.store.write(self.ctx, bmi, method="POST", must_be_new=True, uow=uow)

    def _latest(self, pk: str, sign: str, uow: UnitOfWork) -> dict | None:
        found = self.reader.find(self.ctx, "Observation", pk, [("code", f"{LOINC}|{sign}")], uow)
        measured = [
            s.resource
            for s in found
            if read_by_all_of_record(s.doc.get("acl", {}))
            and s.resource.get("status") not in _NOT_MEASURED
            and _convertible(s.resource, sign)
        ]
        # The latest by effective date; of two at the same date, the last one written.
        measured.sort(key=lambda r: (_effective(r), r["meta"]["lastUpdated"]))
        return measured[-1] if measured else None


def _convertible(resource: dict, sign: str) -> bool:
    try:
        standard_value(resource.get("valueQuantity"), sign)
    except UnknownUnit:
        return False
    return True


def _bmi(pk: str, height: dict, weight: dict) -> dict:
    metres = standard_value(height["valueQuantity"], HEIGHT)
    kilograms = standard_value(weight["valueQuantity"], WEIGHT)
    value = (kilograms / (metres * metres)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    later = max((height, weight), key=lambda r: (_effective(r), r["meta"]["lastUpdated"]))
    bmi = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [VITAL_SIGNS]}],
        "code": {
            "coding": [{"system": LOINC, "code": BMI, "display": "Body mass index (BMI) [Ratio]"}],
            "text": "BMI",
        },
        "subject": {"reference": pk},
        "valueQuantity": {"value": value, "unit": "kg/m2", "system": UCUM, "code": "kg/m2"},
        "derivedFrom": [
            {"reference": f"Observation/{height['id']}"},
            {"reference": f"Observation/{weight['id']}"},
        ],
    }
    for key in ("effectiveDateTime", "effectiveInstant", "effectivePeriod"):
        if key in later:
            bmi[key] = later[key]
            break
    return bmi
