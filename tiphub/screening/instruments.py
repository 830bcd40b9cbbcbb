"""Versioned screening instruments: loading, checking answers, scoring and explaining.

An instrument is data, one JSON file per instrument in ``data/instruments/``: its items
(indicators), their grades, and its decision rule, with the rule's thresholds and the way
dimensions combine written as data, so that a revised rule is a data change and stored
answers can be scored again. Translations of item texts live in ``data/catalogues/<lang>.json``
(``"<instrument id>:<indicator id>"`` or ``"<instrument id>:dimension:<dimension id>"`` →
text); a language or text without a translation falls back to English.

Every result is a *screening* result: it prompts a trained person's judgement and, where
positive, a referral; it is never a legal determination or an identification decision.

Rule types (``rule.type``):

``act_means_purpose``
    ``act``, ``means``, ``purpose`` name dimensions; an element is present when any of its
    items is. Positive when act and purpose and (means or ``means_not_needed_when``, a
    condition such as the child rule).
``ilo_ec_dimensions``
    ``dimension_positive_when`` lists alternative minimum counts by grade (a dimension is
    positive when any alternative is met; the grade sets inside one alternative are
    disjoint so that no indicator counts twice); ``positive_when`` combines the dimension
    verdicts with ``all_of``/``any_of`` groups.
``count_at_least``
    Positive when at least ``n`` items are answered yes, whatever their dimension.
``indicators_listed``
    No numeric rule exists (ILO forced labour indicators): the result lists the indicators
    present for a trained person; ``positive`` only says that at least one is present.

Conditions (``positive_when``, ``means_not_needed_when``) are ``{"dimension": id}``,
``{"indicator": id}``, ``{"all_of": [...]}`` or ``{"any_of": [...]}``, the last two with an
optional ``"label"`` used in explanations.
"""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any, TypeAlias

__all__ = [
    "ANSWER_CHOICES",
    "GRADES",
    "RULE_TYPES",
    "AllOf",
    "AnswersError",
    "AnyOf",
    "Condition",
    "CountAtLeast",
    "Dimension",
    "DimensionIs",
    "GradeCount",
    "Indicator",
    "IndicatorIs",
    "Instrument",
    "InstrumentDataError",
    "Rule",
    "ScreeningResult",
    "UnknownInstrumentError",
    "available_languages",
    "catalogue",
    "instrument",
    "instrument_from_dict",
    "instruments",
    "parse_answers",
    "quoted_item",
    "resolved_language",
    "score",
]

GRADES = ("strong", "medium", "weak")
ANSWER_CHOICES = ("yes", "no")
RULE_TYPES = ("act_means_purpose", "ilo_ec_dimensions", "count_at_least", "indicators_listed")
DEFAULT_LANGUAGE = "en"
DEFAULT_ACTION = "consider a referral to the national referral mechanism"

# Ids are quoted in messages and become XLSForm field names: keep them plain.
_INSTRUMENT_ID = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_SLUG = re.compile(r"[a-z][a-z0-9]*(_[a-z0-9]+)*")
_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})*")
# An unknown key of an answers file is quoted only when it looks like an item id: a key could
# be anything a user typed, including a person's name.
_QUOTABLE_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,120}")


class InstrumentDataError(ValueError):
    """An instrument or catalogue file that breaks the format; names the file and the place."""


class UnknownInstrumentError(ValueError):
    """No instrument has this id."""

    def __init__(self, instrument_id: str, known: Sequence[str]) -> None:
        self.instrument_id = instrument_id
        self.known = tuple(known)
        shown = repr(instrument_id) if _QUOTABLE_KEY.fullmatch(instrument_id) else "given"
        super().__init__(f"unknown instrument {shown}; known instruments: {', '.join(known)}")


class AnswersError(ValueError):
    """Answers that cannot be scored: names the source and the item, never the value."""

    def __init__(self, message: str, *, source: str, item: str | None = None) -> None:
        self.source = source
        self.item = item
        self.reason = message
        super().__init__(f"{source}: {message}")


# -- the model ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dimension:
    id: str
    label: str


@dataclass(frozen=True)
class Indicator:
    id: str
    dimension: str
    strength: str | None
    text: str
    verified: bool
    answers: tuple[str, ...] = ANSWER_CHOICES
    note: str | None = None

    @property
    def slug(self) -> str:
        """The id without its dimension."""
        return self.id.split(".", 1)[1]


@dataclass(frozen=True)
class DimensionIs:
    dimension: str


@dataclass(frozen=True)
class IndicatorIs:
    indicator: str


@dataclass(frozen=True)
class AllOf:
    items: tuple[Condition, ...]
    label: str | None = None


@dataclass(frozen=True)
class AnyOf:
    items: tuple[Condition, ...]
    label: str | None = None


@dataclass(frozen=True)
class CountAtLeast:
    """At least ``n`` items of the whole instrument answered yes."""

    n: int


Condition: TypeAlias = DimensionIs | IndicatorIs | AllOf | AnyOf | CountAtLeast


@dataclass(frozen=True)
class GradeCount:
    """At least ``at_least`` present indicators whose grade is one of ``grades``
    (``None``: any item, graded or not)."""

    grades: tuple[str, ...] | None
    at_least: int


# One alternative is a set of minimum counts that must all hold; a threshold is met when
# any of its alternatives is.
Threshold: TypeAlias = tuple[tuple[GradeCount, ...], ...]
ANY_ITEM: Threshold = ((GradeCount(None, 1),),)


@dataclass(frozen=True)
class Rule:
    type: str
    verified: bool
    finding: str
    action: str
    dimension_threshold: Threshold
    positive_when: Condition
    parameters: Mapping[str, Any]
    act: str | None = None
    means: str | None = None
    purpose: str | None = None
    means_not_needed_when: Condition | None = None
    means_not_needed_reason: str | None = None
    means_not_needed_verified: bool = True
    n: int | None = None

    @property
    def no_numeric_rule(self) -> bool:
        return self.type == "indicators_listed"

    def to_dict(self) -> dict[str, Any]:
        return copy.deepcopy(dict(self.parameters))


@dataclass(frozen=True)
class Instrument:
    id: str
    version: str
    name: str
    language: str
    population: str
    source: str
    verified: bool
    dimensions: tuple[Dimension, ...]
    indicators: tuple[Indicator, ...]
    rule: Rule
    notes: str | None = None

    def indicator(self, indicator_id: str) -> Indicator:
        for item in self.indicators:
            if item.id == indicator_id:
                return item
        raise KeyError(f"{self.id} has no item {indicator_id!r}")

    def dimension(self, dimension_id: str) -> Dimension:
        for dimension in self.dimensions:
            if dimension.id == dimension_id:
                return dimension
        raise KeyError(f"{self.id} has no dimension {dimension_id!r}")

    def items_of(self, dimension_id: str) -> tuple[Indicator, ...]:
        return tuple(item for item in self.indicators if item.dimension == dimension_id)

    def indicator_text(self, indicator_id: str, language: str = DEFAULT_LANGUAGE) -> str:
        """The item's text in ``language`` when the catalogue has it, else in English."""
        text = self.indicator(indicator_id).text
        return _translated(f"{self.id}:{indicator_id}", language) or text

    def dimension_label(self, dimension_id: str, language: str = DEFAULT_LANGUAGE) -> str:
        label = self.dimension(dimension_id).label
        return _translated(f"{self.id}:dimension:{dimension_id}", language) or label

    def translations(self) -> list[str]:
        """Languages whose catalogue translates at least one of this instrument's texts."""
        prefix = f"{self.id}:"
        return [
            language
            for language in available_languages()
            if any(key.startswith(prefix) for key in catalogue(language))
        ]

    def to_dict(self, language: str = DEFAULT_LANGUAGE) -> dict[str, Any]:
        """The shape of ``tiphub screen --list --json``."""
        return {
            "id": self.id,
            "version": self.version,
            "name": self.name,
            "language": self.language,
            "text_language": resolved_language(language),
            "translations": self.translations(),
            "population": self.population,
            "source": self.source,
            "verified": self.verified,
            "notes": self.notes,
            "dimensions": [
                {"id": d.id, "label": self.dimension_label(d.id, language)} for d in self.dimensions
            ],
            "indicators": [
                {
                    "id": item.id,
                    "dimension": item.dimension,
                    "strength": item.strength,
                    "text": self.indicator_text(item.id, language),
                    "verified": item.verified,
                    "answers": list(item.answers),
                    **({"note": item.note} if item.note else {}),
                }
                for item in self.indicators
            ],
            "rule": self.rule.to_dict(),
        }


# -- loading -----------------------------------------------------------------------------------


def _data() -> Any:
    return resources.files("tiphub.screening").joinpath("data")


class _Reader:
    """Typed access to one JSON object, with errors that name the file and the place."""

    def __init__(self, source: str, where: str, data: object) -> None:
        self.source = source
        self.where = where
        if not isinstance(data, dict):
            raise self.error(f"expected a JSON object, not {_json_type(data)}")
        self.data: dict[str, Any] = data

    def error(self, message: str) -> InstrumentDataError:
        place = f" ({self.where})" if self.where else ""
        return InstrumentDataError(f"{self.source}{place}: {message}")

    def keys(self, required: Iterable[str], optional: Iterable[str] = ()) -> None:
        required = tuple(required)
        missing = [key for key in required if key not in self.data]
        if missing:
            raise self.error(f"missing {', '.join(missing)}")
        unknown = sorted(set(self.data) - set(required) - set(optional))
        if unknown:
            raise self.error(f"unknown key(s) {', '.join(unknown)}")

    def text(self, key: str, optional: bool = False) -> str:
        value = self.data.get(key)
        if value is None and optional:
            return ""
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"{key} must be a non-empty string")
        return value

    def flag(self, key: str, default: bool | None = None) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self.error(f"{key} must be true or false")
        return value

    def count(self, key: str) -> int:
        value = self.data.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(f"{key} must be a whole number of at least 1")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            raise self.error(f"{key} must be a non-empty list")
        return value

    def child(self, key: str, data: object) -> _Reader:
        return _Reader(self.source, f"{self.where}.{key}" if self.where else key, data)


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _condition(
    reader: _Reader, data: object, dimensions: set[str], indicators: set[str]
) -> Condition:
    node = reader.child("condition", data)
    kinds = [key for key in ("dimension", "indicator", "all_of", "any_of") if key in node.data]
    if len(kinds) != 1:
        raise node.error("a condition has exactly one of dimension, indicator, all_of, any_of")
    kind = kinds[0]
    if kind == "dimension":
        node.keys(["dimension"])
        name = node.text("dimension")
        if name not in dimensions:
            raise node.error(f"no dimension {name!r}")
        return DimensionIs(name)
    if kind == "indicator":
        node.keys(["indicator"])
        name = node.text("indicator")
        if name not in indicators:
            raise node.error(f"no indicator {name!r}")
        return IndicatorIs(name)
    node.keys([kind], ["label"])
    label = node.text("label", optional=True) or None
    items = tuple(_condition(node, item, dimensions, indicators) for item in node.items(kind))
    return AllOf(items, label) if kind == "all_of" else AnyOf(items, label)


def _threshold(reader: _Reader, data: object) -> Threshold:
    if not isinstance(data, list) or not data:
        raise reader.error("dimension_positive_when must be a non-empty list of alternatives")
    alternatives: list[tuple[GradeCount, ...]] = []
    for number, alternative in enumerate(data, start=1):
        if not isinstance(alternative, list) or not alternative:
            raise reader.error(f"alternative {number} must be a non-empty list of counts")
        counts: list[GradeCount] = []
        seen: set[str] = set()
        for entry in alternative:
            count = reader.child(f"dimension_positive_when[{number}]", entry)
            count.keys(["grades", "at_least"])
            grades = count.items("grades")
            if any(grade not in GRADES for grade in grades) or len(set(grades)) != len(grades):
                raise count.error(f"grades must be distinct values among {', '.join(GRADES)}")
            if seen & set(grades):
                # Overlapping grade sets would let one indicator count for two minimums.
                raise count.error("the grade sets of one alternative must not overlap")
            seen |= set(grades)
            counts.append(GradeCount(tuple(grades), count.count("at_least")))
        alternatives.append(tuple(counts))
    return tuple(alternatives)


def _rule(reader: _Reader, data: object, instrument: dict[str, Any]) -> Rule:
    rule = reader.child("rule", data)
    kind = rule.data.get("type")
    if kind not in RULE_TYPES:
        raise rule.error(f"type must be one of {', '.join(RULE_TYPES)}")
    dimensions: set[str] = set(instrument["dimensions"])
    indicators: set[str] = set(instrument["indicators"])
    common = ["type", "finding"]
    common_optional = ["verified", "action", "notes"]
    verified = rule.flag("verified", True)
    finding = rule.text("finding") if "finding" in rule.data else ""
    action = rule.text("action") if "action" in rule.data else DEFAULT_ACTION
    parameters = dict(rule.data)
    if kind == "act_means_purpose":
        rule.keys(
            [*common, "act", "means", "purpose"],
            [
                *common_optional,
                "means_not_needed_when",
                "means_not_needed_reason",
                "means_not_needed_verified",
            ],
        )
        act, means, purpose = (rule.text(key) for key in ("act", "means", "purpose"))
        for name in (act, means, purpose):
            if name not in dimensions:
                raise rule.error(f"no dimension {name!r}")
        if len({act, means, purpose}) != 3:
            raise rule.error("act, means and purpose must be three different dimensions")
        waiver = None
        reason = None
        if "means_not_needed_when" in rule.data:
            waiver = _condition(rule, rule.data["means_not_needed_when"], dimensions, indicators)
            reason = rule.text("means_not_needed_reason")
        elif "means_not_needed_reason" in rule.data:
            raise rule.error("means_not_needed_reason without means_not_needed_when")
        means_condition: Condition = (
            DimensionIs(means) if waiver is None else AnyOf((DimensionIs(means), waiver))
        )
        return Rule(
            type=kind,
            verified=verified,
            finding=finding,
            action=action,
            dimension_threshold=ANY_ITEM,
            positive_when=AllOf((DimensionIs(act), DimensionIs(purpose), means_condition)),
            parameters=parameters,
            act=act,
            means=means,
            purpose=purpose,
            means_not_needed_when=waiver,
            means_not_needed_reason=reason,
            means_not_needed_verified=rule.flag("means_not_needed_verified", True),
        )
    if kind == "ilo_ec_dimensions":
        rule.keys([*common, "dimension_positive_when", "positive_when"], common_optional)
        ungraded = [item_id for item_id, grade in instrument["indicators"].items() if grade is None]
        if ungraded:
            raise rule.error(f"every item needs a grade for this rule; not {ungraded[0]!r}")
        threshold = _threshold(rule, rule.data["dimension_positive_when"])
        combination = _condition(rule, rule.data["positive_when"], dimensions, indicators)
        return Rule(kind, verified, finding, action, threshold, combination, parameters)
    if kind == "count_at_least":
        rule.keys([*common, "n"], common_optional)
        n = rule.count("n")
        if n > len(indicators):
            raise rule.error(f"n is {n} but the instrument has {len(indicators)} items")
        return Rule(kind, verified, finding, action, ANY_ITEM, CountAtLeast(n), parameters, n=n)
    rule.keys(common, common_optional)
    return Rule(kind, verified, finding, action, ANY_ITEM, CountAtLeast(1), parameters, n=1)


def instrument_from_dict(data: object, source: str = "instrument") -> Instrument:
    """Build and check an instrument from its JSON form; :class:`InstrumentDataError` names
    the source and the place of the first problem."""
    reader = _Reader(source, "", data)
    reader.keys(
        [
            "id",
            "version",
            "name",
            "language",
            "population",
            "source",
            "verified",
            "dimensions",
            "indicators",
            "rule",
        ],
        ["notes"],
    )
    instrument_id = reader.text("id")
    if not _INSTRUMENT_ID.fullmatch(instrument_id):
        raise reader.error("id must be lower-case words joined by hyphens")
    language = reader.text("language")
    if not _LANGUAGE.fullmatch(language):
        raise reader.error("language must be a language code such as 'en'")
    dimensions: list[Dimension] = []
    for number, entry in enumerate(reader.items("dimensions"), start=1):
        node = reader.child(f"dimensions[{number}]", entry)
        node.keys(["id", "label"])
        dimension_id = node.text("id")
        if not _SLUG.fullmatch(dimension_id):
            raise node.error("id must be a lower-case slug (letters, digits, underscores)")
        if any(d.id == dimension_id for d in dimensions):
            raise node.error(f"dimension {dimension_id!r} given twice")
        dimensions.append(Dimension(dimension_id, node.text("label")))
    known_dimensions = {d.id for d in dimensions}
    indicators: list[Indicator] = []
    for number, entry in enumerate(reader.items("indicators"), start=1):
        node = reader.child(f"indicators[{number}]", entry)
        node.keys(["id", "dimension", "strength", "text", "verified", "answers"], ["note"])
        item_id = node.text("id")
        dimension = node.text("dimension")
        if dimension not in known_dimensions:
            raise node.error(f"no dimension {dimension!r}")
        prefix, _, slug = item_id.partition(".")
        # The dimension is part of the id: the same text may have different grades in
        # different dimensions (ILO/EC), and the id must say which one was answered.
        if prefix != dimension or not _SLUG.fullmatch(slug):
            raise node.error(f"id must be '{dimension}.<slug>' (a lower-case slug)")
        if any(i.id == item_id for i in indicators):
            raise node.error(f"item {item_id!r} given twice")
        strength = node.data.get("strength")
        if strength is not None and strength not in GRADES:
            raise node.error(f"strength must be one of {', '.join(GRADES)} or null")
        answers = node.items("answers")
        if answers != list(ANSWER_CHOICES):
            raise node.error('answers must be ["yes", "no"]')
        indicators.append(
            Indicator(
                item_id,
                dimension,
                strength,
                node.text("text"),
                node.flag("verified"),
                ANSWER_CHOICES,
                node.text("note", optional=True) or None,
            )
        )
    empty = [d.id for d in dimensions if not any(i.dimension == d.id for i in indicators)]
    if empty:
        raise reader.error(f"dimension {empty[0]!r} has no item")
    verified = reader.flag("verified")
    if verified and not all(item.verified for item in indicators):
        raise reader.error("verified is true but some items are not verified")
    rule = _rule(
        reader,
        reader.data["rule"],
        {"dimensions": known_dimensions, "indicators": {i.id: i.strength for i in indicators}},
    )
    return Instrument(
        id=instrument_id,
        version=reader.text("version"),
        name=reader.text("name"),
        language=language,
        population=reader.text("population"),
        source=reader.text("source"),
        verified=verified,
        dimensions=tuple(dimensions),
        indicators=tuple(indicators),
        rule=rule,
        notes=reader.text("notes", optional=True) or None,
    )


@cache
def _instruments() -> tuple[Instrument, ...]:
    folder = _data().joinpath("instruments")
    loaded: list[Instrument] = []
    for entry in sorted(folder.iterdir(), key=lambda path: path.name):
        if not entry.name.endswith(".json"):
            continue
        source = f"screening/data/instruments/{entry.name}"
        try:
            data = json.loads(entry.read_text(encoding="utf-8"))
        except json.JSONDecodeError as error:
            raise InstrumentDataError(f"{source}: not valid JSON ({error.msg})") from None
        loaded_one = instrument_from_dict(data, source)
        if f"{loaded_one.id}.json" != entry.name:
            raise InstrumentDataError(f"{source}: the file name must be {loaded_one.id}.json")
        loaded.append(loaded_one)
    return tuple(loaded)


def instruments() -> list[Instrument]:
    """Every shipped instrument, sorted by id (loaded and checked once)."""
    return list(_instruments())


def instrument(instrument_id: str) -> Instrument:
    """The instrument with this id; :class:`UnknownInstrumentError` lists the known ids."""
    for candidate in _instruments():
        if candidate.id == instrument_id:
            return candidate
    raise UnknownInstrumentError(instrument_id, [known.id for known in _instruments()])


# -- translations ------------------------------------------------------------------------------


@cache
def available_languages() -> tuple[str, ...]:
    """Languages with a catalogue file (English is the instruments' own language)."""
    folder = _data().joinpath("catalogues")
    return tuple(
        sorted(
            entry.name.removesuffix(".json")
            for entry in folder.iterdir()
            if entry.name.endswith(".json") and _LANGUAGE.fullmatch(entry.name[:-5])
        )
    )


def resolved_language(language: str) -> str:
    """The catalogue a requested language uses: ``fr-CA`` → ``fr``; unknown → ``en``."""
    wanted = language.strip().lower().replace("_", "-")
    if len(wanted) > 35:  # longer than any language tag worth looking up
        return DEFAULT_LANGUAGE
    while wanted:
        if wanted in available_languages():
            return wanted
        wanted = wanted.rpartition("-")[0]
    return DEFAULT_LANGUAGE


def catalogue(language: str) -> Mapping[str, str]:
    """The translations of one language (empty for English or a language without a file).

    Only files listed by :func:`available_languages` are opened, so a language code can
    never name a path outside the catalogue folder.
    """
    # Cached by the resolved code, so arbitrary requested codes never grow the cache.
    return _catalogue(resolved_language(language))


@cache
def _catalogue(resolved: str) -> Mapping[str, str]:
    if resolved not in available_languages():
        return {}
    source = f"screening/data/catalogues/{resolved}.json"
    try:
        data = json.loads(_data().joinpath("catalogues", f"{resolved}.json").read_text("utf-8"))
    except json.JSONDecodeError as error:
        raise InstrumentDataError(f"{source}: not valid JSON ({error.msg})") from None
    if not isinstance(data, dict):
        raise InstrumentDataError(f"{source}: expected a JSON object of key → text")
    texts: dict[str, str] = {}
    for key, value in data.items():
        if key.startswith("_"):  # notes about the catalogue itself
            continue
        if not isinstance(value, str) or not value.strip():
            raise InstrumentDataError(f"{source}: {key!r} must map to a non-empty text")
        texts[key] = value
    return MappingProxyType(texts)


def _translated(key: str, language: str) -> str | None:
    if resolved_language(language) == DEFAULT_LANGUAGE:
        return None
    return catalogue(language).get(key)


# -- answers -----------------------------------------------------------------------------------


def quoted_item(key: object) -> str:
    """How a message names an answers key: quoted when it looks like an item id, else not
    shown (a key could be anything a user typed, a person's name included)."""
    if isinstance(key, str) and _QUOTABLE_KEY.fullmatch(key):
        return repr(key)
    return "a key that is not an item id (not shown)"


def parse_answers(instrument: Instrument, raw: object, source: str = "answers") -> dict[str, bool]:
    """Check raw answers (a JSON object of item id → true/false) against the instrument.

    An item left out was not asked. Raises :class:`AnswersError` naming the source and the
    item for an unknown item or a value that is not a JSON boolean; values are never quoted.
    """
    if not isinstance(raw, Mapping):
        raise AnswersError(
            f"the answers must be a JSON object of item id → true/false, not {_json_type(raw)}",
            source=source,
        )
    known = {item.id for item in instrument.indicators}
    answers: dict[str, bool] = {}
    for key, value in raw.items():
        if not isinstance(key, str) or key not in known:
            hint = ""
            if isinstance(key, str) and _QUOTABLE_KEY.fullmatch(key):
                close = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise AnswersError(
                f"{quoted_item(key)} is not an item of instrument {instrument.id} "
                f"{instrument.version}{hint}",
                source=source,
                item=key if isinstance(key, str) else None,
            )
        if not isinstance(value, bool):
            raise AnswersError(
                f"item {key!r} must be true or false (a JSON boolean), not {_json_type(value)}",
                source=source,
                item=key,
            )
        answers[key] = value
    return answers


# -- scoring -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScreeningResult:
    instrument: str
    version: str
    verified: bool
    rule_type: str
    rule_verified: bool
    dimensions: dict[str, bool]
    positive: bool
    indicators_present: tuple[str, ...]
    unverified_items_used: tuple[str, ...]
    not_asked: tuple[str, ...]
    ignored_items: tuple[str, ...]
    explanation: str

    @property
    def no_numeric_rule(self) -> bool:
        return self.rule_type == "indicators_listed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "instrument": self.instrument,
            "version": self.version,
            "dimensions": dict(self.dimensions),
            "positive": self.positive,
            "indicators_present": list(self.indicators_present),
            "unverified_items_used": list(self.unverified_items_used),
            "explanation": self.explanation,
            "verified": self.verified,
            "rule": self.rule_type,
            "rule_verified": self.rule_verified,
            "no_numeric_rule": self.no_numeric_rule,
            "not_asked": list(self.not_asked),
            "ignored_items": list(self.ignored_items),
        }


def threshold_met(threshold: Threshold, grades: Sequence[str | None]) -> bool:
    """Whether the grades of the present indicators of one dimension meet the threshold."""
    return any(
        all(
            sum(1 for grade in grades if need.grades is None or grade in need.grades)
            >= need.at_least
            for need in alternative
        )
        for alternative in threshold
    )


def _holds(condition: Condition, dimensions: Mapping[str, bool], present: set[str]) -> bool:
    if isinstance(condition, DimensionIs):
        return dimensions[condition.dimension]
    if isinstance(condition, IndicatorIs):
        return condition.indicator in present
    if isinstance(condition, CountAtLeast):
        return len(present) >= condition.n
    if isinstance(condition, AllOf):
        return all(_holds(item, dimensions, present) for item in condition.items)
    return any(_holds(item, dimensions, present) for item in condition.items)


def _verdicts(instrument: Instrument, present: set[str]) -> tuple[dict[str, bool], bool]:
    dimensions = {
        d.id: threshold_met(
            instrument.rule.dimension_threshold,
            [item.strength for item in instrument.items_of(d.id) if item.id in present],
        )
        for d in instrument.dimensions
    }
    return dimensions, _holds(instrument.rule.positive_when, dimensions, present)


def score(instrument: Instrument, answers: Mapping[str, bool]) -> ScreeningResult:
    """Score item-level answers (item id → True/False; a missing item was not asked).

    Answers to items this version does not have (stored for an older version) are left out
    of the score and listed as ``ignored_items``; a value that is not a boolean is an
    :class:`AnswersError`.
    """
    known = {item.id for item in instrument.indicators}
    for key, value in answers.items():
        if key in known and not isinstance(value, bool):
            raise AnswersError(
                f"item {key!r} must be true or false, not {_json_type(value)}",
                source="answers",
                item=key,
            )
    present = {item.id for item in instrument.indicators if answers.get(item.id) is True}
    not_asked = {item.id for item in instrument.indicators if item.id not in answers}
    dimensions, positive = _verdicts(instrument, present)
    # The rules only ever turn positive with more items, so "every unasked item yes" is
    # the most the missing answers could change.
    best_dimensions, best_positive = _verdicts(instrument, present | not_asked)
    ordered = tuple(item.id for item in instrument.indicators if item.id in present)
    unverified = tuple(
        item.id for item in instrument.indicators if item.id in present and not item.verified
    )
    context = _Context(
        instrument,
        present,
        not_asked,
        dimensions,
        positive,
        best_dimensions,
        best_positive,
    )
    return ScreeningResult(
        instrument=instrument.id,
        version=instrument.version,
        verified=instrument.verified,
        rule_type=instrument.rule.type,
        rule_verified=instrument.rule.verified,
        dimensions=dimensions,
        positive=positive,
        indicators_present=ordered,
        unverified_items_used=unverified,
        not_asked=tuple(item.id for item in instrument.indicators if item.id in not_asked),
        ignored_items=tuple(sorted(key for key in answers if key not in known)),
        explanation=_explain(context),
    )


# -- explanations ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Context:
    instrument: Instrument
    present: set[str]
    not_asked: set[str]
    dimensions: dict[str, bool]
    positive: bool
    best_dimensions: dict[str, bool]
    best_positive: bool


def _lower_first(text: str) -> str:
    # "ILO …" keeps its capitals; "Deceived about …" reads as "deceived about …" mid-sentence.
    if len(text) > 1 and text[1].isupper():
        return text
    return text[:1].lower() + text[1:]


def _join(parts: Sequence[str], word: str = "and") -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {word} {parts[-1]}"


def _plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _texts(instrument: Instrument, ids: Iterable[str]) -> str:
    return "; ".join(_lower_first(instrument.indicator(i).text) for i in ids)


def _label(instrument: Instrument, dimension_id: str) -> str:
    return instrument.dimension(dimension_id).label


def _requirement(instrument: Instrument, condition: Condition) -> str:
    """What a condition asks for, in words."""
    if isinstance(condition, DimensionIs):
        return _lower_first(_label(instrument, condition.dimension))
    if isinstance(condition, IndicatorIs):
        return _lower_first(instrument.indicator(condition.indicator).text)
    if isinstance(condition, CountAtLeast):
        return f"at least {_plural(condition.n, 'item')} answered yes"
    word = "and" if isinstance(condition, AllOf) else "or"
    inner = _join([_requirement(instrument, item) for item in condition.items], word)
    return f"{condition.label} ({inner})" if condition.label else inner


def _met(instrument: Instrument, condition: Condition, context: _Context) -> str:
    """How a condition that holds is met, naming only the parts that hold."""
    if isinstance(condition, AllOf | AnyOf):
        parts = [
            _met(instrument, item, context)
            for item in condition.items
            if _holds(item, context.dimensions, context.present)
        ]
        inner = _join(parts)
        return f"{condition.label} ({inner})" if condition.label else inner
    return _requirement(instrument, condition)


def _short(instrument: Instrument, condition: Condition) -> str:
    if isinstance(condition, AllOf | AnyOf) and condition.label:
        return condition.label
    return _requirement(instrument, condition)


def _unmet(instrument: Instrument, condition: Condition, context: _Context) -> list[str]:
    """The top-level parts of a condition that do not hold, by their short names."""
    if isinstance(condition, AllOf) and condition.label is None:
        return [
            _short(instrument, item)
            for item in condition.items
            if not _holds(item, context.dimensions, context.present)
        ]
    return [_short(instrument, condition)]


def _threshold_text(threshold: Threshold) -> str:
    alternatives = [
        _join([f"{need.at_least} {' or '.join(need.grades or ('any',))}" for need in alternative])
        for alternative in threshold
    ]
    if len(alternatives) == 1:
        return alternatives[0]
    return "; ".join(alternatives[:-1]) + f"; or {alternatives[-1]}"


def _by_grade(instrument: Instrument, ids: Sequence[str]) -> str:
    parts = []
    for grade in GRADES:
        graded = [i for i in ids if instrument.indicator(i).strength == grade]
        if graded:
            parts.append(f"{len(graded)} {grade} ({_texts(instrument, graded)})")
    return _join(parts)


def _present_in(context: _Context, dimension_id: str) -> list[str]:
    return [
        item.id for item in context.instrument.items_of(dimension_id) if item.id in context.present
    ]


def _not_asked_in(context: _Context, dimension_id: str) -> list[str]:
    return [
        item.id
        for item in context.instrument.items_of(dimension_id)
        if item.id in context.not_asked
    ]


def _could_change_dimension(context: _Context, dimension_id: str) -> str:
    missing = _not_asked_in(context, dimension_id)
    if context.dimensions[dimension_id] or not context.best_dimensions[dimension_id]:
        return ""
    total = len(context.instrument.items_of(dimension_id))
    asked = (
        f"none of its {total} items was"
        if len(missing) == total
        else (f"{len(missing)} of its {total} items were")
    )
    return f" ({asked} not asked: answers to them could make it positive)"


def _explain_graded(context: _Context) -> list[str]:
    instrument = context.instrument
    rule = instrument.rule
    sentences = [
        f"A dimension is positive with at least {_threshold_text(rule.dimension_threshold)} "
        "indicators present."
    ]
    for dimension in instrument.dimensions:
        present = _present_in(context, dimension.id)
        if context.dimensions[dimension.id]:
            sentences.append(f"{dimension.label} is positive: {_by_grade(instrument, present)}.")
        elif present:
            sentences.append(
                f"{dimension.label} is not positive: only {_by_grade(instrument, present)}"
                f"{_could_change_dimension(context, dimension.id)}."
            )
        else:
            sentences.append(
                f"{dimension.label} is not positive: no indicator present"
                f"{_could_change_dimension(context, dimension.id)}."
            )
    if context.positive:
        sentences.append(
            "Screening result: positive, because "
            f"{_met(instrument, rule.positive_when, context)} are positive."
        )
    else:
        sentences.append(
            "Screening result: negative on the answers given. A positive result needs "
            f"{_requirement(instrument, rule.positive_when)}; not met: "
            f"{_join(_unmet(instrument, rule.positive_when, context))}."
        )
    return sentences


def _explain_amp(context: _Context) -> list[str]:
    instrument = context.instrument
    rule = instrument.rule
    assert rule.act is not None and rule.means is not None and rule.purpose is not None
    sentences = []
    for element in (rule.act, rule.means, rule.purpose):
        label = _label(instrument, element)
        present = _present_in(context, element)
        if present:
            sentences.append(f"{label} is present: {_texts(instrument, present)}.")
        else:
            total = len(instrument.items_of(element))
            missing = _not_asked_in(context, element)
            if len(missing) == total:
                sentences.append(f"{label} is not present: none of its {total} items was asked.")
            else:
                asked = f" ({len(missing)} not asked)" if missing else ""
                sentences.append(
                    f"{label} is not present: none of its {total} items was answered yes{asked}."
                )
    means_present = context.dimensions[rule.means]
    waiver = rule.means_not_needed_when
    waived = waiver is not None and _holds(waiver, context.dimensions, context.present)
    if waiver is not None and not means_present:
        label = getattr(waiver, "label", None) or _requirement(instrument, waiver)
        if waived:
            sentences.append(
                f"Means are not required here because {label}: {rule.means_not_needed_reason}."
            )
        elif _holds(waiver, context.best_dimensions, context.present | context.not_asked):
            sentences.append(
                f"Means would not be required if {label}, which was not asked: "
                f"{rule.means_not_needed_reason}."
            )
    act = _lower_first(_label(instrument, rule.act))
    means = _lower_first(_label(instrument, rule.means))
    purpose = _lower_first(_label(instrument, rule.purpose))
    if context.positive:
        how = (
            f"{act}, {means} and {purpose} are all present"
            if means_present
            else f"{act} and {purpose} are present and no means are required"
        )
        sentences.append(f"Screening result: positive. The {how}.")
    else:
        missing = [
            name
            for name, element in ((act, rule.act), (means, rule.means), (purpose, rule.purpose))
            if not context.dimensions[element] and not (element == rule.means and waived)
        ]
        sentences.append(
            "Screening result: negative on the answers given. Every element of the "
            f"definition is needed; missing: {_join(missing)}."
        )
    return sentences


def _explain_count(context: _Context) -> list[str]:
    instrument = context.instrument
    n = instrument.rule.n or 1
    ordered = [item.id for item in instrument.indicators if item.id in context.present]
    total = len(instrument.indicators)
    if ordered:
        listed = (
            f"{len(ordered)} of the {total} items {'was' if len(ordered) == 1 else 'were'} "
            f"answered yes: {_texts(instrument, ordered)}."
        )
    else:
        listed = f"None of the {total} items was answered yes."
    sentences = [f"The screen is positive with at least {_plural(n, 'item')} answered yes.", listed]
    if context.positive:
        sentences.append("Screening result: positive.")
    else:
        sentences.append("Screening result: negative on the answers given.")
    return sentences


def _explain_listed(context: _Context) -> list[str]:
    instrument = context.instrument
    ordered = [item.id for item in instrument.indicators if item.id in context.present]
    total = len(instrument.indicators)
    if ordered:
        first = (
            f"{len(ordered)} of the {total} indicators {'is' if len(ordered) == 1 else 'are'} "
            f"present: {_texts(instrument, ordered)}."
        )
    else:
        first = f"None of the {total} indicators is present on the answers given."
    sentences = [
        first,
        "The ILO sets no numeric rule: a single indicator may in some cases imply forced "
        "labour, in others several indicators taken together point to it. This result lists "
        "the indicators present for the judgement of a trained person.",
    ]
    if context.positive:
        sentences.append("Screening result: at least one indicator is present.")
    else:
        sentences.append("Screening result: no indicator present.")
    return sentences


def _explain(context: _Context) -> str:
    instrument = context.instrument
    rule = instrument.rule
    if rule.type == "ilo_ec_dimensions":
        sentences = _explain_graded(context)
    elif rule.type == "act_means_purpose":
        sentences = _explain_amp(context)
    elif rule.type == "count_at_least":
        sentences = _explain_count(context)
    else:
        sentences = _explain_listed(context)
    if context.positive:
        sentences.append(
            f"This indicates {rule.finding}: {rule.action}. This is a screening result, not a "
            "legal determination or an identification decision, which is for the competent "
            "authority."
        )
    else:
        if context.best_positive and context.not_asked:
            sentences.append(
                f"{_plural(len(context.not_asked), 'item was', 'items were')} not asked; "
                "answers to them could change the result to positive."
            )
        sentences.append(
            "A negative screen does not rule out trafficking: if there are other concerns, "
            "ask a trained person."
        )
    unverified = [
        item.id
        for item in instrument.indicators
        if item.id in context.present and not item.verified
    ]
    if unverified:
        sentences.append(
            f"Warning: {_plural(len(unverified), 'item')} used in this result "
            f"{'has' if len(unverified) == 1 else 'have'} not been verified against the source "
            f"publication: {_texts(instrument, unverified)}."
        )
    if not rule.verified:
        sentences.append(
            "Warning: the decision rule itself has not been verified against the source "
            "publication."
        )
    waiver = rule.means_not_needed_when
    if (
        waiver is not None
        and not rule.means_not_needed_verified
        and context.positive
        and rule.means is not None
        and not context.dimensions[rule.means]
    ):
        sentences.append(
            "Warning: the rule that no means are needed here has not been verified against "
            "the source text."
        )
    return " ".join(sentences)
