"""The server's clock for the record's life (opt-out windows, archive periods): one settable `now()`.

Deadlines counted in weeks and years (CSP R1111-28, R1111-36) are read from this clock, never from
the system time directly, so that tests move it forward instead of sleeping
(docs/domain.md#the-record-and-its-status).
"""

from datetime import UTC, datetime, timedelta


class Clock:
    """Now in UTC: the system's time, unless `set` fixed it (then `advance` moves it)."""

    def __init__(self, fixed: datetime | None = None):
        self._fixed = fixed

    def now(self) -> datetime:
        return self._fixed if self._fixed is not None else datetime.now(UTC)

    def set(self, moment: datetime) -> None:
        self._fixed = moment if moment.tzinfo else moment.replace(tzinfo=UTC)

    def advance(self, **delta: float) -> None:
        """Move a fixed clock forward (`days=42`, `hours=1`); fixes a running one first."""
        self._fixed = self.now() + timedelta(**delta)


def aware(moment: datetime | None) -> datetime | None:
    """A stored datetime as UTC (some stores give naive datetimes back)."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


def years_after(moment: datetime, years: int) -> datetime:
    """The same day and time `years` later (29 February: 28 February when that year has none)."""
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:
        return moment.replace(year=moment.year + years, day=28)
