"""The language of the sign-in pages: French first, English when the browser prefers it.

RFC 9110 section 12.5.4 (https://www.rfc-editor.org/rfc/rfc9110#section-12.5.4): the
Accept-Language ranges are read in order of weight; the first that names French or English
decides, and with none (or no header) the pages are in French, the language of the patients they
serve. The pages' words are written once, in English, as keys of the French catalogue
(smart_auth.french); `translate` also finds the sentences that carry a value (a provider's name,
a number of minutes) by the pattern of their English text.
"""

import re
from functools import cache

from smart_auth.french import FRENCH

LANGUAGES = ("fr", "en")
DEFAULT = "fr"
_FIELD = re.compile(r"\{(\w+)\}")


def negotiate(accept_language: str | None) -> str:
    """The page language for an Accept-Language header: `fr` or `en`."""
    ranges = []
    for position, item in enumerate((accept_language or "").split(",")):
        tag, _, params = item.strip().partition(";")
        weight = 1.0
        name, _, value = params.strip().partition("=")
        if name.strip().lower() == "q":
            try:
                weight = float(value)
            except ValueError:
                weight = 0.0
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranges.append((-weight, position, primary))
    return min(ranges)[2] if ranges else DEFAULT


@cache
def _patterns() -> list[tuple[re.Pattern, str]]:
    """The catalogue's sentences with {fields}, as patterns over their English text."""
    found = []
    for english, french in FRENCH.items():
        if _FIELD.search(english):
            parts = _FIELD.split(english)
            regex = "".join(
                f"(?P<{part}>.+?)" if i % 2 else re.escape(part) for i, part in enumerate(parts)
            )
            found.append((re.compile(f"^{regex}$", re.S), french))
    return found


def translate(text: str, language: str, **values) -> str:
    """`text` (English, as the code writes it) in `language`; unknown text is shown as it is."""
    if language == "en" or not text:
        return text.format(**values) if values else text
    if text in FRENCH:
        return FRENCH[text].format(**values) if values else FRENCH[text]
    for pattern, french in _patterns():
        match = pattern.match(text)
        if match:
            return french.format(**match.groupdict())
    return text.format(**values) if values else text
