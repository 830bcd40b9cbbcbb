"""Deceptive-recruitment indicators in job ads: rules as data, each hit explained.

The rules live in ``data/indicators.json`` (see ``data/indicators.md`` for the sources and
how to add a rule or a language): per rule an id (a contract of the JSON output), a title,
a description, a strength, its sources, and regular expressions per language. All of a
rule's patterns are compiled into one regular expression and matched case-insensitively
on the ad with Latin diacritics folded (é→e, ș→s, ё→е) in both pattern and ad. Folding maps
one character to one character, so a match's offsets hold in the original text and the
evidence of a hit is the ad's own words.

Three rules are not plain phrase lists:

``pay-above-norm``
    Needs the batch: salaries are parsed (salary field first, else the text), normalised to
    a month, and compared with the median of the batch's ads of the same sector and
    currency; at least twice the median flags, when at least five comparable ads exist.
    Without such a norm the rule falls back to fixed too-good-to-be-true phrases.
``messenger-only-contact``
    Needs the ad's contacts: all are phones or messenger handles (no e-mail, no web
    address) and the ad names no company by its legal form. The evidence is the ad's
    contact words (WhatsApp, call…), never a number.
``vague-employer``
    Phrases such as "international company", not raised when a legal company name is there.
``work-abroad``
    Phrases such as "work abroad", or else a destination country named after "in/to/nach/в…"
    that differs from the country of every phone number in the ad's contacts.

Indicators prompt a trained reviewer's judgement; they never establish trafficking.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import json
import re
import statistics
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from tiphub.online.ads import Contact, IndicatorHit, RawAd
from tiphub.standard.codelists import UnknownCodeError, country_codes, normalise_country

__all__ = [
    "IndicatorDataError",
    "IndicatorRule",
    "Salary",
    "detect_destination",
    "detect_sector",
    "find_indicators",
    "indicator_catalogue",
    "parse_salary",
]

STRENGTHS = ("strong", "medium", "weak")
RULE_KINDS = ("text", "pay_norm", "contacts", "vague_employer", "work_abroad")
# A reviewer needs to see why, not every repetition.
_MAX_EVIDENCE = 5
_LOCAL_CONTACT_KINDS = frozenset({"phone", "handle"})


class IndicatorDataError(ValueError):
    """The indicator file breaks the format; names the rule and the place."""


@dataclass(frozen=True)
class IndicatorRule:
    id: str
    title: str
    description: str
    strength: str
    sources: tuple[str, ...]
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Salary:
    """A pay amount found in an ad: ``text`` is the words as written, ``monthly`` the amount
    normalised to a month."""

    amount: float
    currency: str
    period: str
    monthly: float
    text: str
    period_stated: bool = True


# -- folding -----------------------------------------------------------------------------------


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code_point in range(0xC0, 0x250):
        char = chr(code_point)
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if len(base) == 1 and base != char:
            table[code_point] = base
    table.update({ord("ё"): "е", ord("Ё"): "Е", ord("’"): "'", ord("‘"): "'", ord("ʼ"): "'"})
    table.update({ord("\u00a0"): " ", ord("\u202f"): " "})
    return table


_FOLD = _fold_table()


_NEEDS_FOLD = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_FOLD)) + "]")


def _fold(text: str) -> str:
    """Diacritics off, one character for one, so offsets stay valid in the original."""
    if text.isascii() or _NEEDS_FOLD.search(text) is None:
        return text
    return text.translate(_FOLD)


def _lower_text(folded: str) -> str:
    lowered = folded.lower()
    if len(lowered) == len(folded):
        return lowered
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in folded)


def _lower_pattern(pattern: str) -> str:
    # Escapes keep their case: \S is not \s.
    return re.sub(r"(\\.)|([^\\]+)", lambda m: m.group(1) or m.group(2).lower(), pattern)


# The standard library's own pattern parser: the prefilter reads the literal words a pattern
# starts with instead of keeping a second hand-written list of them.
_regex_parser: Any = importlib.import_module("re._parser")
_PatternOptions = list[tuple[str, bool]]
_MAX_OPTIONS = 4000
_WORD_PREFIX = re.compile(r"\w+")


def _options(items: Any) -> _PatternOptions:
    """The literal starts a match of ``items`` can have, each with whether it may go on."""
    results: _PatternOptions = [("", True)]
    for op, argument in items:
        grown: _PatternOptions = []
        for prefix, open_ in results:
            if not open_ or re.search(r"\w\W", prefix):
                grown.append((prefix, False))
                continue
            grown.extend((prefix + text, more) for text, more in _op_options(op, argument))
        results = grown if len(grown) <= _MAX_OPTIONS else [(p, False) for p, _ in results]
    return results


def _op_options(op: Any, argument: Any) -> _PatternOptions:
    name = str(op)
    if name == "LITERAL":
        return [(chr(argument), True)]
    if name in ("AT", "ASSERT_NOT"):
        return [("", True)]
    if name == "SUBPATTERN":
        return _options(argument[-1])
    if name == "BRANCH":
        return [option for branch in argument[1] for option in _options(branch)]
    if name in ("MAX_REPEAT", "MIN_REPEAT"):
        least, most, inner = argument
        once = _options(inner)
        if most != 1:
            once = [(text, False) for text, _ in once]
        return once + ([("", most == 1)] if least == 0 else [])
    return [("", False)]


def _first_words(pattern: str) -> frozenset[tuple[str, bool]] | None:
    """The word starts one of which begins every match, each with whether it is the whole
    word, when the pattern starts at a word boundary with literal text; None when it cannot
    tell (then the pattern is searched everywhere)."""
    parsed = list(_regex_parser.parse(pattern))
    if not parsed or str(parsed[0][0]) != "AT" or str(parsed[0][1]) != "AT_BOUNDARY":
        return None
    words = set()
    for prefix, _ in _options(parsed):
        head = _WORD_PREFIX.match(prefix)
        if head is None:
            return None
        word = head.group()
        whole = len(word) <= _TRIGGER_LENGTH and len(prefix) > len(word)
        words.add((word[:_TRIGGER_LENGTH], whole))
    return frozenset(words)


# Matcher number -> offsets of the words where a match may start.
_WordIndex = dict[int, list[int]]
_matcher_numbers = itertools.count()


@dataclass(frozen=True)
class _Matcher:
    """One regular expression for many patterns, matched on folded lower-case text, with
    the words that must start a match so that most ads skip it without a scan."""

    pattern: re.Pattern[str]
    triggers: frozenset[tuple[str, bool]] | None
    number: int

    def matches(self, text: str, words: _WordIndex) -> list[re.Match[str]]:
        """Non-overlapping matches in ``text``, tried only where a trigger word starts."""
        if self.triggers is None:
            return list(self.pattern.finditer(text))
        starts = words.get(self.number, ())
        found: list[re.Match[str]] = []
        taken = 0
        for start in starts:
            if start < taken:
                continue
            match = self.pattern.match(text, start)
            if match is not None and match.end() > start:
                found.append(match)
                taken = match.end()
        return found


# Triggers are cut to this many characters: a few more false triggers, far fewer prefixes.
_TRIGGER_LENGTH = 4


def _word_index(lowered: str) -> _WordIndex:
    """For each pattern, the words of the text where a match may start: those that start
    like one of the pattern's first words."""
    table = _data().triggers
    index: _WordIndex = {}
    for match in _WORD_PREFIX.finditer(lowered):
        word, start = match.group(), match.start()
        for size in range(1, min(len(word), _TRIGGER_LENGTH) + 1):
            for number, whole in table.get(word[:size], ()):
                if whole and size != len(word):
                    continue
                starts = index.setdefault(number, [])
                if not starts or starts[-1] != start:
                    starts.append(start)
    return index


def _compile(patterns: Iterable[str], *, ignore_case: bool = True) -> _Matcher | None:
    folded = [_fold(p) for p in patterns]
    if not folded:
        return None
    lowered = [_lower_pattern(p) for p in folded]
    triggers: set[tuple[str, bool]] | None = set()
    for pattern in lowered:
        words = _first_words(pattern)
        if words is None or triggers is None:
            triggers = None
        else:
            triggers |= words
    chosen = lowered if ignore_case else folded
    return _Matcher(
        re.compile("|".join(f"(?:{p})" for p in chosen)),
        frozenset(triggers) if triggers is not None else None,
        next(_matcher_numbers),
    )


def _trigger_table(matchers: Iterable[_Matcher | None]) -> dict[str, tuple[tuple[int, bool], ...]]:
    table: dict[str, list[tuple[int, bool]]] = defaultdict(list)
    for matcher in matchers:
        if matcher is not None and matcher.triggers is not None:
            for trigger, whole in matcher.triggers:
                table[trigger].append((matcher.number, whole))
    return {trigger: tuple(entries) for trigger, entries in table.items()}


# -- loading -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _CompiledRule:
    rule: IndicatorRule
    kind: str
    pattern: _Matcher | None
    exclude: _Matcher | None


@dataclass(frozen=True)
class _Sector:
    key: str
    code: str
    pattern: _Matcher


@dataclass(frozen=True)
class _Data:
    rules: tuple[_CompiledRule, ...]
    sources: dict[str, str]
    pay_norm: dict[str, float]
    company: _Matcher
    sectors: tuple[_Sector, ...]
    currencies: tuple[tuple[str, re.Pattern[str]], ...]
    currency_after: re.Pattern[str]
    currency_before: re.Pattern[str]
    periods: tuple[tuple[str, re.Pattern[str]], ...]
    destination: dict[str, Any]
    # First characters of a word -> (matcher number, only when they are the whole word).
    triggers: dict[str, tuple[tuple[int, bool], ...]]


def _raw() -> dict[str, Any]:
    text = resources.files("tiphub.online").joinpath("data", "indicators.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def _all_patterns(by_language: dict[str, list[str]]) -> list[str]:
    return [pattern for patterns in by_language.values() for pattern in patterns]


@cache
def _data() -> _Data:
    raw = _raw()
    sources: dict[str, str] = raw["sources"]
    rules: list[_CompiledRule] = []
    seen: set[str] = set()
    for entry in raw["rules"]:
        rule_id = entry["id"]
        where = f"indicators.json, rule {rule_id!r}"
        if rule_id in seen:
            raise IndicatorDataError(f"{where}: duplicate id")
        seen.add(rule_id)
        if entry["strength"] not in STRENGTHS:
            raise IndicatorDataError(f"{where}: strength must be one of {', '.join(STRENGTHS)}")
        if entry["kind"] not in RULE_KINDS:
            raise IndicatorDataError(f"{where}: kind must be one of {', '.join(RULE_KINDS)}")
        unknown = [key for key in entry["sources"] if key not in sources]
        if unknown:
            raise IndicatorDataError(f"{where}: unknown source {unknown[0]!r}")
        try:
            pattern = _compile(_all_patterns(entry["patterns"]))
            exclude = _compile(_all_patterns(entry.get("exclude", {})))
        except re.error as error:
            raise IndicatorDataError(f"{where}: bad pattern: {error}") from None
        rule = IndicatorRule(
            id=rule_id,
            title=entry["title"],
            description=entry["description"],
            strength=entry["strength"],
            sources=tuple(sources[key] for key in entry["sources"]),
            languages=tuple(lang for lang, patterns in entry["patterns"].items() if patterns),
        )
        rules.append(_CompiledRule(rule, entry["kind"], pattern, exclude))
    sectors = []
    for entry in raw["sectors"]:
        compiled = _compile(_all_patterns(entry["patterns"]))
        if compiled is not None:
            sectors.append(_Sector(entry["key"], entry["code"], compiled))
    salary = raw["salary"]
    currencies = tuple(
        (code, re.compile("|".join(f"(?:{_fold(p)})" for p in patterns), re.IGNORECASE))
        for code, patterns in salary["currencies"].items()
    )
    any_currency = "|".join(
        f"(?:{_fold(p)})" for patterns in salary["currencies"].values() for p in patterns
    )
    periods = tuple(
        (period, re.compile("|".join(f"(?:{_fold(p)})" for p in patterns), re.IGNORECASE))
        for period, patterns in salary["periods"].items()
    )
    company = _compile(raw["company_markers"], ignore_case=False)
    assert company is not None
    return _Data(
        rules=tuple(rules),
        sources=sources,
        pay_norm=raw["pay_norm"],
        company=company,
        sectors=tuple(sectors),
        currencies=currencies,
        currency_after=re.compile(rf"\s{{0,2}}(?:{any_currency})", re.IGNORECASE),
        currency_before=re.compile(rf"(?:{any_currency})\s{{0,2}}$", re.IGNORECASE),
        periods=periods,
        destination=raw["destination"],
        triggers=_trigger_table(
            [company]
            + [sector.pattern for sector in sectors]
            + [m for rule in rules for m in (rule.pattern, rule.exclude)]
        ),
    )


def indicator_catalogue() -> list[IndicatorRule]:
    """Every indicator rule, in the order of the data file."""
    return [compiled.rule for compiled in _data().rules]


# -- salaries ----------------------------------------------------------------------------------

_NUMBER = r"(\d{1,3}(?:[ .,'’]\d{3})+(?:[.,]\d{1,2})?|\d+(?:[.,]\d{1,2})?)(\s?[kK](?![a-zA-Z]))?"
_AMOUNT = re.compile(rf"{_NUMBER}(?:\s?(?:-|–|to|bis|à|a|până la|до|до\s)\s?{_NUMBER})?(?![\d])")
_SMALL_UNKNOWN_PERIOD = {"hour": 60.0, "day": 250.0}
_YEARLY_CURRENCIES = frozenset({"EUR", "USD", "GBP", "CHF"})


def _number(digits: str, thousands: str | None) -> float:
    cleaned = re.sub(r"[ '’]", "", digits)
    # "1.500" and "1,500" are thousands; "12,50" and "12.5" are decimals.
    if re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+", cleaned):
        value = float(re.sub(r"[.,]", "", cleaned))
    elif re.fullmatch(r"\d{1,3}(?:[.,]\d{3})+[.,]\d{1,2}", cleaned):
        value = float(re.sub(r"[.,]", "", cleaned[:-3]) + "." + cleaned[-2:].lstrip(".,"))
    else:
        value = float(cleaned.replace(",", "."))
    return value * 1000 if thousands else value


def _currency_of(text: str) -> str | None:
    for code, pattern in _data().currencies:
        if pattern.search(text):
            return code
    return None


def _period_near(folded: str, start: int, end: int) -> str | None:
    after = folded[end : end + 24]
    for period, pattern in _data().periods:
        match = pattern.search(after)
        if match and match.start() <= 6:
            return period
    return None


def _monthly(amount: float, period: str) -> float:
    norm = _data().pay_norm
    factor = {
        "hour": norm["hours_per_month"],
        "day": norm["days_per_month"],
        "week": norm["weeks_per_month"],
        "month": 1.0,
        "year": 1 / 12,
    }[period]
    return amount * factor


def _salaries(text: str) -> list[Salary]:
    data = _data()
    folded = _fold(text)
    found: list[Salary] = []
    for match in _AMOUNT.finditer(folded):
        start, end = match.span()
        after = data.currency_after.match(folded, end)
        before = data.currency_before.search(folded, max(0, start - 8), start)
        if after is not None:
            currency_text, end = folded[after.start() : after.end()], after.end()
        elif before is not None:
            currency_text, start = folded[before.start() : before.end()], before.start()
        else:
            continue
        currency = _currency_of(currency_text)
        if currency is None:
            continue
        low = _number(match.group(1), match.group(2))
        high = _number(match.group(3), match.group(4)) if match.group(3) else low
        # The top of a range is what the ad promises.
        amount = max(low, high)
        if amount <= 0:
            continue
        period = _period_near(folded, start, end)
        stated = period is not None
        if period is None:
            if amount < _SMALL_UNKNOWN_PERIOD["hour"]:
                period = "hour"
            elif amount < _SMALL_UNKNOWN_PERIOD["day"]:
                period = "day"
            elif amount >= 15000 and currency in _YEARLY_CURRENCIES:
                period = "year"
            else:
                period = "month"
        found.append(
            Salary(
                amount, currency, period, _monthly(amount, period), text[start:end].strip(), stated
            )
        )
    return found


def parse_salary(text: str) -> Salary | None:
    """The pay stated in ``text``: the first amount with a currency and a stated period,
    else the first amount with a currency; None when there is none."""
    salaries = _salaries(text)
    for salary in salaries:
        if salary.period_stated:
            return salary
    return salaries[0] if salaries else None


def _ad_salary(ad: RawAd) -> Salary | None:
    if ad.salary:
        parsed = parse_salary(ad.salary)
        if parsed is not None:
            return parsed
    return parse_salary(ad.full_text)


# -- sector and destination --------------------------------------------------------------------


def detect_sector(ad: RawAd) -> str | None:
    """The HTCDS ``vic_ForcedLabourIndustry`` code (ISIC Rev.4 section) of the sector whose
    keywords the ad uses most; None when no sector's keywords appear."""
    lowered = _lower_text(_fold(ad.full_text))
    return _sector_of(lowered, _word_index(lowered))


def _sector_of(lowered: str, words: _WordIndex) -> str | None:
    best: tuple[int, str] | None = None
    for sector in _data().sectors:
        count = len(sector.pattern.matches(lowered, words))
        if count and (best is None or count > best[0]):
            best = (count, sector.code)
    return best[1] if best else None


_BABEL_LANGUAGES = ("en", "fr", "es", "pt", "ro", "ru", "uk", "de")
_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


@dataclass(frozen=True)
class _CountryNames:
    by_words: dict[tuple[str, ...], str]
    stems: dict[str, str]
    # First word of a name -> the most words a name starting with it has.
    first_words: dict[str, int]
    acronyms: re.Pattern[str] | None
    acronym_codes: dict[str, str]
    ambiguous: frozenset[tuple[str, ...]]
    preposition: re.Pattern[str]


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.lower() for word in _WORD.findall(_fold(text)))


def _stem(word: str) -> str | None:
    stem = word
    for _ in range(2):
        if len(stem) > 4 and stem[-1] in "аяьйиыіоеуї":
            stem = stem[:-1]
    return stem if stem != word and len(stem) >= 4 else None


def _first_word_lengths(names: Iterable[tuple[str, ...]]) -> dict[str, int]:
    lengths: dict[str, int] = {}
    for words in names:
        lengths[words[0]] = max(lengths.get(words[0], 0), len(words))
    return lengths


@cache
def _country_names() -> _CountryNames:
    from babel import Locale

    known = set(country_codes())
    by_words: dict[tuple[str, ...], str] = {}
    stems: dict[str, str] = {}

    def add(name: str, code: str) -> None:
        words = _words(name)
        if not words:
            return
        by_words.setdefault(words, code)
        if len(words) == 1 and _CYRILLIC.search(words[0]):
            stem = _stem(words[0])
            if stem:
                stems.setdefault(stem, code)

    for language in _BABEL_LANGUAGES:
        for code, name in Locale.parse(language).territories.items():
            if code in known and "(" not in name and "," not in name:
                add(name, code)
    destination = _data().destination
    acronym_codes: dict[str, str] = {}
    for code, names in destination["aliases"].items():
        for name in names:
            # Short upper-case names (UK, EAU, США) are only names when written so.
            if name.upper() == name and len(name.replace(".", "").replace(" ", "")) <= 4:
                acronym_codes[name] = code
            else:
                add(name, code)
    acronyms = (
        re.compile(
            r"(?<!\w)(?:"
            + "|".join(re.escape(a) for a in sorted(acronym_codes, key=len, reverse=True))
            + r")(?!\w)"
        )
        if acronym_codes
        else None
    )
    return _CountryNames(
        by_words=by_words,
        stems=stems,
        first_words=_first_word_lengths(by_words),
        acronyms=acronyms,
        acronym_codes=acronym_codes,
        ambiguous=frozenset(_words(name) for name in destination["ambiguous_names"]),
        preposition=re.compile(
            "|".join(_fold(p) for p in destination["prepositions"]), re.IGNORECASE
        ),
    )


def _country_mentions(text: str) -> list[tuple[int, int, str, bool]]:
    """(start, end, alpha-2, after a preposition) for each country named in ``text``."""
    names = _country_names()
    folded = _fold(text)
    spans = [m.span() for m in _WORD.finditer(folded)]
    tokens = [(start, _lower_text(folded[start:end])) for start, end in spans]
    tokens_end = [end for _, end in spans]
    found: list[tuple[int, int, str, bool]] = []
    index = 0
    while index < len(tokens):
        matched = 0
        longest = names.first_words.get(tokens[index][1], 0)
        for size in range(min(longest, len(tokens) - index), 0, -1):
            key = tuple(word for _, word in tokens[index : index + size])
            code = names.by_words.get(key)
            if code is not None:
                found.append(
                    (tokens[index][0], tokens_end[index + size - 1], code, key in names.ambiguous)
                )
                matched = size
                break
        if not matched:
            word = tokens[index][1]
            if len(word) > 4 and _CYRILLIC.match(word):
                for cut in (1, 2, 3):
                    code = names.stems.get(word[:-cut]) if len(word) - cut >= 4 else None
                    if code is not None:
                        found.append((tokens[index][0], tokens_end[index], code, False))
                        break
        index += matched or 1
    if names.acronyms is not None:
        for match in names.acronyms.finditer(text):
            found.append((match.start(), match.end(), names.acronym_codes[match.group()], False))
    mentions = []
    for start, end, code, ambiguous in sorted(found):
        after_preposition = bool(names.preposition.search(folded[max(0, start - 16) : start]))
        if ambiguous and not after_preposition:
            continue
        mentions.append((start, end, code, after_preposition))
    return mentions


def _destination_in(text: str) -> str | None:
    mentions = _country_mentions(text)
    for _, _, code, after_preposition in mentions:
        if after_preposition:
            return code
    return mentions[0][2] if mentions else None


def detect_destination(ad: RawAd) -> str | None:
    """The country of the job (ISO 3166-1 alpha-2): the location field when it is a country
    code or names a country, else the country named in the text, preferring one written
    after "in/to/en/à/nach/în/в…"; None when no country is named."""
    if ad.location:
        try:
            return normalise_country(ad.location)
        except UnknownCodeError:
            pass
        in_location = _destination_in(ad.location)
        if in_location is not None:
            return in_location
    return _destination_in(ad.full_text)


# -- indicators --------------------------------------------------------------------------------


def _evidence(
    original: str,
    lowered: str,
    index: _WordIndex,
    pattern: _Matcher | None,
    exclude: _Matcher | None,
) -> tuple[str, ...]:
    if pattern is None:
        return ()
    found = pattern.matches(lowered, index)
    if not found:
        return ()
    excluded = [m.span() for m in exclude.matches(lowered, index)] if exclude is not None else []
    words: list[str] = []
    for match in found:
        start, end = match.span()
        if start == end or any(s < end and start < e for s, e in excluded):
            continue
        quoted = original[start:end]
        if quoted not in words:
            words.append(quoted)
            if len(words) == _MAX_EVIDENCE:
                break
    return tuple(words)


def _pay_norm_hits(
    ads: Sequence[RawAd], lowered_texts: Sequence[str], indexes: Sequence[_WordIndex]
) -> list[tuple[str, ...] | None]:
    """Per ad: evidence when pay is far above the batch norm, () when a norm exists and the
    pay is not above it, None when no norm applies (the phrase fallback decides)."""
    norm = _data().pay_norm
    salaries = [_ad_salary(ad) for ad in ads]
    sectors = [
        _sector_of(lowered, index) if salary is not None else None
        for salary, lowered, index in zip(salaries, lowered_texts, indexes, strict=True)
    ]
    groups: dict[tuple[str | None, str], list[float]] = defaultdict(list)
    for sector, salary in zip(sectors, salaries, strict=True):
        if salary is not None:
            groups[(sector, salary.currency)].append(salary.monthly)
    medians = {
        key: statistics.median(values)
        for key, values in groups.items()
        if len(values) >= int(norm["min_comparable"])
    }
    result: list[tuple[str, ...] | None] = []
    for sector, salary in zip(sectors, salaries, strict=True):
        median = medians.get((sector, salary.currency)) if salary is not None else None
        if salary is None or median is None:
            result.append(None)
        elif salary.monthly >= norm["ratio"] * median:
            result.append((salary.text,))
        else:
            result.append(())
    return result


def _foreign_destination(text: str, contacts: Sequence[Contact]) -> tuple[str, ...]:
    """The country named after a preposition when it is not where the ad's phones are."""
    regions = {contact.region for contact in contacts if contact.kind == "phone" and contact.region}
    if not regions:
        return ()
    for start, end, code, after_preposition in _country_mentions(text):
        if after_preposition and code not in regions:
            return (text[start:end],)
    return ()


def find_indicators(
    ads: Sequence[RawAd], contacts: Sequence[Sequence[Contact]]
) -> list[list[IndicatorHit]]:
    """The indicators found in each ad of a batch, in catalogue order, each with the words
    of the ad that triggered it. ``contacts[i]`` are the contacts extracted from ``ads[i]``.
    The batch matters: pay is compared with the other ads of the same sector and currency."""
    if len(ads) != len(contacts):
        raise ValueError(f"{len(ads)} ads but {len(contacts)} contact lists")
    data = _data()
    originals = [ad.full_text for ad in ads]
    folded_texts = [_fold(text) for text in originals]
    lowered_texts = [_lower_text(folded) for folded in folded_texts]
    indexes = [_word_index(lowered) for lowered in lowered_texts]
    pay = _pay_norm_hits(ads, lowered_texts, indexes)
    results: list[list[IndicatorHit]] = []
    for index, original in enumerate(originals):
        lowered, words = lowered_texts[index], indexes[index]
        named_company = bool(data.company.matches(folded_texts[index], words))
        for_rule = functools.partial(_evidence, original, lowered, words)
        hits: list[IndicatorHit] = []
        for compiled in data.rules:
            evidence: tuple[str, ...]
            if compiled.kind == "pay_norm":
                above = pay[index]
                evidence = (
                    above if above is not None else for_rule(compiled.pattern, compiled.exclude)
                )
            elif compiled.kind == "contacts":
                kinds = {contact.kind for contact in contacts[index]}
                if not kinds or not kinds <= _LOCAL_CONTACT_KINDS or named_company:
                    continue
                evidence = for_rule(compiled.pattern, compiled.exclude)
            elif compiled.kind == "vague_employer" and named_company:
                continue
            elif compiled.kind == "work_abroad":
                evidence = for_rule(compiled.pattern, compiled.exclude)
                evidence = evidence or _foreign_destination(original, contacts[index])
            else:
                evidence = for_rule(compiled.pattern, compiled.exclude)
            if evidence:
                hits.append(IndicatorHit(compiled.rule.id, evidence))
        results.append(hits)
    return results
