"""Warnings that say what a finding means for the figure and what to do about it."""

from __future__ import annotations

import math
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from babel.numbers import get_decimal_symbol, get_group_symbol

from tiphub.estimate.advice_texts import FRAGMENTS, WARNING_TEXTS
from tiphub.estimate.explain_texts import EXISTENCE_NAMES, NBSP

ENGLISH = "en"
# The sign after a percentage: "97%" in English, "97 %" (no-break space) in French.
PERCENT_SIGNS = {"en": "%", "fr": f"{NBSP}%"}


def _frozen(value: Any) -> Any:
    """``value`` made read-only (mappings and sequences) and plain (numpy scalars to Python)."""
    if isinstance(value, Mapping):
        return MappingProxyType({str(key): _frozen(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(item) for item in value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        return value.item()
    return value


def _no_values() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True)
class EstimateWarning:
    """One finding about an estimate: a stable ``code`` for tools, plain words for people.

    ``message`` says what was found and what it means for the figure; ``advice`` the next
    step (merge or omit which lists, collect which overlap, run which command). Both are in
    English. ``values`` are the figures and names the warning was built from; with them, a
    code of :data:`~tiphub.estimate.advice_texts.WARNING_TEXTS` renders in other languages
    (:meth:`message_in`, :meth:`advice_in`). Equality and hashing ignore ``values``.
    """

    code: str
    message: str
    advice: str = ""
    values: Mapping[str, Any] = field(default_factory=_no_values, compare=False, hash=False)

    @classmethod
    def from_values(cls, code: str, values: Mapping[str, Any]) -> EstimateWarning:
        """The warning ``code`` with its English words rendered from ``values``."""
        frozen = _frozen(values)
        message, advice = render_warning(code, ENGLISH, frozen)
        return cls(code, message, advice, frozen)

    def __str__(self) -> str:
        return f"{self.message} {self.advice}".strip()

    def translates_to(self, lang: str) -> bool:
        """Whether the warning has words in ``lang`` built from its own values.

        A warning written by hand (no values, or a code without templates) has only its
        English; so has one whose English no longer matches its template (a guard against
        showing a French sentence that says something else).
        """
        if lang == ENGLISH:
            return True
        texts = WARNING_TEXTS.get(self.code)
        if texts is None or lang not in texts:
            return False
        try:
            english = render_warning(self.code, ENGLISH, self.values)
        except (KeyError, IndexError, TypeError, ValueError):
            return False
        return english == (self.message, self.advice)

    def message_in(self, lang: str) -> str:
        """The message in ``lang``, or in English when it has no words in ``lang``."""
        if lang == ENGLISH or not self.translates_to(lang):
            return self.message
        return render_warning(self.code, lang, self.values)[0]

    def advice_in(self, lang: str) -> str:
        """The advice in ``lang``, or in English when it has no words in ``lang``."""
        if lang == ENGLISH or not self.translates_to(lang):
            return self.advice
        return render_warning(self.code, lang, self.values)[1]

    def text(self, lang: str = ENGLISH) -> str:
        """Message and advice in ``lang`` (English when it has no words in ``lang``)."""
        return f"{self.message_in(lang)} {self.advice_in(lang)}".strip()

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "advice": self.advice}


# ---------------------------------------------------------------------- rendering


def render_warning(code: str, lang: str, values: Mapping[str, Any]) -> tuple[str, str]:
    """(message, advice) of ``code`` in ``lang`` filled with ``values``.

    Raises ``KeyError`` for a code or language without templates, or a value a template
    names but ``values`` lacks.
    """
    message, advice = WARNING_TEXTS[code][lang]
    return render(message, values, lang), render(advice, values, lang)


def render(template: str, values: Mapping[str, Any], lang: str) -> str:
    """``template`` filled with ``values``; the formats are listed in advice_texts."""
    parts = []
    for literal, name, spec, _ in string.Formatter().parse(template):
        parts.append(literal)
        if name is not None:
            parts.append(_field(values[name], spec or "", values, lang))
    return "".join(parts)


def _field(value: Any, spec: str, scope: Mapping[str, Any], lang: str) -> str:
    kind, _, rest = spec.partition(":")
    if kind == "":
        if isinstance(value, float):
            return _localised(str(value), lang)
        return str(value)
    if kind == "n":
        return _number(value, lang)
    if kind in ("f1", "f2"):
        return _localised(f"{value:.{kind[1]}f}", lang)
    if kind in ("p", "p1"):
        digits = 1 if kind == "p1" else 0
        # Python's own rounding, so that the English is the engine's sentence exactly.
        percent = f"{value:.{digits}%}"
        return _localised(percent[:-1], lang) + PERCENT_SIGNS[lang]
    if kind == "c":
        if value is None or not math.isfinite(value):
            return FRAGMENTS["unbounded"][lang]
        return _number(value, lang)
    if kind == "join":
        return rest.join(_number(item, lang) if _is_number(item) else str(item) for item in value)
    if kind == "each":
        name, _, separator = rest.partition(":")
        pieces = []
        for item in value:
            key = f"{name}.{item['kind']}" if "kind" in item else name
            pieces.append(render(FRAGMENTS[key][lang], item, lang))
        return separator.join(pieces)
    if kind == "frag":
        # A value that is a free name (a list called "none") must not pick a variant.
        key = f"{rest}.none" if value is None else f"{rest}.{value}"
        if value is not None and (value == "none" or key not in FRAGMENTS):
            key = rest
        template = FRAGMENTS[key]
        return render(template[lang], scope, lang)
    if kind == "plural":
        one, _, other = rest.partition("|")
        count = len(value) if isinstance(value, Sequence) else int(value)
        # CLDR plural rules: English "one" is 1 only; French "one" is 0 and 1.
        singular = count == 1 if lang == ENGLISH else count in (0, 1)
        return one if singular else other
    if kind == "existence":
        return EXISTENCE_NAMES[int(value)][lang]
    raise ValueError(f"unknown warning format {spec!r}")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _number(value: Any, lang: str) -> str:
    """A whole number with thousands separators, as ``f"{value:,}"``/``f"{value:,.0f}"``."""
    shown = f"{value:,}" if isinstance(value, int) else f"{value:,.0f}"
    return _localised(shown, lang)


def _localised(shown: str, lang: str) -> str:
    """A number Python formatted (``1,234.5``) in the separators of ``lang``."""
    if lang == ENGLISH:
        return shown
    if shown in ("inf", "-inf", "nan"):
        return {"inf": "∞", "-inf": "−∞", "nan": "?"}[shown]
    group, decimal = get_group_symbol(locale=lang), get_decimal_symbol(locale=lang)
    return "".join(group if c == "," else decimal if c == "." else c for c in shown)
