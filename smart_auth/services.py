"""The authorization side's services, built once per process by the app factory.

Their records (smart_auth.models) are bound to the database by the composition root (carnet.app).
"""

from dataclasses import dataclass, field

from smart_auth.keys import KeyRing
from smart_auth.revocation import RevocationList
from smart_auth.sender import OutboxSender, Sender
from smart_auth.tokens import TokenService


@dataclass
class AuthServices:
    settings: object
    keys: KeyRing
    tokens: TokenService
    sender: Sender
    extra: dict = field(default_factory=dict)

    @classmethod
    def build(cls, settings, sender: Sender | None = None) -> "AuthServices":
        keys = KeyRing(settings.token_lifetime)
        tokens = TokenService(
            keys,
            settings.public_root,
            settings.base_url,
            settings.token_lifetime,
            RevocationList(settings.revocation_staleness),
        )
        return cls(settings, keys, tokens, sender or OutboxSender(settings.outbox))
