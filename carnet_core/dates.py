"""FHIR dates as the ranges they cover: https://hl7.org/fhir/R4/datatypes.html#dateTime

A date, dateTime or instant names a period as long as its precision (a year, a month, a day, a
second...): `date_range` gives it as `[lo, hi)` in UTC. Search compares these ranges
(https://hl7.org/fhir/R4/search.html#date) and the consent policy reads Consent periods with them.
"""

import calendar
import re
from datetime import UTC, datetime, timedelta, timezone

MIN_DATE = datetime(1, 1, 1, tzinfo=UTC)
MAX_DATE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

_DATE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2})(:(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # an offset pushing year 1 or 9999 out of range
        return MIN_DATE if moment.year == 1 else MAX_DATE


def later(moment: datetime, step: timedelta) -> datetime:
    """`moment + step` in UTC, MAX_DATE when that lies after year 9999."""
    try:
        return _utc(moment + step)
    except OverflowError:
        return MAX_DATE


def earlier(moment: datetime, step: timedelta) -> datetime:
    """`moment - step`, MIN_DATE when that lies before year 1."""
    try:
        return moment - step
    except OverflowError:
        return MIN_DATE


def date_range(text: str) -> tuple[datetime, datetime]:
    """[lo, hi) covered by a FHIR date, dateTime or instant, partial dates included.

    A dateTime without a time zone is taken as UTC (the server's choice, said in the README).
    """
    m = _DATE.match(text.strip())
    if not m:
        raise ValueError(f"'{text}' is not a FHIR date/dateTime")
    year = int(m["y"])
    month = int(m["m"]) if m["m"] else None
    day = int(m["d"]) if m["d"] else None
    tz = UTC
    if m["tz"] and m["tz"] != "Z":
        sign = 1 if m["tz"][0] == "+" else -1
        hours, minutes = int(m["tz"][1:3]), int(m["tz"][4:6])
        tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
    if month is None:
        lo = datetime(year, 1, 1, tzinfo=tz)
        return _utc(lo), later(lo, timedelta(days=366 if calendar.isleap(year) else 365))
    if day is None:
        lo = datetime(year, month, 1, tzinfo=tz)
        return _utc(lo), later(lo, timedelta(days=calendar.monthrange(year, month)[1]))
    if m["H"] is None:
        lo = datetime(year, month, day, tzinfo=tz)
        return _utc(lo), later(lo, timedelta(days=1))
    hour, minute = int(m["H"]), int(m["M"] or 0)
    lo = datetime(year, month, day, hour, minute, tzinfo=tz)
    if m["M"] is None:
        return _utc(lo), later(lo, timedelta(hours=1))
    if m["S"] is None:
        return _utc(lo), later(lo, timedelta(minutes=1))
    lo = lo.replace(second=int(m["S"]))
    if m["f"]:
        digits = m["f"][1:]
        lo = lo.replace(microsecond=int((digits + "000000")[:6]))
        step = timedelta(microseconds=10 ** max(0, 6 - len(digits)))
        return _utc(lo), later(lo, step)
    return _utc(lo), later(lo, timedelta(seconds=1))
