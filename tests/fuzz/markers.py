"""Identity markers: synthetic values planted in the seeds that tiphub must never print.

They are unlike any real name, date or number that tiphub could produce by itself, so that
finding one in stdout, stderr or a report means a value travelled from the input into a
message.
"""

from __future__ import annotations

import re

FIRST_NAMES = ("Zyxmarta", "Vrundelia", "Oxqualine")
FAMILY_NAMES = ("Qwoplenko", "Brazzdovic", "Jixtapolu")
BIRTH_DATES = ("1971-03-17", "1964-11-29", "1958-07-08")
PHONES = ("+40 799 123 456", "+44 7911 987 654", "+66 81 357 9135")
IDENTIFIERS = ("QXZ7719004", "VRW5531872")
EMAILS = ("zyxmarta.qwoplenko@example.invalid",)
# What an XXE entity would pull in if the XML parser resolved it.
XXE_SECRET = "Kwyjibraxx-external-entity"

ALL_VALUES: tuple[str, ...] = (
    *FIRST_NAMES,
    *FAMILY_NAMES,
    *BIRTH_DATES,
    *PHONES,
    *IDENTIFIERS,
    *EMAILS,
)


def _needles() -> dict[str, str]:
    """Lower-cased search strings → the kind of marker they reveal.

    Dates and phones are also searched in the shapes Python gives them when a parsed value
    leaks: ``datetime.date(1971, 3, 17)`` and digits without spaces.
    """
    needles: dict[str, str] = {}
    for name in FIRST_NAMES:
        needles[name.lower()] = "first name"
    for name in FAMILY_NAMES:
        needles[name.lower()] = "family name"
    for date in BIRTH_DATES:
        year, month, day = (int(part) for part in date.split("-"))
        needles[date] = "birth date"
        needles[f"{year}, {month}, {day}"] = "birth date"
        needles[f"{day:02d}/{month:02d}/{year}"] = "birth date"
    for phone in PHONES:
        needles[phone.lower()] = "phone"
        needles[re.sub(r"\D", "", phone)] = "phone"
    for identifier in IDENTIFIERS:
        needles[identifier.lower()] = "identifier"
    needles[XXE_SECRET.lower()] = "external entity"
    return needles


NEEDLES = _needles()
_PATTERN = re.compile(
    "|".join(re.escape(needle) for needle in sorted(NEEDLES, key=len, reverse=True)), re.IGNORECASE
)


def find_marker(text: str) -> str | None:
    """The kind of the first marker found in ``text`` (case-insensitive), or None."""
    match = _PATTERN.search(text)
    return NEEDLES[match.group(0).lower()] if match else None


def scrub(text: str) -> str:
    """``text`` with every marker replaced, so that failure lines never repeat them."""
    return _PATTERN.sub("<marker>", text)
