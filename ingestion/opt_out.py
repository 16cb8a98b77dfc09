"""The opt-out notice and its provisional code: CSP R1111-28 (a record opens after six weeks
without objection from the person informed of it).

https://www.legifrance.gouv.fr/codes/texte_lc/LEGITEXT000006072665/ - `fhir-server lifecycle
notify` writes to each person (through the sender: e-mail, text message or letter) with a
provisional code valid FHIR_SERVER_OPT_OUT_DAYS. With the code, their INS and their birth date the
person opposes, withdraws an opposition, or activates their record (ingestion.lifecycle); the code
is kept only as an argon2 hash (salted). Wrong answers count against the INS and the client
address like a wrong password (smart_auth.accounts), and a new code is sent at most once a day.
"""

import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from carnet_core.clock import Clock, aware
from ingestion.ins import IDENTIFIER_SYSTEMS, INS_NIR, InvalidIns, check_identifier
from ingestion.models import PatientRecord
from smart_auth.accounts import (
    HASHER,
    LoginPolicy,
    is_locked,
    record_failure,
    throttle_keys,
    verify_hash,
)
from smart_auth.sender import Sender

CHANNELS = ("email", "sms", "letter")
# No 0/O, 1/I/L: the code is often typed from a letter.
ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 12
NEW_CODE_INTERVAL = timedelta(days=1)

WRONG = (
    "Le code, le NIR ou la date de naissance ne correspondent pas, ou le code n'est plus valable."
)
LOCKED = "Trop d'essais. Pour votre sécurité, réessayez dans {minutes} minutes."
_DUMMY = HASHER.hash("carnet-no-such-code")
_BIRTH_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


class AnswerRefused(Exception):
    """A person's answer that cannot be taken; `message` (French) is safe to show them."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class Notice:
    """One line of the operator's list: who to write to, and how."""

    ins: str
    birth_date: str
    channel: str
    address: str
    system: str = INS_NIR


def read_notices(lines, system: str = INS_NIR) -> tuple[list[Notice], list[str]]:
    """The notices of `ins,birth_date,channel,address` lines, and the errors of the others.

    Blank lines, `#` comments and a header line starting with `ins` are skipped.
    """
    notices, errors = [], []
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#") or text.lower().startswith("ins,"):
            continue
        parts = [part.strip() for part in text.split(",", 3)]
        try:
            if len(parts) != 4 or not parts[3]:
                raise ValueError("expected ins,birth_date,channel,address")
            ins, born, channel, address = parts
            notice = Notice(
                check_identifier(system, ins),
                birth_date(born),
                channel_of(channel),
                address,
                system,
            )
        except (ValueError, InvalidIns) as error:
            errors.append(f"line {number}: {error}")
            continue
        notices.append(notice)
    return notices, errors


def birth_date(text: str) -> str:
    """A birth date as YYYY-MM-DD (ValueError otherwise)."""
    text = (text or "").strip()
    if not _BIRTH_DATE.match(text):
        raise ValueError(f"the birth date {text!r} is not YYYY-MM-DD")
    date.fromisoformat(text)
    return text


def channel_of(text: str) -> str:
    if text not in CHANNELS:
        raise ValueError(f"the channel {text!r} is not one of {', '.join(CHANNELS)}")
    return text


def new_code() -> str:
    return "-".join(
        "".join(secrets.choice(ALPHABET) for _ in range(4)) for _ in range(CODE_LENGTH // 4)
    )


def normalize_code(code: str) -> str:
    """As typed: any case, with or without dashes and spaces."""
    raw = re.sub(r"[^A-Za-z0-9]", "", code or "").upper()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def issue_code(record: PatientRecord, now: datetime, days: int) -> str:
    """A new provisional code for `record` (the previous one no longer works); returns it."""
    code = new_code()
    record.code_hash = HASHER.hash(code)
    record.code_expires = now + timedelta(days=days)
    record.code_sent = now
    return code


def send_code(sender: Sender, record: PatientRecord, code: str, text: str, links: str) -> None:
    """Write to the person with their code (the outbox keeps `code` for tests and demos)."""
    until = aware(record.code_expires).date().strftime("%d/%m/%Y")
    body = (
        f"{text}\n\nVotre code provisoire : {code} (valable jusqu'au {until}). Il vous sera "
        f"demandé avec votre NIR et votre date de naissance : {links}. Personne de Carnet ne "
        "vous le demandera jamais."
    )
    sender.send(record.channel, record.address, "Votre dossier médical partagé", body, code=code)


def find_record(ins: str) -> PatientRecord | None:
    """The record of a NIR (or NIA) as the person typed it; AnswerRefused if it is not valid."""
    for system in IDENTIFIER_SYSTEMS:
        try:
            value = check_identifier(system, ins)
        except InvalidIns as error:
            raise AnswerRefused(f"Ce NIR n'est pas valide ({error}).") from error
        record = PatientRecord.objects(system=system, value=value).first()
        if record is not None:
            return record
    return None


def verify(
    ins: str, born: str, code: str, address: str | None, clock: Clock, policy: LoginPolicy
) -> PatientRecord:
    """The record these answers name, or AnswerRefused (401, or 429 while locked out)."""
    keys = throttle_keys("ins:" + re.sub(r"\s", "", ins or ""), address)
    if is_locked(keys):
        verify_hash(_DUMMY, code or "")
        raise AnswerRefused(LOCKED.format(minutes=max(1, policy.lockout_seconds // 60)), 429)
    record = find_record(ins)
    usable = (
        record is not None
        and record.code_hash is not None
        and aware(record.code_expires) > clock.now()
        and record.birth_date == (born or "").strip()
    )
    matches = verify_hash(record.code_hash if usable else _DUMMY, normalize_code(code))
    if not (usable and matches):
        record_failure(keys, policy)
        raise AnswerRefused(WRONG, 401)
    return record


def may_send_again(record: PatientRecord, now: datetime) -> bool:
    """At most one new code a day."""
    sent = aware(record.code_sent)
    return sent is None or now - sent >= NEW_CODE_INTERVAL
