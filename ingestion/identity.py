"""The patient of a push, identified by INS: checked, resolved to a record, the record opened if new.

https://esante.gouv.fr/identite-nationale-de-sante - a professional names the patient by their INS
(a conditional reference `Patient?identifier=<INS system>|<matricule>`, or a reference carrying
the INS as its `identifier`); the matricule's key is checked; the record is found by an
index-served identifier search as the server's own context; an unknown INS opens the record
(opt-out, CSP R1111-28: a Patient with the INS and what the push says of the person) unless the
person opposed it; an opposed or closed record refuses the push (ingestion.records).
"""

import copy
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from carnet_core.context import operator_context
from carnet_core.errors import Conflict, InvalidResource, PreconditionFailed, RecordRefused
from fhir_server.interactions import Interactions
from fhir_server.store.repository import new_id
from fhir_server.store.unit_of_work import UnitOfWork
from ingestion import records
from ingestion.ins import IDENTIFIER_SYSTEMS, InvalidIns, check_identifier, ins_identifier

# FR Core: the INS is used only for a qualified identity (docs/domain.md#identity-status).
RELIABILITY = "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability"
QUALIFIED = "QUAL"
# What a push may say of the person when it opens their record: identity traits only. Never
# generalPractitioner (it would name the attending doctor, who reads everything) nor the sender's
# own identifiers (its IPP is not part of the national record).
PATIENT_ELEMENTS = ("extension", "name", "gender", "birthDate", "address")


Ins = tuple[str, str]  # (system, normalised matricule)


@dataclass
class Named:
    """The references of a Bundle naming one person by INS, and where the first one is."""

    where: str
    nodes: list[dict] = field(default_factory=list)


def _conditional_ins(reference: object) -> bool:
    if not isinstance(reference, str) or not reference.startswith("Patient?"):
        return False
    return ins_identifier({"reference": reference}) is not None


def patient_references(node, where: str) -> Iterator[tuple[str, dict]]:
    """(expression, Reference) of every reference naming a patient by INS, contained ones aside."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            yield from patient_references(item, f"{where}[{i}]")
        return
    if not isinstance(node, dict):
        return
    reference = node.get("reference")
    identifier = node.get("identifier")
    if _conditional_ins(reference) or (
        reference is None
        and isinstance(identifier, dict)
        and identifier.get("system") in IDENTIFIER_SYSTEMS
        and node.get("type", "Patient") == "Patient"
    ):
        yield where, node
        return
    for key, value in node.items():
        if key != "contained":
            yield from patient_references(value, f"{where}.{key}")


def ins_of(reference: dict, where: str) -> Ins | None:
    """The checked INS a Reference names (None if none); 422 with the reason when it is wrong."""
    found = ins_identifier(reference)
    if found is None:
        return None
    system, value = found
    conditional = ins_identifier({"reference": reference.get("reference")})
    try:
        value = check_identifier(system, value)
        if conditional and check_identifier(*conditional) != value:
            raise InvalidIns("its identifier and its conditional reference name different INS")
    except InvalidIns as error:
        raise InvalidResource(
            f"{where}: the INS {system}|{value} is invalid: {error}",
            expression=[where],
        ) from error
    return system, value


def collect(entries: list) -> dict[Ins, Named]:
    """Every person the Bundle's entries name by INS, each INS checked (422 before any write)."""
    named: dict[Ins, Named] = {}
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        for where, node in patient_references(resource, f"Bundle.entry[{index}].resource"):
            ins = ins_of(node, where)
            if ins is not None:
                named.setdefault(ins, Named(where)).nodes.append(node)
    return named


def check_qualified(person: dict | None, where: str) -> None:
    """422 when what the sender says of the person marks the identity as not qualified."""
    for extension in _list((person or {}).get("extension")):
        if not isinstance(extension, dict) or extension.get("url") != RELIABILITY:
            continue
        for part in _list(extension.get("extension")):
            coding = part.get("valueCoding") if isinstance(part, dict) else None
            if isinstance(coding, dict) and part.get("url") == "identityStatus":
                if coding.get("code") != QUALIFIED:
                    raise InvalidResource(
                        f"{where}: the INS is used only for a qualified identity (identityStatus "
                        f"{QUALIFIED}); the sender's identity status is {coding.get('code')!r}",
                        expression=[where],
                    )


class Identity:
    """Resolves the people a push names to their records, opening new ones."""

    def __init__(self, interactions: Interactions, secret: str | None):
        self.interactions = interactions
        self.secret = secret

    def patient_id(self, ins: Ins) -> str:
        """The id of a record's new Patient: a keyed hash of the INS when the server has a secret.

        Two first pushes for one person racing each other then write the same Patient (the store's
        unique id refuses the second with 409 if neither sees the other's yet), never two records
        for one INS; keyed, so the id does not give the NIR away (the NIR space is small enough
        to hash exhaustively).
        """
        if not self.secret:
            return new_id()
        digest = hmac.new(self.secret.encode(), "|".join(ins).encode(), hashlib.sha256).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"

    def find(self, ins: Ins) -> str | None:
        """`Patient/<id>` of the record holding this INS, or None; 409 if several do."""
        query = urlencode({"identifier": "|".join(ins)})
        try:
            found = self.interactions.conditional_match(
                operator_context("ingestion"), "Patient", query, "INS lookup"
            )
        except PreconditionFailed as error:
            raise Conflict(
                f"Several records carry the INS {ins[1]}; they must be merged by the operator "
                "before anything is deposited"
            ) from error
        return f"Patient/{found['_id']}" if found else None

    def resolve(self, ins: Ins, person: dict | None, uow: UnitOfWork, where: str) -> str:
        """`Patient/<id>` of this INS's record, opened (in `uow`) when new; 409 if refused."""
        status = records.status_of(*ins)
        if status == "opposed":
            raise RecordRefused(
                f"{where}: the person (INS {ins[1]}) opposed the creation of their record; "
                "nothing is deposited",
                expression=[where],
            )
        if status in records.REFUSED:
            raise RecordRefused(
                f"{where}: the record of INS {ins[1]} is {status}; nothing is deposited",
                expression=[where],
            )
        found = self.find(ins)
        if found:
            return found
        id = self.patient_id(ins)
        self.interactions.update(
            operator_context("ingestion"), "Patient", id, new_patient(ins, person, id), uow=uow
        )
        reference = f"Patient/{id}"
        uow.after_commit.append(lambda: records.opened(*ins, reference))
        return reference

    def resolve_all(
        self, named: dict[Ins, Named], people: dict[Ins, dict], uow: UnitOfWork
    ) -> dict[Ins, str]:
        """Resolve every person, then point their references at their records (in place)."""
        resolved = {}
        for ins, references in named.items():
            resolved[ins] = reference = self.resolve(ins, people.get(ins), uow, references.where)
            for node in references.nodes:
                node["reference"] = reference
                node.setdefault("identifier", {"system": ins[0], "value": ins[1]})
        return resolved


def _list(value) -> list:
    return value if isinstance(value, list) else []


def new_patient(ins: Ins, person: dict | None, id: str) -> dict:
    """The Patient that opens a record: the INS and the identity traits the sender gave."""
    system, value = ins
    given = [
        copy.deepcopy(i)
        for i in _list((person or {}).get("identifier"))
        if isinstance(i, dict) and i.get("system") == system and i.get("value") == value
    ]
    patient = {"resourceType": "Patient", "id": id}
    patient["identifier"] = given[:1] or [{"use": "official", "system": system, "value": value}]
    for element in PATIENT_ELEMENTS:
        if element in (person or {}):
            patient[element] = copy.deepcopy(person[element])
    return patient
