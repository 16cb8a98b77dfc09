"""Telling the patient (and their attending doctor) about accesses they should know of.

CSP R1111-48: after an emergency access (break-glass, centre_15) the patient and the attending
doctor are informed electronically; L1111-19: the patient is alerted on access by a professional,
and when professional software declares its user in their care team (consent.care_team).
Messages go through smart_auth's Sender to the address of the person's account; each emergency
token is announced once per record (EmergencyNotice), however many requests it makes, and each
declaration once (CareTeamNotice). A message names who, never a document.
"""

from datetime import UTC, datetime

import mongoengine as me

from carnet_core.context import AccessContext
from consent import codes
from consent.facts import RecordFacts
from smart_auth.models import ALIAS, Account
from smart_auth.sender import Sender


class EmergencyNotice(me.Document):
    key = me.StringField(required=True, unique=True)  # token id + record
    at = me.DateTimeField(default=lambda: datetime.now(UTC))
    meta = {"db_alias": ALIAS, "collection": "consent_emergency_notices"}


class CareTeamNotice(me.Document):
    consent = me.StringField(required=True, unique=True)  # the declaring Consent's id
    at = me.DateTimeField(default=lambda: datetime.now(UTC))
    meta = {"db_alias": ALIAS, "collection": "consent_care_team_notices"}


def address_of(fhir_user: str) -> tuple[str, str] | None:
    account = Account.objects(fhir_user=fhir_user).first()
    return (account.otp_channel, account.otp_address) if account else None


class Notifier:
    def __init__(self, sender: Sender, care_team_page: str = "/auth/care-team"):
        self.sender = sender
        self.care_team_page = care_team_page

    def care_team_declared(
        self, ctx: AccessContext, pk: str, actors: list[str], consent_id: str
    ) -> bool:
        """Tell the patient a professional declared themselves in their care team (once)."""
        try:
            CareTeamNotice(consent=consent_id).save()
        except me.NotUniqueError:
            return False
        address = address_of(pk)
        if address is None:
            return False
        who = ", ".join(actors)
        through = f" (recorded by {ctx.actor_ref})" if ctx.actor_ref not in actors else ""
        self.sender.send(
            *address,
            "A professional added themselves to your care team",
            f"{who}{through} recorded that you agreed to their access to your health record. "
            "If you did not agree, or no longer do, withdraw it on your care team page: "
            f"{self.care_team_page}",
            kind="care-team-declared",
            patient=pk,
            consent=f"Consent/{consent_id}",
        )
        return True

    def emergency_access(self, ctx: AccessContext, facts: RecordFacts, event_id: str) -> bool:
        """Announce an emergency access once per token and record; True when announced now."""
        if ctx.purpose_of_use not in codes.EMERGENCY_MODES:
            return False
        try:
            EmergencyNotice(key=f"{ctx.token_id}|{facts.pk}").save()
        except me.NotUniqueError:
            return False
        mode = "break-glass" if ctx.purpose_of_use == codes.BREAK_GLASS else "SAMU (centre 15)"
        reason = f" Reason given: {ctx.purpose_reason}." if ctx.purpose_reason else ""
        for person, text in [(facts.pk, "your record")] + [
            (doctor, f"the record of your patient {facts.pk}") for doctor in sorted(facts.attending)
        ]:
            address = address_of(person)
            if address is None:
                continue
            channel, to = address
            self.sender.send(
                channel,
                to,
                "Emergency access to a health record",
                f"{ctx.actor_ref} accessed {text} in {mode} mode.{reason} "
                f"The access is recorded as AuditEvent/{event_id}.",
                kind="emergency-access",
                patient=facts.pk,
                audit_event=event_id,
            )
        return True
