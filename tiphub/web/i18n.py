"""Languages of the web interface: gettext catalogues read straight from ``.po`` files.

Adding a language is adding ``locales/<code>/LC_MESSAGES/tiphub.po``: there is no compile
step, so a translator's file works as soon as the server restarts. English is the source
language and needs no catalogue to work.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from decimal import Decimal
from functools import cache, lru_cache
from importlib import resources

from babel.core import Locale, UnknownLocaleError
from babel.dates import format_date as babel_format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations

DOMAIN = "tiphub"
DEFAULT_LOCALE = "en"

# A header longer than this is not a browser's: ignore the rest instead of parsing it all.
MAX_ACCEPT_LANGUAGE_CHARS = 1_000
_LANGUAGE_RANGE = re.compile(r"^[A-Za-z]{1,8}(?:[-_][A-Za-z0-9]{1,8})*$|^\*$")


def _locales_folder() -> resources.abc.Traversable:
    return resources.files("tiphub.web").joinpath("locales")


def _catalogue_file(locale: str) -> resources.abc.Traversable:
    return _locales_folder().joinpath(locale, "LC_MESSAGES", f"{DOMAIN}.po")


@cache
def available_locales() -> tuple[str, ...]:
    """Every locale with a catalogue, English first, then in alphabetical order."""
    found = {DEFAULT_LOCALE}
    folder = _locales_folder()
    if folder.is_dir():
        for entry in folder.iterdir():
            if entry.is_dir() and _catalogue_file(entry.name).is_file():
                found.add(entry.name)
    return (DEFAULT_LOCALE, *sorted(found - {DEFAULT_LOCALE}))


def _normalise_tag(tag: str) -> str:
    return tag.strip().replace("-", "_").casefold()


def _match(tag: str) -> str | None:
    """The available locale for a language tag: exact (``pt-BR``), else its language (``pt``)."""
    wanted = _normalise_tag(tag)
    by_key = {_normalise_tag(locale): locale for locale in available_locales()}
    if wanted in by_key:
        return by_key[wanted]
    language = wanted.split("_", 1)[0]
    if language in by_key:
        return by_key[language]
    for key, locale in by_key.items():
        if key.split("_", 1)[0] == language:
            return locale
    return None


def _preferences(accept_language: str) -> list[str]:
    """Language ranges of an Accept-Language header, most wanted first (RFC 9110 q-values)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language[:MAX_ACCEPT_LANGUAGE_CHARS].split(",")):
        tag, _, parameters = part.partition(";")
        tag = tag.strip()
        if not _LANGUAGE_RANGE.match(tag):
            continue
        quality = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.partition("=")
            if name.strip().casefold() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if 0.0 < quality <= 1.0:
            weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


# Pages ask for every request; browsers send a handful of distinct headers.
@lru_cache(maxsize=1024)
def negotiate(accept_language: str | None, chosen: str | None = None) -> str:
    """The locale to use: the user's explicit choice (cookie) if we have it, else the browser's."""
    if chosen:
        match = _match(chosen)
        if match is not None:
            return match
    for tag in _preferences(accept_language or ""):
        if tag == "*":
            return DEFAULT_LOCALE
        match = _match(tag)
        if match is not None:
            return match
    return DEFAULT_LOCALE


def _require_available(locale: str) -> None:
    if locale not in available_locales():
        raise ValueError(f"no catalogue for locale {locale!r}; use negotiate() to pick one")


@cache
def translations(locale: str) -> Translations:
    """The compiled catalogue of an available locale (English without a file: identity)."""
    _require_available(locale)
    source = _catalogue_file(locale)
    if not source.is_file():
        return Translations(domain=DOMAIN)
    with source.open("rb") as handle:
        catalogue = read_po(handle, locale=locale, domain=DOMAIN)
    compiled = io.BytesIO()
    # Fuzzy entries are a translator's unchecked guesses: show English rather than a wrong text.
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return Translations(fp=compiled, domain=DOMAIN)


def gettext(locale: str, message: str) -> str:
    return str(translations(locale).gettext(message))


@cache
def locale_name(locale: str) -> str:
    """The language's own name for itself (``français``), for the language switcher."""
    try:
        name = Locale.parse(locale).get_display_name(locale)
    except (ValueError, UnknownLocaleError):
        return locale
    return name[:1].upper() + name[1:] if name else locale


def format_number(value: int | float | Decimal | None, locale: str) -> str:
    if value is None:
        return ""
    return str(format_decimal(value, locale=locale))


def _as_date(value: dt.date | str) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


def format_date(value: dt.date | str | None, locale: str, format: str = "medium") -> str:
    """A date in the locale's words; ISO strings (as in case documents) are accepted too."""
    if value is None or value == "":
        return ""
    date = _as_date(value)
    if date is None:
        return str(value)
    return _formatted_date(date, locale, format)


@lru_cache(maxsize=8192)
def _formatted_date(date: dt.date, locale: str, format: str) -> str:
    # Babel parses the locale and the pattern at every call; a case page shows dozens of
    # dates, most of them the same few.
    return str(babel_format_date(date, format=format, locale=locale))
