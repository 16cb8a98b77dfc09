"""The status of a person's record (open, opposed, closed), keyed by INS: CSP R1111-28 and R1111-36.

https://www.legifrance.gouv.fr/codes/texte_lc/LEGITEXT000006072665/ (CSP) - a record is opened for every person
who did not object (opt-out, R1111-28); the person may close it at any time and reopen it
(R1111-36). A push into an opposed or closed record is refused
(docs/domain.md#the-record-and-its-status).
The operator sets a status with `fhir-server record-status`; ingestion.identity reads it for
pushes, and the access policy for every other write and every professional's read
(consent.facts: `refused`).
"""

from functools import reduce

from mongoengine.errors import NotUniqueError
from mongoengine.queryset.visitor import Q

from ingestion.ins import INS_NIR, check_identifier
from ingestion.models import RECORD_STATUSES, PatientRecord, utcnow

# The states in which nothing is written into the record and professionals read nothing of it.
REFUSED = ("opposed", "closed", "erased")


def status_of(system: str, value: str) -> str:
    """The record's status; a person without a PatientRecord never objected: `open`."""
    record = PatientRecord.objects(system=system, value=value).only("status").first()
    return record.status if record else "open"


def refused(identifiers: list[tuple[str, str]] | None) -> dict[tuple[str, str], str]:
    """The (system, value) among `identifiers` (None: all) whose record is opposed or closed."""
    query = Q(status__in=REFUSED)
    if identifiers is not None:
        if not identifiers:
            return {}
        named = [Q(system=system, value=value) for system, value in identifiers]
        query &= reduce(lambda a, b: a | b, named)
    found = PatientRecord.objects(query).only("system", "value", "status")
    return {(record.system, record.value): record.status for record in found}


def find(value: str, system: str = INS_NIR) -> PatientRecord | None:
    return PatientRecord.objects(system=system, value=check_identifier(system, value)).first()


def set_status(value: str, status: str, system: str = INS_NIR) -> PatientRecord:
    """Set the status of the record of INS `value` (checked, InvalidIns if wrong); creates it if need be."""
    if status not in RECORD_STATUSES:
        raise ValueError(f"a record status is one of {', '.join(RECORD_STATUSES)}, not {status!r}")
    value = check_identifier(system, value)
    for _ in range(2):  # a concurrent first write of the same INS: the second try updates it
        record = PatientRecord.objects(system=system, value=value).first()
        if record is None:
            record = PatientRecord(system=system, value=value)
        record.status, record.changed = status, utcnow()
        try:
            return record.save()
        except NotUniqueError:
            continue
    raise RuntimeError(f"could not set the status of the record of {system}|{value}")


def opened(system: str, value: str, patient: str) -> None:
    """Note that ingestion opened the record (its Patient created); a status set meanwhile is kept."""
    PatientRecord.objects(system=system, value=value).update_one(
        upsert=True,
        set__patient=patient,
        set__opened=utcnow(),
        set__changed=utcnow(),
        set_on_insert__status="open",
    )
