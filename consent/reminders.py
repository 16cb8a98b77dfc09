"""The two-week notice for documents kept from the patient (CSP R1111-53).

The rule: docs/domain.md#kept-from-the-patient.

A document deposited INVISIBLE_PATIENT becomes visible on its own one month after deposit; after
two weeks without the consultation that announces it, the patient is told that a document awaits
them (never what it is). Run by the operator's scheduler: `fhir-server notify-pending`.
"""

from datetime import UTC, datetime

import mongoengine as me

from carnet_core.context import operator_context
from consent import codes
from consent.notify import address_of
from smart_auth.models import ALIAS
from smart_auth.sender import Sender

REMINDER_CONTEXT = operator_context("consent-reminders")


class PendingNotice(me.Document):
    document = me.StringField(required=True, unique=True)  # DocumentReference id
    at = me.DateTimeField(default=lambda: datetime.now(UTC))
    meta = {"db_alias": ALIAS, "collection": "consent_pending_notices"}


def notify_pending(store, sender: Sender, moment: datetime | None = None) -> list[str]:
    """Tell each patient once about documents kept from them for two weeks; returns their ids."""
    moment = moment or datetime.now(UTC)
    # visible_from = deposit + one month, so "two weeks after deposit" is visible_from - 16 days.
    due = moment + (codes.INVISIBLE_PATIENT_DELAY - codes.INVISIBLE_PATIENT_NOTICE)
    docs = store.find(
        REMINDER_CONTEXT,
        "DocumentReference",
        {
            "acl.labels": codes.INVISIBLE_LABEL,
            "acl.visible_from": {"$lte": due, "$gt": moment},
        },
        projection={"pk": 1, "acl": 1},
    )
    notified = []
    for doc in docs:
        try:
            PendingNotice(document=doc["_id"]).save()
        except me.NotUniqueError:
            continue
        address = address_of(doc["pk"])
        if address is not None:
            channel, to = address
            sender.send(
                channel,
                to,
                "A document awaits you in your health record",
                "A professional has added a document to your record that they will go through "
                "with you at your next consultation. It will be shown to you on "
                f"{doc['acl']['visible_from']:%Y-%m-%d} at the latest.",
                kind="document-pending",
                patient=doc["pk"],
            )
        notified.append(doc["_id"])
    return notified
