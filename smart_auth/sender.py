"""Messages to people (one-time codes, alerts), through a pluggable sender.

The local sender appends each message as one JSON line to the file named by FHIR_SERVER_OUTBOX,
so tests and demos can read what a person would have received. A deployment plugs in its e-mail
and SMS gateways by giving `AuthServices` another object with the same `send` method.
"""

import json
import threading
from datetime import UTC, datetime
from typing import Protocol


class Sender(Protocol):
    def send(self, channel: str, address: str, subject: str, body: str, **data) -> None: ...


class OutboxSender:
    def __init__(self, path: str):
        self.path = path
        self._lock = threading.Lock()

    def send(self, channel: str, address: str, subject: str, body: str, **data) -> None:
        record = {
            "at": datetime.now(UTC).isoformat(),
            "channel": channel,
            "to": address,
            "subject": subject,
            "body": body,
            **data,
        }
        with self._lock, open(self.path, "a", encoding="utf-8") as out:
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
