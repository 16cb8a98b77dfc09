"""The authorization side's services, built once per process by the app factory."""

from dataclasses import dataclass, field

from smart_auth import models
from smart_auth.keys import KeyRing
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
        models.connect(settings.mongodb_uri, settings.mongodb_db, settings.data_dir)
        keys = KeyRing(settings.token_lifetime)
        tokens = TokenService(
            keys, settings.public_root, settings.base_url, settings.token_lifetime
        )
        return cls(settings, keys, tokens, sender or OutboxSender(settings.outbox))
