"""Identity values reduced to forms that survive scripts, transliterations and typing.

The same survivor is written "Мария Коваленко", "Mariia Kovalenko" and "Maria Kowalenko" by
three agencies. Everything here maps such spellings closer together before any comparison:
``unidecode`` romanises every script, and a *skeleton* folds the spelling choices that
romanisation systems make differently (w/v, ph/f, kh/h, doubled letters, y/j/i glides).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from metaphone import doublemetaphone
from unidecode import unidecode

from tiphub.linkage.thai import romanise_thai

_NOT_LETTER = re.compile(r"[^a-z ]+")
_SPACES = re.compile(r"\s+")
_DOUBLED = re.compile(r"(.)\1+")

# Applied in order; each folds a pair of spellings that transliteration systems disagree on.
_SKELETON_RULES: tuple[tuple[str, str], ...] = (
    # Щ, Ш, Ч, Ж, Ц as Polish, German, English-style and ISO 9 (after unidecode) write them.
    ("szcz", "sc"),
    ("shch", "sc"),
    ("tsch", "c"),
    ("sch", "s"),
    ("sz", "s"),
    ("sh", "s"),
    ("tch", "c"),
    ("cz", "c"),
    ("ch", "c"),
    ("dzh", "j"),
    ("zh", "z"),
    ("kh", "h"),
    ("ph", "f"),
    ("th", "t"),
    ("ck", "k"),
    ("q", "k"),
    ("x", "ks"),
    # Thai final ว written -o (RTGS) or -w; long vowels written doubled in informal spellings.
    ("aew", "aeo"),
    ("oo", "u"),
    ("ou", "u"),
    ("ee", "i"),
    ("w", "v"),
    ("iy", "i"),
    ("yi", "i"),
    ("ij", "i"),
    ("ii", "i"),
    ("y", "i"),
    # j is the y-glide in Polish, German, Romanian and ISO 9 (Jurij, Yurii).
    ("j", "i"),
    ("c", "k"),
)


_THAI = re.compile(r"[\u0e00-\u0e7f]")


@lru_cache(maxsize=200_000)
def normalise_name(text: str | None) -> str | None:
    """Lower-case ASCII letters and single spaces; ``None`` for missing or letter-less text."""
    if text is None:
        return None
    text = unicodedata.normalize("NFC", text)
    # unidecode reads Thai letter by letter ("สมศักดิ์" as "smskdi'"), never as "Somsak".
    if _THAI.search(text):
        text = romanise_thai(text)
    ascii_text = unidecode(text).lower()
    # Apostrophes (soft signs, Arabic hamza) vanish rather than split a name in two.
    ascii_text = ascii_text.replace("'", "").replace("`", "")
    letters = _SPACES.sub(" ", _NOT_LETTER.sub(" ", ascii_text)).strip()
    return letters or None


@lru_cache(maxsize=200_000)
def skeleton(name: str | None) -> str | None:
    """A spelling-invariant key of a normalised name: Kowalenko and Kovalenko agree."""
    if not name:
        return None
    key = name.replace(" ", "")
    for before, after in _SKELETON_RULES:
        key = key.replace(before, after)
    key = _DOUBLED.sub(r"\1", key)
    return key or None


@lru_cache(maxsize=200_000)
def phonetic(name: str | None) -> str | None:
    """Double metaphone primary code of the skeleton of each token, joined by spaces."""
    if not name:
        return None
    codes = []
    for token in name.split():
        code = doublemetaphone(skeleton(token) or token)[0]
        if code:
            codes.append(code)
    return " ".join(codes) or None


def split_full_name(full_name: str | None) -> tuple[str | None, str | None]:
    """(given, family) from a normalised full name: first token and the rest."""
    if not full_name:
        return None, None
    tokens = full_name.split()
    if len(tokens) == 1:
        return tokens[0], None
    return tokens[0], " ".join(tokens[1:])


_DATE = re.compile(r"^(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?$")


def parse_partial_date(text: str | None) -> tuple[int | None, int | None, int | None] | None:
    """(year, month, day) from ISO ``1998``, ``1998-07`` or ``1998-07-03``; ``None`` if invalid.

    Returns ``(None, None, None)`` for a missing value.
    """
    if text is None or not text.strip():
        return None, None, None
    match = _DATE.match(text.strip())
    if match is None:
        return None
    year = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    if not 1850 <= year <= 2100:
        return None
    if month is not None and not 1 <= month <= 12:
        return None
    if day is not None and not 1 <= day <= 31:
        return None
    return year, month, day


def is_date_shaped(text: str) -> bool:
    """Whether ``text`` is written as an ISO date, possible or not (``2086-21-01`` is)."""
    return _DATE.match(text.strip()) is not None


# Birth years outside this range are typing slips (2086 for 1986), not dates of birth.
_FIRST_BIRTH_YEAR = 1900
_LAST_BIRTH_YEAR = 2030


def parse_lenient_date(text: str | None) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) of a date as typed, keeping what is possible of an impossible one.

    A typed month above 12 with a day of 12 or less is read as day and month swapped (the
    commonest slip); otherwise each impossible part is missing, so ``1986-21-40`` still
    agrees with ``1986-12-01`` on its year. Text not shaped as a date gives all missing.
    """
    if text is None:
        return None, None, None
    match = _DATE.match(text.strip())
    if match is None:
        return None, None, None
    year: int | None = int(match.group(1))
    month = int(match.group(2)) if match.group(2) else None
    day = int(match.group(3)) if match.group(3) else None
    if month is not None and month > 12 and day is not None and 1 <= day <= 12:
        month, day = day, month
    if year is not None and not _FIRST_BIRTH_YEAR <= year <= _LAST_BIRTH_YEAR:
        year = None
    if month is not None and not 1 <= month <= 12:
        month = None
    if day is not None and not 1 <= day <= 31:
        day = None
    return year, month, day


def is_possible_date(text: str | None) -> bool:
    """Whether a present, date-shaped value is a possible date of birth as written."""
    if text is None or not text.strip():
        return True
    parsed = parse_partial_date(text)
    return (
        parsed is not None
        and parsed[0] is not None
        and _FIRST_BIRTH_YEAR <= parsed[0] <= _LAST_BIRTH_YEAR
    )


def normalise_identifier(text: str | None) -> str | None:
    """Upper-case letters and digits only: 'ab 12-345' and 'AB12345' agree."""
    if text is None:
        return None
    cleaned = re.sub(r"[^A-Z0-9]", "", unidecode(text).upper())
    return cleaned or None
