"""The server's own secret when the operator sets none: made once, then read by every process."""

import secrets

import mongoengine as me

from smart_auth.models import ServerSecret


def server_secret(name: str = "server") -> str:
    """The stored secret called `name`, made on first use.

    Two workers starting together may both try to make it: the store's unique key lets one win,
    and the other reads the winner's value, so every process ends with the same secret.
    """
    found = ServerSecret.objects(name=name).first()
    if found is not None:
        return found.value
    try:
        ServerSecret(name=name, value=secrets.token_hex(32)).save(force_insert=True)
    except me.NotUniqueError:
        pass
    return ServerSecret.objects.get(name=name).value
