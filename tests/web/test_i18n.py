"""Every text of the web interface is translated, and the language choice follows the user."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from tiphub.web import forms
from tiphub.web.i18n import (
    available_locales,
    format_date,
    format_number,
    negotiate,
    translations,
)
from tiphub.web.templating import render

WEB = Path(forms.__file__).resolve().parent


def extracted_message_ids() -> set[str]:
    with (WEB / "babel.cfg").open(encoding="utf-8") as config:
        method_map, options_map = parse_mapping_cfg(config)  # type: ignore[no-untyped-call]
    ids: set[str] = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(WEB), method_map, options_map
    ):
        ids.update([message] if isinstance(message, str) else [m for m in message if m])
    return ids


def test_extraction_finds_the_template_and_form_texts() -> None:
    ids = extracted_message_ids()
    assert "Quick exit" in ids
    assert "Demonstration – synthetic data only. Do not enter real cases." in ids
    assert forms.MESSAGES["date"] in ids


@pytest.mark.parametrize("message_id", sorted(extracted_message_ids() | forms.message_ids()))
def test_every_message_has_a_french_translation(message_id: str) -> None:
    french = translations("fr").gettext(message_id)
    assert french.strip(), message_id
    assert french != message_id or message_id in {"Organisation", "Services", "Note", "Pages"}


def test_placeholders_survive_translation() -> None:
    catalogue = translations("fr")
    for message_id in extracted_message_ids():
        if "%(" in message_id:
            french = catalogue.gettext(message_id)
            assert sorted(_placeholders(french)) == sorted(_placeholders(message_id))


def _placeholders(text: str) -> list[str]:
    return [part.split(")", 1)[0] for part in text.split("%(")[1:]]


def test_locales_are_discovered_from_the_folder() -> None:
    assert available_locales()[0] == "en"
    assert "fr" in available_locales()


@pytest.mark.parametrize(
    ("header", "chosen", "expected"),
    [
        ("fr-CA,fr;q=0.9,en;q=0.5", None, "fr"),
        ("de", None, "en"),
        ("de-DE,de;q=0.9,fr;q=0.4", None, "fr"),
        ("en;q=0.2,fr;q=0.8", None, "fr"),
        ("fr;q=0", None, "en"),
        (None, None, "en"),
        ("", None, "en"),
        ("fr-CA,fr;q=0.9", "en", "en"),
        ("en", "fr", "fr"),
        ("en", "xx-not-a-locale", "en"),
        ("garbage;;;,,,q=abc", None, "en"),
        ("x" * 10_000, None, "en"),
    ],
)
def test_negotiate(header: str | None, chosen: str | None, expected: str) -> None:
    assert negotiate(header, chosen) == expected


def test_unknown_locale_is_refused() -> None:
    with pytest.raises(ValueError):
        translations("xx")


def test_french_quick_exit_label() -> None:
    english = render("en", "base.html")
    french = render("fr", "base.html")
    assert "Sortie rapide" in french
    assert "Quick exit" in english
    assert "Quick exit" not in french


def test_number_and_date_formats_follow_the_locale() -> None:
    import datetime as dt

    assert format_number(1234567, "en") == "1,234,567"
    assert format_number(1234567, "fr").replace("\u202f", " ").replace("\xa0", " ") == ("1 234 567")
    assert format_date(dt.date(2024, 3, 31), "fr") == "31 mars 2024"
    assert format_date("2024-03-31", "en") == "Mar 31, 2024"
    assert format_date(None, "en") == ""
    assert format_date("not a date", "en") == "not a date"
