"""Code lists of HTCDS 2.0 and tiphub's extensions, loaded from the packaged CSV files.

Values are accepted as the standard's code (``ForcedLabour``) or its label
(``Forced labour``), ignoring case and stray spaces, and always stored as the code.
"""

from __future__ import annotations

import csv
import difflib
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

import pycountry

CODELIST_VERSION = "htcds-2.0+tiphub.1"


class UnknownCodeError(ValueError):
    """A value that is not in its code list; the message lists the valid codes.

    The value itself is never quoted: a name typed into a code column would be printed.
    A close valid code is suggested instead.
    """

    def __init__(
        self,
        list_name: str,
        value: str,
        valid: list[str] | str,
        candidates: Iterable[str] = (),
    ) -> None:
        self.list_name = list_name
        self.value = value
        valid_text = valid if isinstance(valid, str) else ", ".join(valid)
        pool = list(candidates) or ([] if isinstance(valid, str) else valid)
        close = difflib.get_close_matches(value, pool, n=1, cutoff=0.8)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        super().__init__(f"unknown {list_name} code{hint}; valid codes: {valid_text}")


def normalise_key(value: str) -> str:
    text = unicodedata.normalize("NFKC", value).replace("\u00a0", " ")
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class CodeList:
    name: str
    codes: tuple[str, ...]
    labels: dict[str, str]
    aliases: dict[str, str] = field(default_factory=dict)
    source: str = "HTCDS 2.0"
    # Everyday words for a code (Woman → Feminine), listed in data/synonyms.csv; unlike
    # aliases, an import says which ones it read.
    synonyms: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lookup: dict[str, str] = {}
        for code in self.codes:
            lookup[normalise_key(code)] = code
        for code, label in self.labels.items():
            lookup.setdefault(normalise_key(label), code)
        for alias, code in self.aliases.items():
            lookup.setdefault(normalise_key(alias), code)
        by_synonym = {
            normalise_key(synonym): synonym
            for synonym in self.synonyms
            if normalise_key(synonym) not in lookup
        }
        for key, synonym in by_synonym.items():
            lookup[key] = self.synonyms[synonym]
        object.__setattr__(self, "_lookup", lookup)
        object.__setattr__(self, "_by_synonym", by_synonym)
        # A value already spelled as a code skips Unicode normalisation: imports check
        # hundreds of thousands of cells, nearly all of them codes.
        object.__setattr__(self, "_exact", {code: code for code in self.codes})

    def normalise(self, value: str) -> str:
        code: str | None = self._exact.get(value)  # type: ignore[attr-defined]
        if code is None:
            code = self._lookup.get(normalise_key(value))  # type: ignore[attr-defined]
        if code is None:
            raise UnknownCodeError(
                self.name, value, list(self.codes), [*self.codes, *self.labels.values()]
            )
        return code

    def synonym_in(self, value: str) -> str | None:
        """The documented synonym ``value`` was read as (as data/synonyms.csv spells it), if
        it was read through one rather than as a code or label."""
        if value in self._exact:  # type: ignore[attr-defined]
            return None
        return self._by_synonym.get(normalise_key(value))  # type: ignore[attr-defined,no-any-return]

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and value in self.codes

    def label(self, code: str) -> str:
        return self.labels.get(code, code)


def _data_file(name: str) -> str:
    return resources.files("tiphub.standard").joinpath("data", name).read_text(encoding="utf-8")


@cache
def htcds_fields() -> dict[str, dict[str, str]]:
    """Every named HTCDS field, keyed by field name."""
    rows = csv.DictReader(_data_file("htcds_fields.csv").splitlines())
    return {row["field_name"]: row for row in rows if row["field_name"]}


# HTCDS field -> tiphub code-list name.
HTCDS_PICKLISTS: dict[str, str] = {
    "org_Type": "organisation_type",
    "prs_Gender": "gender",
    "prs_MaritalStatus": "marital_status",
    "prs_HighestLevelOfEducation": "education",
    "vic_TraffickingStatus": "trafficking_status",
    "vic_TraffickingStatusDecisionMakingOrg": "decision_making_org",
    "vic_RelationshipToTrafficker": "relationship_to_trafficker",
    "vic_RecruitmentWebsitesAndApps": "website",
    "vic_MethodOfRecruitment": "recruitment_method",
    "vic_MethodsOfControl": "means_of_control",
    "vic_TypeOfExploitation": "exploitation_type",
    "vic_ForcedLabourIndustry": "industry",
    "vic_TypeOfSexExploitation": "sex_exploitation_type",
    "vic_Vulnerabilities": "vulnerability",
    "per_RoleInProcess": "perpetrator_role",
    "cas_Status": "case_status",
    "cas_ReasonForIncomingReferral": "referral_reason",
    "hte_Type": "event_type",
    "spl_Type": "support_plan_type",
}

# Corrections of HTCDS 2.0 defects (see data/NOTICE.md).
_EXTRA_ALIASES: dict[str, dict[str, str]] = {
    "means_of_control": {
        "Threats": "PhysicalThreats",
        "UsesChildren": "ThreatensChildrenFamily",
        "ThreatOfLawEnforcement": "ThreatsLawEnforcement",
        "PsychoactiveSubstances": "PsychoactiveSubstance",
    },
    "referral_reason": {"Migration Or Change Of Location": "MigrationOrChangeOfLocation"},
}


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split("|")] if text.strip() else []


@cache
def _extension_rows() -> dict[str, list[tuple[str, str]]]:
    grouped: dict[str, list[tuple[str, str]]] = {}
    for row in csv.DictReader(_data_file("tiphub_extensions.csv").splitlines()):
        grouped.setdefault(row["list"], []).append((row["code"], row["label"]))
    return grouped


@cache
def synonym_rows() -> dict[str, dict[str, str]]:
    """list name → {synonym: code}, from data/synonyms.csv."""
    grouped: dict[str, dict[str, str]] = {}
    for row in csv.DictReader(_data_file("synonyms.csv").splitlines()):
        grouped.setdefault(row["list"], {})[row["synonym"]] = row["code"]
    return grouped


@cache
def codelists() -> dict[str, CodeList]:
    fields = htcds_fields()
    extensions = _extension_rows()
    synonyms = synonym_rows()
    lists: dict[str, CodeList] = {}
    for field_name, list_name in HTCDS_PICKLISTS.items():
        row = fields[field_name]
        codes = [code.strip() for code in _split(row["values"])]
        labels = dict(zip(codes, _split(row["value_labels"]), strict=False))
        source = "HTCDS 2.0"
        for code, label in extensions.get(list_name, []):
            if code not in codes:
                codes.append(code)
                labels[code] = label
                source = "HTCDS 2.0 + tiphub extension"
        lists[list_name] = CodeList(
            list_name,
            tuple(codes),
            labels,
            _EXTRA_ALIASES.get(list_name, {}),
            source,
            synonyms.get(list_name, {}),
        )
    for list_name, entries in extensions.items():
        if list_name not in lists:
            lists[list_name] = CodeList(
                list_name,
                tuple(code for code, _ in entries),
                dict(entries),
                source="tiphub extension",
                synonyms=synonyms.get(list_name, {}),
            )
    isic = csv.DictReader(_data_file("isic_rev4_sections.csv").splitlines())
    sections = {row["section"]: row["title"] for row in isic}
    lists["isic_section"] = CodeList(
        "isic_section", tuple(sections), sections, source="ISIC Rev.4 (UNSD)"
    )
    return lists


def codelist(name: str) -> CodeList:
    try:
        return codelists()[name]
    except KeyError:
        raise UnknownCodeError("code list", name, sorted(codelists())) from None


# --- countries and languages -------------------------------------------------------------

# Kosovo has a user-assigned code widely used in official statistics but not in ISO 3166.
_EXTRA_COUNTRIES = {"XK": ("XKX", "Kosovo")}


@cache
def _country_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for country in pycountry.countries:
        lookup[country.alpha_2.casefold()] = country.alpha_2
        lookup[country.alpha_3.casefold()] = country.alpha_2
    for alpha_2, (alpha_3, _name) in _EXTRA_COUNTRIES.items():
        lookup[alpha_2.casefold()] = alpha_2
        lookup[alpha_3.casefold()] = alpha_2
    return lookup


def country_codes() -> list[str]:
    return sorted({code for code in _country_lookup().values()})


def normalise_country(value: str) -> str:
    """ISO 3166-1 alpha-2 or alpha-3 in, alpha-2 out."""
    code = _country_lookup().get(value.strip().casefold())
    if code is None:
        raise UnknownCodeError(
            "country", value, "ISO 3166-1 alpha-2 or alpha-3 (see: tiphub codes country)"
        )
    return code


def country_alpha3(alpha_2: str) -> str:
    if alpha_2 in _EXTRA_COUNTRIES:
        return _EXTRA_COUNTRIES[alpha_2][0]
    country = pycountry.countries.get(alpha_2=alpha_2)
    if country is None:
        raise UnknownCodeError("country", alpha_2, country_codes())
    return str(country.alpha_3)


def country_name(alpha_2: str) -> str:
    if alpha_2 in _EXTRA_COUNTRIES:
        return _EXTRA_COUNTRIES[alpha_2][1]
    country = pycountry.countries.get(alpha_2=alpha_2)
    return str(country.name) if country is not None else alpha_2


@cache
def _language_lookup() -> dict[str, str]:
    lookup: dict[str, str] = {}
    for language in pycountry.languages:
        alpha_3 = language.alpha_3
        lookup[alpha_3.casefold()] = alpha_3
        for attribute in ("alpha_2", "bibliographic"):
            other = getattr(language, attribute, None)
            if other:
                lookup[other.casefold()] = alpha_3
    return lookup


def normalise_language(value: str) -> str:
    """ISO 639-1, 639-2/B, 639-2/T or 639-3 in, ISO 639-2/T (three letters) out."""
    code = _language_lookup().get(value.strip().casefold())
    if code is None:
        raise UnknownCodeError(
            "language", value, "ISO 639-1 two-letter or ISO 639-2/639-3 three-letter codes"
        )
    return code
