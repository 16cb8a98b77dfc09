"""The revocation list of access tokens (RFC 7009), as every FHIR request checks it: cached.

https://www.rfc-editor.org/rfc/rfc7009#section-2.2 - a revoked token must stop working. Looking
the token's `jti` up in the store on every request costs a query per request, so each answer is
kept in the process:
- "revoked" for as long as the token lives (a revocation is never undone);
- "not revoked" for at most `staleness` seconds (FHIR_SERVER_REVOCATION_STALENESS): a token
  another worker revoked keeps working here for that long at most, then is looked up again.
A revocation this process writes (here or through `record`) takes effect in it at once: it forgets
every "not revoked" answer. At most `capacity` answers are kept, the oldest dropped first.
"""

import threading
import time
from collections.abc import Callable
from datetime import datetime

from smart_auth.models import RevokedToken

CAPACITY = 50_000

# How many revocations this process wrote: a "not revoked" answer older than the last one is
# looked up again, so that a token revoked here is refused here at once, whichever object wrote it.
_written = 0
_written_lock = threading.Lock()


def record(jti: str, expires_at: datetime) -> None:
    """Put an access token on the revocation list (kept until it would have expired anyway)."""
    global _written
    RevokedToken.objects(jti=jti).upsert_one(set__expires_at=expires_at)
    with _written_lock:
        _written += 1


class RevocationList:
    """`is_revoked(jti, exp)` answered from the process's cache within bounded staleness."""

    def __init__(
        self,
        staleness: float,
        clock: Callable[[], float] = time.monotonic,
        capacity: int = CAPACITY,
    ):
        self.staleness = staleness
        self.clock = clock
        self.capacity = capacity
        self._lock = threading.Lock()
        # jti -> (revoked, when it was looked up by `clock`, the revocations written by then)
        self._answers: dict[str, tuple[bool, float, int]] = {}

    def is_revoked(self, jti: str, fresh: bool = False) -> bool:
        """Is the token `jti` on the list? `fresh`: looked up in the store, whatever is cached."""
        now, written = self.clock(), _written
        with self._lock:
            known = self._answers.get(jti)
        if known is not None and not fresh:
            revoked, checked, seen = known
            if revoked or (now - checked < self.staleness and seen == written):
                return revoked
        revoked = RevokedToken.objects(jti=jti).only("jti").first() is not None
        self._remember(jti, (revoked, now, written))
        return revoked

    def _remember(self, jti: str, answer: tuple[bool, float, int]) -> None:
        with self._lock:
            self._answers.pop(jti, None)
            self._answers[jti] = answer
            while len(self._answers) > self.capacity:
                del self._answers[next(iter(self._answers))]
