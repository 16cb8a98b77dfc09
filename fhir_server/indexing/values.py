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

import math
import unicodedata


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
