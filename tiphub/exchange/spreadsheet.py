"""Spreadsheet safety: cells that a spreadsheet program would run as formulas.

CSV cells starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return get a leading
apostrophe (OWASP's advice against CSV injection), except plain numbers such as ``-99``.
XLSX cells are written with the string type, so they are never formulas.
"""

from __future__ import annotations

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def is_dangerous(value: str) -> bool:
    return bool(value) and value.startswith(FORMULA_PREFIXES) and not _is_number(value)


def neutralise(value: str) -> str:
    # Values already starting with apostrophes before a formula character get one more, so
    # that ``restore`` gives back exactly what was exported.
    return "'" + value if is_dangerous(value.lstrip("'")) else value


def restore(value: str) -> str:
    """Undo ``neutralise`` when tiphub reads its own CSV exports back."""
    if value.startswith("'") and is_dangerous(value.lstrip("'")):
        return value[1:]
    return value
