"""Jinja2 environments, one per locale, with translations and babel formatting installed."""

from __future__ import annotations

import datetime as dt
import hashlib
from functools import cache
from importlib import resources
from typing import Any

import jinja2

from tiphub.web.i18n import (
    available_locales,
    format_date,
    format_number,
    gettext,
    locale_name,
    translations,
)

STATIC_PREFIX = "/static/"
NEUTRAL_EXIT_URL = "https://www.wikipedia.org/"


@cache
def _asset_version(path: str) -> str:
    # A content hash in the URL lets the app cache static files for long on slow links.
    data = resources.files("tiphub.web").joinpath("static", path).read_bytes()
    return hashlib.sha256(data).hexdigest()[:12]


def static_url(path: str) -> str:
    try:
        return f"{STATIC_PREFIX}{path}?v={_asset_version(path)}"
    except FileNotFoundError:
        return f"{STATIC_PREFIX}{path}"


def form_value(value: Any) -> str:
    """A value as an input's ``value`` attribute: dates in ISO, booleans as yes/no."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def form_values(value: Any) -> list[str]:
    """A multi-select's chosen codes, whether given as a list or as one string."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [form_value(item) for item in value]


@cache
def templates(locale: str) -> jinja2.Environment:
    """The environment for one locale (raises ValueError for a locale without catalogue)."""
    catalogue = translations(locale)
    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("tiphub.web", "templates"),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        # The templates ship with the package: no stat() of each file at every render.
        auto_reload=False,
    )
    # Whitespace in {% trans %} blocks is collapsed, as in the extraction (babel.cfg).
    environment.policies["ext.i18n.trimmed"] = True
    environment.install_gettext_translations(catalogue, newstyle=True)  # type: ignore[attr-defined]

    def number(value: int | float | None) -> str:
        return format_number(value, locale)

    def date(value: dt.date | str | None, format: str = "medium") -> str:
        return format_date(value, locale, format)

    def translate(message: str | None) -> str:
        # For data-driven texts (field labels, code labels): plain str, so autoescape applies.
        return gettext(locale, message) if message else ""

    environment.filters.update(
        number=number,
        date=date,
        translate=translate,
        form_value=form_value,
        form_values=form_values,
    )
    environment.globals.update(
        locale=locale,
        locales=[(code, locale_name(code)) for code in available_locales()],
        static_url=static_url,
        neutral_exit_url=NEUTRAL_EXIT_URL,
    )
    return environment


def render(locale: str, name: str, **context: Any) -> str:
    return templates(locale).get_template(name).render(**context)
