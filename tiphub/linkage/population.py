"""Synthetic multi-origin person records for linkage tests, benchmarks and the demo.

Every name is drawn from a large per-origin table (Faker's per-locale person providers,
read at run time, plus the hand-compiled ``data/population-names.csv`` where Faker has no
locale or too short a list), with a skewed frequency: a few surnames are very common, as
in reality, because identical names of different people are what makes linkage hard. Each
record is then written the way a destination-country agency writes it: in the origin's
script or one of the transliterations in use, with or without diacritics, in one name
order or the other, and with the typing, reading and hearing errors of real registers.

The names are synthetic combinations from public frequency tables, never real records.
"""

from __future__ import annotations

import functools
import importlib
import itertools
import math
import random
import re
import unicodedata
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd

RECORD_COLUMNS = (
    "record_id",
    "list",
    "given_name",
    "family_name",
    "sex",
    "date_of_birth",
    "nationality",
)
TRUTH_COLUMNS = ("record_id", "list", "true_id")
NAMES_FILE = "population-names.csv"
REGISTER_LIST = "register"
# Ages are counted from here so that a seed gives the same people whatever the date.
REFERENCE_YEAR = 2026
# Share of people recorded twice in one list (re-registration under a new case).
SAME_LIST_REPEAT_SHARE = 0.03
# Share of names (each field of each record) with a typing, reading or hearing error.
NAME_ERROR_SHARE = 0.035
# Share of register records whose typed date of birth is impossible (month > 12, future).
IMPOSSIBLE_DATE_SHARE = 0.04


@dataclass(frozen=True)
class OriginSpec:
    """How one origin's people are named and how agencies write those names."""

    code: str
    country: str
    script: str
    female_share: float
    # Ways of writing the name, with their usual shares; each list leans its own way.
    renderings: Mapping[str, float]


ORIGINS: dict[str, OriginSpec] = {
    spec.code: spec
    for spec in (
        OriginSpec(
            "ROU", "Romania", "Latin", 0.55, {"comma": 0.45, "cedilla": 0.15, "plain": 0.40}
        ),
        OriginSpec(
            "UKR",
            "Ukraine",
            "Cyrillic",
            0.62,
            {
                "cyrillic": 0.22,
                "national": 0.38,
                "bgn": 0.14,
                "iso9": 0.06,
                "german": 0.10,
                "polish": 0.10,
            },
        ),
        OriginSpec(
            "VNM",
            "Viet Nam",
            "Latin (Vietnamese)",
            0.52,
            {
                "middle_with_given": 0.37,
                "middle_with_family": 0.13,
                "middle_dropped": 0.26,
                "family_first_swapped": 0.14,
                "whole_name_in_given": 0.05,
                "given_last_in_given": 0.05,
            },
        ),
        OriginSpec(
            "NGA",
            "Nigeria",
            "Latin",
            0.58,
            {
                "as_passport": 0.58,
                "first_given_only": 0.25,
                "middle_with_family": 0.09,
                "respelt": 0.08,
            },
        ),
        OriginSpec(
            "THA",
            "Thailand",
            "Thai",
            0.66,
            {"thai": 0.15, "passport": 0.50, "rtgs": 0.20, "respelt": 0.15},
        ),
        OriginSpec(
            "ALB", "Albania", "Latin", 0.5, {"native": 0.40, "plain": 0.50, "foreign": 0.10}
        ),
        OriginSpec(
            "MDA", "Moldova", "Latin", 0.57, {"comma": 0.40, "cedilla": 0.15, "plain": 0.45}
        ),
        OriginSpec("GBR", "United Kingdom", "Latin", 0.5, {"plain": 1.0}),
        # Not in the default mix; there for mixes that ask for it and for the demo's names.
        OriginSpec("IND", "India", "Latin", 0.5, {"plain": 1.0}),
        OriginSpec(
            "BRA",
            "Brazil",
            "Latin",
            0.55,
            {
                "both_surnames": 0.45,
                "last_surname": 0.35,
                "first_surname": 0.10,
                "both_plain": 0.10,
            },
        ),
    )
}

DEFAULT_MIX: dict[str, float] = {
    "ROU": 0.20,
    "UKR": 0.18,
    "VNM": 0.14,
    "NGA": 0.10,
    "ALB": 0.09,
    "THA": 0.08,
    "GBR": 0.08,
    "MDA": 0.07,
    "BRA": 0.06,
}

# Frequent names first: the Faker tables are alphabetical, and a Zipf weight over the
# alphabet would make "Abraham" the commonest name. These lead, the rest follow shuffled.
_HEADS: dict[tuple[str, str], tuple[str, ...]] = {
    ("UKR", "family"): tuple(
        [
            "Мельник",
            "Шевченко",
            "Бойко",
            "Коваленко",
            "Бондаренко",
            "Ткаченко",
            "Ковальчук",
            "Кравченко",
            "Олійник",
            "Шевчук",
            "Коваль",
            "Поліщук",
            "Бондар",
            "Ткачук",
            "Марченко",
            "Лисенко",
            "Руденко",
            "Савченко",
            "Петренко",
            "Мороз",
        ]
    ),
    ("UKR", "given_f"): tuple(
        [
            "Олена",
            "Наталія",
            "Тетяна",
            "Ірина",
            "Оксана",
            "Світлана",
            "Юлія",
            "Ольга",
            "Ганна",
            "Марія",
            "Людмила",
            "Валентина",
            "Катерина",
            "Вікторія",
            "Анастасія",
        ]
    ),
    ("UKR", "given_m"): tuple(
        [
            "Олександр",
            "Сергій",
            "Андрій",
            "Володимир",
            "Дмитро",
            "Віктор",
            "Іван",
            "Юрій",
            "Микола",
            "Василь",
            "Олег",
            "Максим",
            "Євген",
            "Ігор",
            "Богдан",
        ]
    ),
    ("ROU", "given_f"): tuple(
        [
            "Maria",
            "Elena",
            "Ioana",
            "Ana",
            "Andreea",
            "Mihaela",
            "Cristina",
            "Alexandra",
            "Gabriela",
            "Daniela",
            "Florentina",
            "Georgiana",
            "Alina",
            "Ionela",
            "Nicoleta",
        ]
    ),
    ("ROU", "given_m"): tuple(
        [
            "Ion",
            "Andrei",
            "Alexandru",
            "Gheorghe",
            "Constantin",
            "Mihai",
            "Vasile",
            "Marian",
            "Florin",
            "Adrian",
            "Ionuț",
            "Daniel",
            "Cristian",
            "Nicolae",
            "Gabriel",
        ]
    ),
    ("GBR", "given_f"): tuple(
        [
            "Sarah",
            "Emma",
            "Laura",
            "Claire",
            "Rebecca",
            "Amy",
            "Jessica",
            "Hannah",
            "Sophie",
            "Charlotte",
        ]
    ),
    ("GBR", "given_m"): tuple(
        [
            "David",
            "James",
            "John",
            "Michael",
            "Daniel",
            "Thomas",
            "Christopher",
            "Matthew",
            "Paul",
            "Andrew",
        ]
    ),
    ("GBR", "family"): tuple(
        [
            "Smith",
            "Jones",
            "Williams",
            "Taylor",
            "Brown",
            "Davies",
            "Evans",
            "Wilson",
            "Thomas",
            "Johnson",
        ]
    ),
    ("BRA", "family"): tuple(
        [
            "Silva",
            "Santos",
            "Oliveira",
            "Souza",
            "Rodrigues",
            "Ferreira",
            "Alves",
            "Pereira",
            "Lima",
            "Gomes",
        ]
    ),
}

# Given names many Ukrainians use, or are given by officials, in their Russian form.
_RUSSIAN_FORMS = {
    "Олександр": "Aleksandr",
    "Сергій": "Sergey",
    "Андрій": "Andrey",
    "Володимир": "Vladimir",
    "Дмитро": "Dmitriy",
    "Юрій": "Yuriy",
    "Микола": "Nikolay",
    "Євген": "Evgeniy",
    "Олена": "Elena",
    "Наталія": "Natalya",
    "Тетяна": "Tatyana",
    "Ірина": "Irina",
    "Ольга": "Olga",
    "Світлана": "Svetlana",
    "Катерина": "Ekaterina",
    "Анастасія": "Anastasiya",
    "Вікторія": "Viktoriya",
    "Юлія": "Yuliya",
    "Ганна": "Anna",
    "Людмила": "Lyudmila",
    "Василь": "Vasiliy",
    "Максим": "Maksim",
    "Богдан": "Bogdan",
    "Ігор": "Igor",
}

# Nigerian names written several ways; the first spelling is the one drawn.
_NIGERIAN_SPELLINGS: tuple[tuple[str, ...], ...] = (
    ("Mohammed", "Muhammad", "Mohammad", "Muhammed", "Mohamed"),
    ("Aisha", "Aishat", "Ayesha"),
    ("Fatima", "Fatimah", "Fatimat"),
    ("Ibrahim", "Ibraheem"),
    ("Yusuf", "Yusuff", "Yussuf"),
    ("Abubakar", "Abubakr", "Abu-Bakar"),
    ("Abdullahi", "Abdullah"),
    ("Aliyu", "Ali"),
    ("Suleiman", "Sulaiman", "Sulaimon"),
    ("Chukwu", "Chukwuh"),
    ("Olawale", "Olawalle"),
)
_NIGERIAN_CHRISTIAN = {
    "F": (
        "Blessing",
        "Precious",
        "Joy",
        "Favour",
        "Mercy",
        "Grace",
        "Gift",
        "Peace",
        "Patience",
        "Comfort",
        "Esther",
        "Ruth",
        "Deborah",
        "Victoria",
        "Mary",
        "Faith",
    ),
    "M": (
        "Emmanuel",
        "Samuel",
        "Daniel",
        "David",
        "John",
        "Peter",
        "Paul",
        "Joseph",
        "Godwin",
        "Sunday",
        "Monday",
        "Friday",
        "Kingsley",
        "Michael",
        "Victor",
        "Godspower",
    ),
}

# --- transliteration -------------------------------------------------------------------

_UKR_VOWELS = set("аеєиіїоуюяАЕЄИІЇОУЮЯ")
_UKR_SCHEMES: dict[str, dict[str, str]] = {
    # Kabinet of Ministers resolution 55 of 2010 (the Latin of Ukrainian passports)
    "national": dict(
        zip(
            "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'’",
            [
                "a",
                "b",
                "v",
                "h",
                "g",
                "d",
                "e",
                "ie",
                "zh",
                "z",
                "y",
                "i",
                "i",
                "i",
                "k",
                "l",
                "m",
                "n",
                "o",
                "p",
                "r",
                "s",
                "t",
                "u",
                "f",
                "kh",
                "ts",
                "ch",
                "sh",
                "shch",
                "_",
                "iu",
                "ia",
                "_",
                "_",
            ],
            strict=True,
        )
    ),
    # BGN/PCGN 1965
    "bgn": dict(
        zip(
            "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'’",
            [
                "a",
                "b",
                "v",
                "h",
                "g",
                "d",
                "e",
                "ye",
                "zh",
                "z",
                "y",
                "i",
                "yi",
                "y",
                "k",
                "l",
                "m",
                "n",
                "o",
                "p",
                "r",
                "s",
                "t",
                "u",
                "f",
                "kh",
                "ts",
                "ch",
                "sh",
                "shch",
                "'",
                "yu",
                "ya",
                "_",
                "_",
            ],
            strict=True,
        )
    ),
    # ISO 9:1995, one letter for one letter, with diacritics
    "iso9": dict(
        zip(
            "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'’",
            [
                "a",
                "b",
                "v",
                "g",
                "g̀",
                "d",
                "e",
                "ê",
                "ž",
                "z",
                "i",
                "ì",
                "ï",
                "j",
                "k",
                "l",
                "m",
                "n",
                "o",
                "p",
                "r",
                "s",
                "t",
                "u",
                "f",
                "h",
                "c",
                "č",
                "š",
                "ŝ",
                "ʹ",
                "û",
                "â",
                "ʼ",
                "ʼ",
            ],
            strict=True,
        )
    ),
    # German-speaking agencies (Duden): Schewtschenko, Kowalenko
    "german": dict(
        zip(
            "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'’",
            [
                "a",
                "b",
                "w",
                "h",
                "g",
                "d",
                "e",
                "je",
                "sch",
                "s",
                "y",
                "i",
                "ji",
                "j",
                "k",
                "l",
                "m",
                "n",
                "o",
                "p",
                "r",
                "s",
                "t",
                "u",
                "f",
                "ch",
                "z",
                "tsch",
                "sch",
                "schtsch",
                "_",
                "ju",
                "ja",
                "_",
                "_",
            ],
            strict=True,
        )
    ),
    # Polish agencies: Szewczenko, Kowalenko
    "polish": dict(
        zip(
            "абвгґдеєжзиіїйклмнопрстуфхцчшщьюя'’",
            [
                "a",
                "b",
                "w",
                "h",
                "g",
                "d",
                "e",
                "je",
                "ż",
                "z",
                "y",
                "i",
                "ji",
                "j",
                "k",
                "ł",
                "m",
                "n",
                "o",
                "p",
                "r",
                "s",
                "t",
                "u",
                "f",
                "ch",
                "c",
                "cz",
                "sz",
                "szcz",
                "_",
                "ju",
                "ja",
                "_",
                "_",
            ],
            strict=True,
        )
    ),
}
_NATIONAL_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
_POLISH_SOFT = {"л": "l", "н": "ń", "с": "ś", "з": "ź", "ц": "ć"}
_POLISH_AFTER_CONSONANT = {"є": "ie", "ю": "iu", "я": "ia"}


def _transliterate_word(word: str, scheme: str) -> str:
    table = _UKR_SCHEMES[scheme]
    lower = word.lower()
    out: list[str] = []
    for i, char in enumerate(lower):
        prev = lower[i - 1] if i else ""
        nxt = lower[i + 1] if i + 1 < len(lower) else ""
        if char not in table:
            out.append(char)
            continue
        piece = table[char]
        if scheme == "national":
            if i == 0 and char in _NATIONAL_INITIAL:
                piece = _NATIONAL_INITIAL[char]
            elif char == "г" and prev == "з":
                piece = "gh"
        elif scheme == "polish":
            if char in _POLISH_SOFT and nxt == "ь":
                piece = _POLISH_SOFT[char]
            elif char == "л" and nxt in "еєіюяї":
                piece = "l"
            elif (
                char in _POLISH_AFTER_CONSONANT
                and prev
                and prev not in _UKR_VOWELS
                and prev not in "ь'’"
            ):
                piece = _POLISH_AFTER_CONSONANT[char]
        elif scheme == "german" and char == "с" and prev in _UKR_VOWELS and nxt in _UKR_VOWELS:
            piece = "ss"
        out.append("" if piece == "_" else piece)
    text = "".join(out)
    return text[:1].upper() + text[1:] if word[:1].isupper() else text


@functools.cache
def _ukrainian_latin(name: str, scheme: str) -> str:
    return " ".join(
        "-".join(_transliterate_word(part, scheme) for part in token.split("-"))
        for token in name.split(" ")
    )


_ROMANIAN_CEDILLA = str.maketrans("șțȘȚ", "şţŞŢ")
_ROMANIAN_PLAIN = str.maketrans("șțȘȚşţŞŢăâîĂÂÎ", "stSTstSTaaiAAI")
_ALBANIAN_PLAIN = str.maketrans("ëçËÇ", "ecEC")


@functools.cache
def _without_marks(text: str) -> str:
    """Drop diacritics the way a keyboard without them does: đ becomes d, ư becomes u."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text)
    return "".join(char for char in decomposed if not unicodedata.combining(char))


@functools.cache
def _albanian_foreign(name: str) -> str:
    """Italian or Greek clerks: Xhafa as Giafa or Jafa, Çela as Chela."""
    text = name.replace("Xh", "Gi").replace("xh", "gi").replace("Ç", "Ch").replace("ç", "ch")
    return text.replace("Sh", "Sc").replace("Gj", "Gi").translate(_ALBANIAN_PLAIN)


# Popular spellings Thai people choose for their passports, from the royal system.
_THAI_RESPELLINGS: tuple[tuple[re.Pattern[str], str, float], ...] = tuple(
    (re.compile(pattern), replacement, share)
    for pattern, replacement, share in (
        (r"phon(?![aeiou])", "porn", 0.6),
        (r"kon$", "korn", 0.6),
        (r"thon$", "thorn", 0.4),
        (r"ph", "p", 0.6),
        (r"^ch", "j", 0.25),
        (r"kh", "k", 0.5),
        (r"th", "t", 0.3),
        (r"kaeo", "kaew", 0.7),
        (r"oe", "er", 0.6),
        (r"ue", "ua", 0.3),
        (r"i$", "ee", 0.5),
        (r"u(?=[nkm])", "oo", 0.4),
        (r"^w", "v", 0.25),
        (r"at$", "as", 0.15),
    )
)


def _thai_respelt(rtgs: str, draw: random.Random) -> str:
    words = []
    for word in rtgs.split(" "):
        text = word.lower()
        for pattern, replacement, share in _THAI_RESPELLINGS:
            if draw.random() < share:
                text = pattern.sub(replacement, text)
        words.append(text[:1].upper() + text[1:])
    return " ".join(words)


def _nigerian_respelt(name: str, draw: random.Random) -> str:
    for spellings in _NIGERIAN_SPELLINGS:
        if name in spellings:
            return draw.choice(spellings)
    if name.startswith("Oluwa") and len(name) > 7:
        return name[5:].capitalize()
    return name


# --- name tables ---------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    names: tuple[str, ...]
    weights: np.ndarray
    latin: tuple[str, ...] = ()

    def draw(self, generator: np.random.Generator, size: int) -> np.ndarray:
        index = generator.choice(len(self.names), size=size, p=self.weights)
        return np.asarray(self.names, dtype=object)[index]

    def draw_index(self, generator: np.random.Generator, size: int) -> np.ndarray:
        return np.asarray(generator.choice(len(self.names), size=size, p=self.weights))


def _zipf(count: int, exponent: float, offset: float = 1.5) -> np.ndarray:
    weights: np.ndarray = 1.0 / (np.arange(count) + offset) ** exponent
    return np.asarray(weights / weights.sum())


def _ordered(origin: str, kind: str, names: Sequence[str]) -> tuple[str, ...]:
    """Known frequent names first, the rest shuffled by a fixed seed, duplicates once."""
    unique = list(dict.fromkeys(name for name in names if name))
    heads = [name for name in _HEADS.get((origin, kind), ()) if name]
    rest = [name for name in unique if name not in set(heads)]
    random.Random(zlib.crc32(f"{origin}/{kind}".encode())).shuffle(rest)
    return tuple(dict.fromkeys([*heads, *rest]))


def _faker(locale: str, attribute: str) -> list[str]:
    provider = importlib.import_module(f"faker.providers.person.{locale}").Provider
    values = getattr(provider, attribute)
    return list(values.keys() if isinstance(values, Mapping) else values)


def _single_surnames(names: Sequence[str]) -> list[str]:
    """Brazilian surnames that are one name (with its particle), so two of them make a pair."""
    kept = []
    for name in names:
        words = name.split(" ")
        if words[0] in ("da", "de", "do", "das", "dos"):
            words = words[1:]
        # "Aparecida" is a given name in Faker's surname list.
        if len(words) == 1 and name != "Aparecida":
            kept.append(name)
    return kept


def _zipf_table(origin: str, kind: str, names: Sequence[str], exponent: float) -> _Table:
    ordered = _ordered(origin, kind, names)
    return _Table(ordered, _zipf(len(ordered), exponent))


@functools.cache
def _shipped() -> pd.DataFrame:
    path = resources.files("tiphub.linkage").joinpath("data", NAMES_FILE)
    with path.open("r", encoding="utf-8") as handle:
        return pd.read_csv(handle, dtype=str, keep_default_na=False)


def _shipped_rows(origin: str, kind: str) -> pd.DataFrame:
    table = _shipped()
    return table[(table["origin"] == origin) & (table["kind"] == kind)]


def _shipped_names(origin: str, kind: str) -> list[str]:
    return list(_shipped_rows(origin, kind)["name"])


def _published_shares(origin: str, kind: str, tail_exponent: float) -> _Table:
    """Published shares for the names that have one; the remainder spread Zipf-like."""
    rows = _shipped_rows(origin, kind)
    shares = pd.to_numeric(rows["share"], errors="coerce").to_numpy(dtype=float)
    known = ~np.isnan(shares)
    weights = np.where(known, shares, 0.0)
    tail = int((~known).sum())
    if tail:
        remainder = max(100.0 - weights.sum(), 0.0) if kind == "family" else weights.sum() * 0.1
        weights[~known] = _zipf(tail, tail_exponent) * remainder
    return _Table(tuple(rows["name"]), weights / weights.sum())


@functools.cache
def _tables(origin: str) -> dict[str, _Table]:
    if origin == "UKR":
        return {
            "given_f": _zipf_table(origin, "given_f", _faker("uk_UA", "first_names_female"), 1.0),
            "given_m": _zipf_table(origin, "given_m", _faker("uk_UA", "first_names_male"), 1.0),
            "middle_f": _zipf_table(
                origin, "middle_f", _faker("uk_UA", "middle_names_female"), 0.9
            ),
            "middle_m": _zipf_table(origin, "middle_m", _faker("uk_UA", "middle_names_male"), 0.9),
            "family": _zipf_table(origin, "family", _faker("uk_UA", "last_names_common"), 0.95),
        }
    if origin in ("ROU", "MDA"):
        tables = {
            "given_f": _zipf_table("ROU", "given_f", _faker("ro_RO", "first_names_female"), 1.0),
            "given_m": _zipf_table("ROU", "given_m", _faker("ro_RO", "first_names_male"), 1.0),
        }
        surnames = _shipped_names(origin, "family") + (
            _faker("ro_RO", "last_names") if origin == "ROU" else []
        )
        tables["family"] = _Table(
            tuple(dict.fromkeys(surnames)), _zipf(len(dict.fromkeys(surnames)), 0.9)
        )
        if origin == "MDA":
            tables["given_f_ru"] = _Table(
                tuple(_shipped_names(origin, "given_f_ru")),
                _zipf(len(_shipped_names(origin, "given_f_ru")), 0.8),
            )
            tables["given_m_ru"] = _Table(
                tuple(_shipped_names(origin, "given_m_ru")),
                _zipf(len(_shipped_names(origin, "given_m_ru")), 0.8),
            )
        return tables
    if origin == "VNM":
        faker_f = _faker("vi_VN", "first_names_female") + _faker("vi_VN", "first_names_unisex")
        faker_m = _faker("vi_VN", "first_names_male") + _faker("vi_VN", "first_names_unisex")
        return {
            "family": _published_shares(origin, "family", 1.0),
            "middle_f": _published_shares(origin, "middle_f", 1.0),
            "middle_m": _published_shares(origin, "middle_m", 1.0),
            "given_f": _zipf_table(
                origin, "given_f", _shipped_names(origin, "given_f") + faker_f, 0.8
            ),
            "given_m": _zipf_table(
                origin, "given_m", _shipped_names(origin, "given_m") + faker_m, 0.8
            ),
        }
    if origin == "THA":
        tables = {}
        for kind in ("given_f", "given_m", "family_head", "family_tail"):
            rows = _shipped_rows(origin, kind)
            tables[kind] = _Table(tuple(rows["name"]), _zipf(len(rows), 0.5), tuple(rows["latin"]))
        tables["nickname"] = _Table(
            tuple(_shipped_names(origin, "nickname")),
            _zipf(len(_shipped_names(origin, "nickname")), 0.7),
        )
        return tables
    if origin == "ALB":
        return {
            kind: _zipf_table(origin, kind, _shipped_names(origin, kind), 0.9)
            for kind in ("given_f", "given_m", "family")
        }
    if origin == "NGA":
        tables = {}
        for group in ("yo_NG", "ig_NG", "ha_NG"):
            family = _faker(group, "last_names") + (
                _faker("en_NG", "last_names") if group != "ha_NG" else []
            )
            tables[f"{group}/family"] = _zipf_table(origin, f"{group}/family", family, 0.8)
            for sex, attribute in (("f", "first_names_female"), ("m", "first_names_male")):
                tables[f"{group}/given_{sex}"] = _zipf_table(
                    origin, f"{group}/given_{sex}", _faker(group, attribute), 0.8
                )
        return tables
    if origin in ("GBR", "IND"):
        locale = {"GBR": "en_GB", "IND": "en_IN"}[origin]
        return {
            "given_f": _zipf_table(origin, "given_f", _faker(locale, "first_names_female"), 1.0),
            "given_m": _zipf_table(origin, "given_m", _faker(locale, "first_names_male"), 1.0),
            "family": _zipf_table(origin, "family", _faker(locale, "last_names"), 0.9),
        }
    if origin == "BRA":
        return {
            "given_f": _zipf_table(origin, "given_f", _faker("pt_BR", "first_names_female"), 0.9),
            "given_m": _zipf_table(origin, "given_m", _faker("pt_BR", "first_names_male"), 0.9),
            "family": _zipf_table(
                origin,
                "family",
                _single_surnames(_faker("pt_BR", "last_names")),
                1.0,
            ),
        }
    raise KeyError(origin)


def name_pairs(origin: str, sex: str, kind: str = "given") -> tuple[tuple[str, str], ...]:
    """An origin's names, most common first, each as (Latin, native script).

    ``kind`` is ``given`` or ``family``; ``sex`` is ``F`` or ``M`` (family names of
    origins with gendered forms are the forms both sexes share). The Latin of Ukrainian
    names is the national (passport) transliteration, of Thai names the royal system.
    """
    tables = _tables(origin)
    given = f"given_{sex.lower()}"
    if origin == "THA":
        if kind == "given":
            return tuple(zip(tables[given].latin, tables[given].names, strict=True))
        heads, tails = tables["family_head"], tables["family_tail"]
        return tuple(
            (heads.latin[h] + tails.latin[t], heads.names[h] + tails.names[t])
            for t in range(len(tails.names))
            for h in range(len(heads.names))
        )
    if origin == "NGA":
        # Yoruba, Igbo and Hausa names in turn, so that any leading slice has all three.
        groups = [
            tables[f"{group}/{'family' if kind == 'family' else given}"].names
            for group in ("yo_NG", "ig_NG", "ha_NG")
        ]
        names = [name for row in itertools.zip_longest(*groups) for name in row if name]
        return tuple((name, name) for name in dict.fromkeys(names))
    table = tables["family" if kind == "family" else given]
    if origin == "UKR":
        latin = {_ukrainian_latin(name, "national"): name for name in reversed(table.names)}
        return tuple(
            (_ukrainian_latin(name, "national"), name)
            for name in table.names
            if latin[_ukrainian_latin(name, "national")] == name
        )
    return tuple((name, name) for name in table.names)


def name_pool(origin: str, sex: str, kind: str = "given") -> tuple[str, ...]:
    """An origin's names in Latin, most common first (see ``name_pairs``)."""
    return tuple(latin for latin, _ in name_pairs(origin, sex, kind))


# --- people --------------------------------------------------------------------------


@dataclass
class _People:
    origin: np.ndarray
    sex: np.ndarray
    given: np.ndarray
    family: np.ndarray
    # The second given name, patronymic, father's name, Vietnamese middle name or Thai nickname.
    middle: np.ndarray
    # The romanisation a Thai person uses in their passport (given, family), else "".
    given_latin: np.ndarray
    family_latin: np.ndarray
    birth: np.ndarray  # year, month, day

    def __len__(self) -> int:
        return len(self.origin)


def _fill_by_sex(
    generator: np.random.Generator, sex: np.ndarray, female: _Table, male: _Table
) -> np.ndarray:
    out = np.empty(len(sex), dtype=object)
    is_female = sex == "F"
    out[is_female] = female.draw(generator, int(is_female.sum()))
    out[~is_female] = male.draw(generator, int((~is_female).sum()))
    return out


def _patronymic_latin(father: str, sex: str) -> str:
    stem = father[:-1] + "i" if father[-1:] in "aeiu" else father
    return (
        stem + ("evna" if sex == "F" else "evici")
        if stem.endswith("i")
        else stem + ("ovna" if sex == "F" else "ovici")
    )


def _make_origin(code: str, count: int, generator: np.random.Generator) -> dict[str, np.ndarray]:
    spec = ORIGINS[code]
    tables = _tables(code)
    sex = np.where(generator.random(count) < spec.female_share, "F", "M").astype(object)
    middle = np.full(count, "", dtype=object)
    given_latin = np.full(count, "", dtype=object)
    family_latin = np.full(count, "", dtype=object)
    draw = random.Random(int(generator.integers(2**63)))
    if code == "NGA":
        group = generator.choice(["yo_NG", "ig_NG", "ha_NG"], size=count, p=[0.42, 0.33, 0.25])
        given = np.empty(count, dtype=object)
        family = np.empty(count, dtype=object)
        for name in ("yo_NG", "ig_NG", "ha_NG"):
            chosen = group == name
            given[chosen] = _fill_by_sex(
                generator, sex[chosen], tables[f"{name}/given_f"], tables[f"{name}/given_m"]
            )
            family[chosen] = tables[f"{name}/family"].draw(generator, int(chosen.sum()))
            second = chosen & (generator.random(count) < 0.55)
            # A Christian or Muslim given name beside the vernacular one, or a second vernacular one.
            christian = second & (generator.random(count) < 0.5) & (name != "ha_NG")
            middle[christian] = [draw.choice(_NIGERIAN_CHRISTIAN[s]) for s in sex[christian]]
            vernacular = second & ~christian
            middle[vernacular] = _fill_by_sex(
                generator, sex[vernacular], tables[f"{name}/given_f"], tables[f"{name}/given_m"]
            )
        married = (sex == "F") & (generator.random(count) < 0.08)
        family[married] = [
            f"{a}-{b}"
            for a, b in zip(
                family[married], family[generator.permutation(count)][married], strict=True
            )
        ]
    elif code == "THA":
        given_index = np.where(
            sex == "F",
            tables["given_f"].draw_index(generator, count),
            tables["given_m"].draw_index(generator, count),
        )
        given = np.array(
            [tables[f"given_{s.lower()}"].names[i] for s, i in zip(sex, given_index, strict=True)],
            dtype=object,
        )
        rtgs_given = [
            tables[f"given_{s.lower()}"].latin[i] for s, i in zip(sex, given_index, strict=True)
        ]
        head = tables["family_head"].draw_index(generator, count)
        tail = tables["family_tail"].draw_index(generator, count)
        tail2 = np.where(
            generator.random(count) < 0.3, tables["family_tail"].draw_index(generator, count), -1
        )
        heads, tails = tables["family_head"], tables["family_tail"]
        family = np.array(
            [
                heads.names[h] + tails.names[t] + (tails.names[u] if u >= 0 else "")
                for h, t, u in zip(head, tail, tail2, strict=True)
            ],
            dtype=object,
        )
        rtgs_family = [
            heads.latin[h] + tails.latin[t] + (tails.latin[u] if u >= 0 else "")
            for h, t, u in zip(head, tail, tail2, strict=True)
        ]
        middle = tables["nickname"].draw(generator, count)
        # The royal romanisation is the fallback; the passport carries the person's own choice.
        given_latin = np.array([f"{g}|{_thai_respelt(g, draw)}" for g in rtgs_given], dtype=object)
        family_latin = np.array(
            [f"{f}|{_thai_respelt(f, draw)}" for f in rtgs_family], dtype=object
        )
    else:
        given = _fill_by_sex(generator, sex, tables["given_f"], tables["given_m"])
        family = tables["family"].draw(generator, count)
        if code == "MDA":
            russian = generator.random(count) < 0.3
            given[russian] = _fill_by_sex(
                generator, sex[russian], tables["given_f_ru"], tables["given_m_ru"]
            )
            fathers = tables["given_m"].draw(generator, count)
            has_patronymic = generator.random(count) < 0.4
            middle[has_patronymic] = [
                _patronymic_latin(f, s)
                for f, s in zip(fathers[has_patronymic], sex[has_patronymic], strict=True)
            ]
        elif code == "UKR" or code == "VNM":
            middle = _fill_by_sex(generator, sex, tables["middle_f"], tables["middle_m"])
        elif code == "ALB":
            middle = tables["given_m"].draw(generator, count)  # father's name, on Albanian papers
        elif code in ("ROU", "GBR", "IND", "BRA"):
            second = (
                generator.random(count) < {"ROU": 0.3, "GBR": 0.45, "IND": 0.3, "BRA": 0.35}[code]
            )
            middle[second] = _fill_by_sex(
                generator, sex[second], tables["given_f"], tables["given_m"]
            )
            if code == "ROU":
                hyphen = second & (generator.random(count) < 0.35)
                given[hyphen] = [
                    f"{a}-{b}" for a, b in zip(given[hyphen], middle[hyphen], strict=True)
                ]
                middle[hyphen] = ""
            if code == "BRA":
                # Mother's surname then father's: "Souza Lima".
                mothers = tables["family"].draw(generator, count)
                both = generator.random(count) < 0.8
                family[both] = [
                    f"{m} {f}" for m, f in zip(mothers[both], family[both], strict=True)
                ]
    return {
        "sex": sex,
        "given": given,
        "family": family,
        "middle": middle,
        "given_latin": given_latin,
        "family_latin": family_latin,
    }


def _births(generator: np.random.Generator, count: int) -> np.ndarray:
    age = np.clip(13.0 + generator.gamma(2.3, 7.0, size=count), 0.0, 85.0)
    year = REFERENCE_YEAR - np.floor(age).astype(int)
    month = generator.integers(1, 13, size=count)
    days_in_month = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])[month - 1]
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    days_in_month = days_in_month + ((month == 2) & leap)
    day = 1 + np.floor(generator.random(count) * days_in_month).astype(int)
    return np.stack([year, month, day], axis=1)


def _normalised_mix(mix: Mapping[str, float] | None) -> dict[str, float]:
    chosen = dict(DEFAULT_MIX if mix is None else mix)
    unknown = sorted(set(chosen) - set(ORIGINS))
    if unknown:
        raise ValueError(f"unknown origins {unknown}; known: {sorted(ORIGINS)}")
    if any(share < 0 or not math.isfinite(share) for share in chosen.values()):
        raise ValueError("origin shares must be finite and not negative")
    total = sum(chosen.values())
    if total <= 0:
        raise ValueError("origin shares must add up to more than 0")
    return {code: share / total for code, share in chosen.items() if share > 0}


def _make_people(
    count: int, mix: Mapping[str, float] | None, generator: np.random.Generator
) -> _People:
    shares = _normalised_mix(mix)
    codes = list(shares)
    origin = np.asarray(codes, dtype=object)[
        generator.choice(len(codes), size=count, p=list(shares.values()))
    ]
    columns: dict[str, np.ndarray] = {
        name: np.full(count, "", dtype=object)
        for name in ("sex", "given", "family", "middle", "given_latin", "family_latin")
    }
    for code in codes:
        chosen = np.flatnonzero(origin == code)
        if chosen.size:
            for name, values in _make_origin(code, chosen.size, generator).items():
                columns[name][chosen] = values
    return _People(origin=origin, birth=_births(generator, count), **columns)


# --- how each record writes the name -------------------------------------------------

Renderer = Callable[[str, str, str, str, str, str, float], tuple[str, str]]


def _render_ukr(
    rendering: str, sex: str, given: str, family: str, middle: str, _: str, u: float
) -> tuple[str, str]:
    with_patronymic = u < 0.12
    if rendering == "cyrillic":
        return (f"{given} {middle}" if with_patronymic else given), family
    latin_given = _RUSSIAN_FORMS.get(given) if 0.12 <= u < 0.18 else None
    out_given = latin_given or _ukrainian_latin(given, rendering)
    if with_patronymic:
        out_given = f"{out_given} {_ukrainian_latin(middle, rendering)}"
    return out_given, _ukrainian_latin(family, rendering)


def _render_romanian(
    rendering: str, sex: str, given: str, family: str, middle: str, _: str, u: float
) -> tuple[str, str]:
    if middle and u < 0.35 and not middle.endswith(("ovici", "ovna", "evici", "evna")):
        given = f"{given} {middle}"
    elif middle and u > 0.9:
        # Soviet-style papers of Moldovans carry a patronymic; ROU second names land here too.
        given = f"{given} {middle}"
    if rendering == "cedilla":
        return given.translate(_ROMANIAN_CEDILLA), family.translate(_ROMANIAN_CEDILLA)
    if rendering == "plain":
        return given.translate(_ROMANIAN_PLAIN), family.translate(_ROMANIAN_PLAIN)
    return given, family


def _render_vnm(
    rendering: str, sex: str, given: str, family: str, middle: str, _: str, u: float
) -> tuple[str, str]:
    if u < 0.62:
        given, family, middle = (
            _without_marks(given),
            _without_marks(family),
            _without_marks(middle),
        )
    given_middle = f"{middle} {given}".strip()
    if rendering == "middle_with_given":
        return given_middle, family
    if rendering == "middle_with_family":
        return given, f"{family} {middle}".strip()
    if rendering == "middle_dropped":
        return given, family
    if rendering == "family_first_swapped":
        # Written family-first, read given-first: "Nguyen" as given, "Thi Lan" as family.
        return (family, given_middle) if u % 0.1 < 0.06 else (f"{family} {middle}".strip(), given)
    if rendering == "whole_name_in_given":
        return f"{family} {given_middle}", ""
    return f"{given_middle} {family}", ""


def _render_tha(
    rendering: str, sex: str, given: str, family: str, nickname: str, latin: str, u: float
) -> tuple[str, str]:
    if rendering == "thai":
        return given, family
    given_latin, family_latin = latin.split("/")
    given_rtgs, given_passport = given_latin.split("|")
    family_rtgs, family_passport = family_latin.split("|")
    if rendering == "rtgs":
        out = (given_rtgs, family_rtgs)
    elif rendering == "respelt":
        draw = random.Random(int(u * 2**40))
        out = (_thai_respelt(given_rtgs, draw), _thai_respelt(family_rtgs, draw))
    else:
        out = (given_passport, family_passport)
    # Thai people are known by their nicknames; a clerk may write that instead.
    return (nickname, out[1]) if u < 0.06 else out


def _render_nga(
    rendering: str, sex: str, given: str, family: str, middle: str, _: str, u: float
) -> tuple[str, str]:
    if rendering == "first_given_only" or not middle:
        out = (given, family)
    elif rendering == "middle_with_family":
        out = (given, f"{middle} {family}")
    else:
        out = (f"{given} {middle}", family)
    if "-" in out[1] and u < 0.5:
        parts = out[1].split("-")
        out = (out[0], parts[0] if u < 0.2 else parts[-1] if u < 0.35 else " ".join(parts))
    if rendering == "respelt":
        draw = random.Random(int(u * 2**40))
        out = (
            " ".join(_nigerian_respelt(p, draw) for p in out[0].split(" ")),
            " ".join(_nigerian_respelt(p, draw) for p in out[1].split(" ")),
        )
    return out


def _render_alb(
    rendering: str, sex: str, given: str, family: str, father: str, _: str, u: float
) -> tuple[str, str]:
    if u < 0.08:
        given = f"{given} {father}"
    if rendering == "plain":
        return given.translate(_ALBANIAN_PLAIN), family.translate(_ALBANIAN_PLAIN)
    if rendering == "foreign":
        return _albanian_foreign(given), _albanian_foreign(family)
    return given, family


def _render_gbr(
    rendering: str, sex: str, given: str, family: str, middle: str, _: str, u: float
) -> tuple[str, str]:
    if middle and u < 0.3:
        return f"{given} {middle}", family
    if middle and u < 0.38:
        return f"{given} {middle[0]}", family
    return given, family


def _render_bra(
    rendering: str, sex: str, given: str, family: str, middle: str, _: str, u: float
) -> tuple[str, str]:
    if middle and u < 0.4:
        given = f"{given} {middle}"
    parts = family.split(" ")
    if rendering == "last_surname" and len(parts) > 1:
        family = (
            parts[-1] if parts[-2] not in ("da", "de", "do", "das", "dos") else " ".join(parts[-2:])
        )
    elif rendering == "first_surname" and len(parts) > 1:
        family = (
            parts[0] if parts[0] not in ("da", "de", "do", "das", "dos") else " ".join(parts[:2])
        )
    elif rendering == "both_plain":
        return _without_marks(given), _without_marks(family)
    return given, family


_RENDERERS: dict[str, Renderer] = {
    "UKR": _render_ukr,
    "ROU": _render_romanian,
    "MDA": _render_romanian,
    "VNM": _render_vnm,
    "THA": _render_tha,
    "NGA": _render_nga,
    "ALB": _render_alb,
    "GBR": _render_gbr,
    "IND": _render_gbr,
    "BRA": _render_bra,
}

# --- noise ---------------------------------------------------------------------------


def _neighbours(rows: Sequence[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for r, row in enumerate(rows):
        for c, char in enumerate(row):
            near = [row[c - 1] if c else "", row[c + 1] if c + 1 < len(row) else ""]
            for other in (r - 1, r + 1):
                if 0 <= other < len(rows):
                    near.append(rows[other][c] if c < len(rows[other]) else "")
            found[char] = "".join(near)
    return found


_KEYBOARD = {
    **_neighbours(("qwertyuiop", "asdfghjkl", "zxcvbnm")),
    **_neighbours(("йцукенгшщзхї", "фівапролджє", "ячсмитьбю")),
}
_PHONETIC = (
    ("ph", "f"),
    ("f", "ph"),
    ("c", "k"),
    ("k", "c"),
    ("v", "w"),
    ("w", "v"),
    ("y", "i"),
    ("i", "y"),
    ("ee", "i"),
    ("ou", "u"),
    ("sh", "s"),
    ("ch", "tch"),
    ("j", "y"),
    ("th", "t"),
    ("ck", "k"),
    ("ei", "ai"),
    ("ai", "ei"),
    ("z", "s"),
    ("s", "z"),
    ("x", "ks"),
    ("q", "k"),
    ("tt", "t"),
    ("ll", "l"),
    ("nn", "n"),
    ("ss", "s"),
    ("l", "ll"),
    ("n", "nn"),
    ("ie", "y"),
    ("oo", "u"),
    ("u", "oo"),
    ("ea", "e"),
    ("gh", "g"),
    ("kh", "h"),
    ("ts", "tz"),
    ("d", "t"),
    ("b", "p"),
    ("и", "і"),
    ("і", "и"),
    ("е", "є"),
    ("г", "ґ"),
    ("о", "а"),
    ("ий", "ій"),
    ("нн", "н"),
)
# Reading a scan: rn/m and cl/d are common; digits in names (l/1, O/0) are rare.
_OCR = (
    ("rn", "m"),
    ("m", "rn"),
    ("cl", "d"),
    ("d", "cl"),
    ("vv", "w"),
    ("e", "c"),
    ("i", "l"),
    ("h", "b"),
    ("rn", "m"),
    ("m", "rn"),
    ("l", "1"),
    ("O", "0"),
)


def _keyboard_typo(name: str, draw: random.Random) -> str:
    spots = [i for i, char in enumerate(name) if char.lower() in _KEYBOARD]
    if not spots:
        return _dropped_letter(name, draw)
    i = draw.choice(spots)
    options = _KEYBOARD[name[i].lower()]
    new = draw.choice(options) if options else name[i]
    return name[:i] + (new.upper() if name[i].isupper() else new) + name[i + 1 :]


def _substituted(name: str, pairs: Sequence[tuple[str, str]], draw: random.Random) -> str:
    lower = name.lower()
    found = [(old, new) for old, new in pairs if old.lower() in lower]
    if not found:
        return _keyboard_typo(name, draw)
    old, new = draw.choice(found)
    start = [m.start() for m in re.finditer(re.escape(old.lower()), lower)]
    i = draw.choice(start)
    piece = new.capitalize() if name[i].isupper() and new.isalpha() else new
    return name[:i] + piece + name[i + len(old) :]


def _dropped_letter(name: str, draw: random.Random) -> str:
    if len(name) < 4:
        return name + name[-1:] if name else name
    i = draw.randrange(1, len(name))
    return name[:i] + name[i + 1 :]


def _doubled_letter(name: str, draw: random.Random) -> str:
    if not name:
        return name
    i = draw.randrange(len(name))
    return name[: i + 1] + name[i].lower() + name[i + 1 :]


def _transposed(name: str, draw: random.Random) -> str:
    if len(name) < 3:
        return name
    i = draw.randrange(1, len(name) - 1)
    return name[:i] + name[i + 1] + name[i] + name[i + 2 :]


_NAME_ERRORS: tuple[tuple[Callable[[str, random.Random], str], float], ...] = (
    (_keyboard_typo, 0.33),
    (lambda name, draw: _substituted(name, _PHONETIC, draw), 0.27),
    (_dropped_letter, 0.15),
    (_doubled_letter, 0.10),
    (_transposed, 0.10),
    (lambda name, draw: _substituted(name, _OCR, draw), 0.05),
)


def _misspelt(name: str, draw: random.Random) -> str:
    if not name:
        return name
    pick = draw.random()
    for error, share in _NAME_ERRORS:
        if pick < share:
            return error(name, draw)
        pick -= share
    return name


# --- dates ---------------------------------------------------------------------------

_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _date_text(year: int, month: int, day: int) -> str:
    return f"{year:04d}-{month:02d}-{day:02d}"


def _valid(year: int, month: int, day: int) -> bool:
    if not (1 <= month <= 12 and 1 <= day <= _DAYS[month - 1]):
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return not (month == 2 and day == 29 and not leap)


def _digit_off(year: int, month: int, day: int, draw: random.Random) -> tuple[int, int, int]:
    for _ in range(6):
        part = draw.randrange(3)
        step = draw.choice((-1, 1))
        if part == 0:
            digit = draw.choice((1, 10))
            changed = (year + step * digit, month, day)
        elif part == 1:
            changed = (year, month + step, day)
        else:
            changed = (year, month, day + step * draw.choice((1, 10)))
        if _valid(*changed) and changed[0] <= REFERENCE_YEAR:
            return changed
    return year, month, day


def _impossible(year: int, month: int, day: int, draw: random.Random) -> str:
    """Typed, not validated: day and month the wrong way round, 19 typed as 20 (2086-21-01)."""
    if day > 12 and draw.random() < 0.7:
        return _date_text(year + 100 if draw.random() < 0.5 else year, day, month)
    return _date_text(year + 100, month, day)


def _dates(
    births: np.ndarray, generator: np.random.Generator, draw: random.Random, register: bool
) -> list[str]:
    count = len(births)
    pick = generator.random(count)
    texts: list[str] = []
    cut_missing, cut_year, cut_month, cut_first = 0.025, 0.045, 0.06, 0.07
    cut_swap, cut_digit = 0.09, 0.12
    cut_impossible = cut_digit + (IMPOSSIBLE_DATE_SHARE if register else 0.0)
    for (year, month, day), p in zip(births.tolist(), pick.tolist(), strict=True):
        if p >= cut_impossible:
            texts.append(_date_text(year, month, day))
        elif p < cut_missing:
            texts.append("")
        elif p < cut_year:
            texts.append(f"{year:04d}")
        elif p < cut_month:
            texts.append(f"{year:04d}-{month:02d}")
        elif p < cut_first:
            # Unknown day and month, entered as the first of January.
            texts.append(_date_text(year, 1, 1))
        elif p < cut_swap:
            texts.append(
                _date_text(year, day, month) if day <= 12 else _date_text(year, month, day)
            )
        elif p < cut_digit:
            texts.append(_date_text(*_digit_off(year, month, day, draw)))
        else:
            texts.append(_impossible(year, month, day, draw))
    return texts


# --- records -------------------------------------------------------------------------


def _list_leanings(
    lists: Sequence[str], origins: Sequence[str], generator: np.random.Generator
) -> dict[tuple[int, str], tuple[tuple[str, ...], np.ndarray]]:
    """Each list writes each origin's names its own way, around the usual shares."""
    leanings = {}
    for index in range(len(lists)):
        for code in origins:
            shares = ORIGINS[code].renderings
            names = tuple(shares)
            base = np.asarray([shares[name] for name in names], dtype=float)
            weights = generator.dirichlet(base * 12.0 + 1e-3) if len(base) > 1 else np.ones(1)
            leanings[(index, code)] = (names, weights / weights.sum())
    return leanings


def _records(
    people: _People,
    person: np.ndarray,
    list_index: np.ndarray,
    lists: Sequence[str],
    generator: np.random.Generator,
    *,
    register: bool,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    count = len(person)
    draw = random.Random(int(generator.integers(2**63)))
    origin = people.origin[person]
    leanings = _list_leanings(lists, sorted(set(people.origin.tolist())), generator)
    rendering = np.empty(count, dtype=object)
    for (index, code), (names, weights) in leanings.items():
        chosen = np.flatnonzero((list_index == index) & (origin == code))
        if chosen.size:
            rendering[chosen] = np.asarray(names, dtype=object)[
                generator.choice(len(names), chosen.size, p=weights)
            ]
    u = generator.random(count)
    given = np.empty(count, dtype=object)
    family = np.empty(count, dtype=object)
    for code in sorted(set(origin.tolist())):
        chosen = np.flatnonzero(origin == code)
        render = _RENDERERS[code]
        who = person[chosen]
        latin = [
            f"{g}/{f}"
            for g, f in zip(people.given_latin[who], people.family_latin[who], strict=True)
        ]
        pairs = [
            render(r, s, g, f, m, la, x)
            for r, s, g, f, m, la, x in zip(
                rendering[chosen],
                people.sex[who],
                people.given[who],
                people.family[who],
                people.middle[who],
                latin,
                u[chosen].tolist(),
                strict=True,
            )
        ]
        given[chosen] = [pair[0] for pair in pairs]
        family[chosen] = [pair[1] for pair in pairs]

    # Some agencies write surnames in capitals, as in the passport's machine-readable zone.
    upper_share = generator.choice([0.0, 0.05, 0.6], size=len(lists), p=[0.5, 0.3, 0.2])
    upper = generator.random(count) < upper_share[list_index]
    family[upper] = [name.upper() for name in family[upper]]

    error_scale = 1.3 if register else 1.0
    for column in (given, family):
        wrong = np.flatnonzero(generator.random(count) < NAME_ERROR_SHARE * error_scale)
        column[wrong] = [_misspelt(name, draw) for name in column[wrong]]
    swapped = generator.random(count) < 0.025
    given[swapped], family[swapped] = family[swapped], given[swapped].copy()
    given[generator.random(count) < 0.01] = ""
    family[generator.random(count) < 0.006] = ""

    sex = people.sex[person].copy()
    flip = generator.random(count)
    sex[flip < 0.004] = np.where(sex[flip < 0.004] == "F", "M", "F")
    sex[(flip >= 0.004) & (flip < 0.019)] = ""
    nationality = origin.copy()
    moldovan_as_romanian = (origin == "MDA") & (generator.random(count) < 0.1)
    nationality[moldovan_as_romanian] = "ROU"
    nationality[generator.random(count) < 0.02] = ""

    dates = _dates(people.birth[person], generator, draw, register)
    order = generator.permutation(count)
    width = max(7, len(str(count)))
    record_id = np.asarray([f"R{i:0{width}d}" for i in range(1, count + 1)], dtype=object)
    list_names = np.asarray(lists, dtype=object)[list_index]
    records = pd.DataFrame(
        {
            "record_id": record_id,
            "list": list_names[order],
            "given_name": given[order],
            "family_name": family[order],
            "sex": sex[order],
            "date_of_birth": np.asarray(dates, dtype=object)[order],
            "nationality": nationality[order],
        },
        columns=list(RECORD_COLUMNS),
    )
    true_width = max(6, len(str(len(people))))
    truth = pd.DataFrame(
        {
            "record_id": record_id,
            "list": list_names[order],
            "true_id": [f"P{i:0{true_width}d}" for i in person[order].tolist()],
        },
        columns=list(TRUTH_COLUMNS),
    )
    return records, truth


def _expected_records(rate: np.ndarray, lists: int) -> float:
    """Mean of min(1 + Poisson(rate), lists) over the people."""
    from scipy.stats import poisson

    total = np.ones_like(rate)
    for j in range(1, lists):
        total += poisson.sf(j - 1, rate)
    return float(total.mean())


def _records_per_person(
    n_people: int, n_records: int, n_lists: int, generator: np.random.Generator
) -> np.ndarray:
    """How many lists hold each person: capture propensity differs between people.

    A gamma-distributed propensity makes the lists dependent (people often caught are
    caught by every list), as they are in practice.
    """
    propensity = generator.gamma(1.6, 1 / 1.6, size=n_people)
    wanted = n_records / n_people - SAME_LIST_REPEAT_SHARE
    low, high = 0.0, 50.0
    for _ in range(50):
        middle = (low + high) / 2
        # The propensities are independent draws: the first 20,000 estimate the mean well,
        # and the exact total is set afterwards.
        if _expected_records(middle * propensity[:20_000], n_lists) < wanted:
            low = middle
        else:
            high = middle
    counts = np.minimum(1 + generator.poisson(low * propensity), n_lists)
    return counts


def _exact_total(
    counts: np.ndarray, total: int, ceiling: int, generator: np.random.Generator
) -> np.ndarray:
    counts = counts.copy()
    gap = total - int(counts.sum())
    while gap:
        room = np.flatnonzero(counts < ceiling) if gap > 0 else np.flatnonzero(counts > 1)
        if not room.size:
            break
        take = generator.choice(room, size=min(abs(gap), room.size), replace=False)
        counts[take] += 1 if gap > 0 else -1
        gap = total - int(counts.sum())
    return counts


def generate_population(
    n_records: int = 5_000,
    *,
    n_lists: int = 5,
    mix: Mapping[str, float] | None = None,
    seed: int = 0,
    records_per_person: float = 1.72,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(records, truth). records columns exactly: record_id, list, given_name, family_name, sex,
    date_of_birth, nationality (alpha-3); truth: record_id, list, true_id. Lists are named
    list-1..list-N. At most one record per person per list is NOT guaranteed: ~3% of
    persons appear twice in one list."""
    if n_records < 1 or n_lists < 1:
        raise ValueError("n_records and n_lists must be at least 1")
    if not 1.0 <= records_per_person <= n_lists + SAME_LIST_REPEAT_SHARE:
        raise ValueError(f"records_per_person must be between 1 and {n_lists} lists (plus repeats)")
    generator = np.random.default_rng(seed)
    n_people = max(1, round(n_records / records_per_person))
    people = _make_people(n_people, mix, generator)
    repeats = (
        generator.random(n_people) < SAME_LIST_REPEAT_SHARE
        if n_records > n_people
        else np.zeros(n_people, dtype=bool)
    )
    counts = _records_per_person(n_people, n_records, n_lists, generator)
    counts = _exact_total(counts, n_records - int(repeats.sum()), n_lists, generator)
    # Lists differ in size: the first is the largest (the police, say), the last small.
    list_weights = 1.0 / np.arange(1, n_lists + 1) ** 0.6
    keys = np.log(list_weights)[None, :] + generator.gumbel(size=(n_people, n_lists))
    order = np.argsort(-keys, axis=1)
    held = np.arange(n_lists)[None, :] < counts[:, None]
    person = np.repeat(np.arange(n_people), counts)
    list_index = order[held]
    person = np.concatenate([person, np.flatnonzero(repeats)])
    list_index = np.concatenate([list_index, order[repeats, 0]])
    lists = [f"list-{i}" for i in range(1, n_lists + 1)]
    return _records(people, person, list_index, lists, generator, register=False)


def generate_register(
    n_people: int = 4_738,
    *,
    seed: int = 0,
    min_records: int = 3,
    max_records: int = 21,
    mix: Mapping[str, float] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One list ("register"), every person recorded 3-21 times with errors, including
    impossible typed dates such as 2086-21-01 (~4% of records). Same columns as above."""
    if n_people < 1 or not 1 <= min_records <= max_records:
        raise ValueError("n_people must be at least 1 and 1 <= min_records <= max_records")
    generator = np.random.default_rng(seed)
    people = _make_people(n_people, mix, generator)
    extra = np.floor(generator.gamma(1.2, 4.5, size=n_people)).astype(int)
    counts = np.clip(min_records + extra, min_records, max_records)
    person = np.repeat(np.arange(n_people), counts)
    return _records(
        people, person, np.zeros(len(person), dtype=int), [REGISTER_LIST], generator, register=True
    )


def describe(records: pd.DataFrame, truth: pd.DataFrame) -> dict[str, Any]:
    """Sizes, for the CLI's one-line summary."""
    return {
        "records": len(records),
        "people": int(truth["true_id"].nunique()),
        "lists": int(records["list"].nunique()),
    }
