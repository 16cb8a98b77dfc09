"""Search value encodings shared by extraction (write time) and compilation (query time).

https://hl7.org/fhir/R4/search.html#ptypes - every value a query can match is computed when the
resource is written and stored beside it, so a search is one indexed MongoDB query:
- `tk`: token and uri keys, `code=value`, `code=system|value`, `code=|value`, `code=system|`,
  `code:of-type=typesystem|typecode|value`; each part has its `\\` and `|` escaped (`part`)
- `tt`: token display text, normalised (`:text`)
- `st`: strings, normalised (lowercase, accents removed), `se`: strings exactly as written
- `rf`: references `code=Type/id` (a version `/_history/n` dropped) or the absolute URL as
  written, `code:identifier=system|value`
- `dt`: date ranges `{p, lo, hi}` (hi exclusive), `nq`: numbers and quantities `{p, v, s, c}`
- `has`: the codes of the parameters that have at least one value (`:missing`)
- `so`: one sortable value per parameter (`_sort`)
"""

import calendar
import math
import re
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

MIN_DATE = datetime(1, 1, 1, tzinfo=UTC)
MAX_DATE = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)

_DATE = re.compile(
    r"^(?P<y>\d{4})(-(?P<m>\d{2})(-(?P<d>\d{2})"
    r"(T(?P<H>\d{2})(:(?P<M>\d{2})(:(?P<S>\d{2})(?P<f>\.\d+)?)?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)


def normalize(text: str) -> str:
    """Case- and accent-insensitive form used for string search."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


def key(code: str, value: str) -> str:
    return f"{code}={value}"


def part(text: str) -> str:
    """One system/code/value inside a `|`-joined key, its own `\\` and `|` escaped."""
    return text.replace("\\", "\\\\").replace("|", "\\|")


def joined(*parts: str) -> str:
    """`system|code` (or more parts) with each part escaped: `a|b` never collides with a|b."""
    return "|".join(part(p) for p in parts)


def _utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # an offset pushing year 1 or 9999 out of range
        return MIN_DATE if moment.year == 1 else MAX_DATE


def _later(moment: datetime, step: timedelta) -> datetime:
    """`moment + step` in UTC, MAX_DATE when that lies after year 9999."""
    try:
        return _utc(moment + step)
    except OverflowError:
        return MAX_DATE


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
        return _utc(lo), _later(lo, timedelta(days=366 if calendar.isleap(year) else 365))
    if day is None:
        lo = datetime(year, month, 1, tzinfo=tz)
        return _utc(lo), _later(lo, timedelta(days=calendar.monthrange(year, month)[1]))
    if m["H"] is None:
        lo = datetime(year, month, day, tzinfo=tz)
        return _utc(lo), _later(lo, timedelta(days=1))
    hour, minute = int(m["H"]), int(m["M"] or 0)
    lo = datetime(year, month, day, hour, minute, tzinfo=tz)
    if m["M"] is None:
        return _utc(lo), _later(lo, timedelta(hours=1))
    if m["S"] is None:
        return _utc(lo), _later(lo, timedelta(minutes=1))
    lo = lo.replace(second=int(m["S"]))
    if m["f"]:
        digits = m["f"][1:]
        lo = lo.replace(microsecond=int((digits + "000000")[:6]))
        step = timedelta(microseconds=10 ** max(0, 6 - len(digits)))
        return _utc(lo), _later(lo, step)
    return _utc(lo), _later(lo, timedelta(seconds=1))


def number_range(text: str) -> tuple[float, float, float]:
    """(value, lo, hi): the implicit precision range of a search number (search.html#number)."""
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"'{text}' is not a finite number")
    if "e" in text.lower():
        mantissa, exponent = text.lower().split("e")
        decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
        try:
            half = 0.5 * 10.0 ** (int(exponent) - decimals)
        except OverflowError as exc:
            raise ValueError(f"'{text}' is out of range") from exc
    else:
        decimals = len(text.split(".")[1]) if "." in text else 0
        half = 0.5 * 10 ** (-decimals)
    return value, value - half, value + half
