"""The release codebook: which columns a release may hold and the values each may take.

Domains are declared here, from the CTDC Global Synthetic Dataset codebook
(``tiphub/standard/data/ctdc_variables.csv``) and ISO 3166, never read from the data: a
differentially private release must not let the data choose its own categories, and a
value outside its column's domain is refused rather than published.

An empty cell is "not recorded" (NULL in CTDC) and is never part of a combination.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import cache

from tiphub.exchange.ctdc import SYNTHETIC_COLUMNS, VARIABLES
from tiphub.standard.codelists import country_alpha3, country_codes

FIRST_YEAR = 2002  # the first year of registration in the CTDC codebook

AGE_BANDS = ("0--8", "9--17", "18--20", "21--23", "24--26", "27--29", "30--38", "39--47", "48+")
TRAFFICKING_MONTHS = ("0--12 (0-1 yr)", "13--24 (1-2 yrs)", "25+ (2+ yrs)")
GENDERS = ("Man", "Woman", "Trans/Transgender/NonConforming")
FLAG = "1"


@dataclass(frozen=True)
class Column:
    """One releasable column: its CTDC name, label, kind and declared domain."""

    name: str
    label: str
    kind: str  # "year" | "category" | "country" | "flag"
    domain: tuple[str, ...]
    definition: str = ""

    def describe_domain(self) -> str:
        if self.kind == "flag":
            return "1, or empty when not recorded"
        if self.kind == "year":
            return f"a year from {self.domain[0]} to {self.domain[-1]}, or empty"
        if self.kind == "country":
            return "an ISO 3166-1 alpha-3 country code, or empty"
        return " | ".join(self.domain) + ", or empty"


def _country_domain() -> tuple[str, ...]:
    return tuple(sorted(country_alpha3(code) for code in country_codes()))


@cache
def codebook(last_year: int | None = None) -> tuple[Column, ...]:
    """The 27 columns of the CTDC Global Synthetic Dataset layout, in its order."""
    last = last_year or dt.date.today().year
    described = {
        row["variable"]: row
        for row in VARIABLES
        if row["dataset"].startswith("CTDC Global Synthetic")
    }
    columns = []
    for name in SYNTHETIC_COLUMNS:
        row = described[name]
        if name == "yearOfRegistration":
            kind, domain = "year", tuple(str(year) for year in range(FIRST_YEAR, last + 1))
        elif name == "gender":
            kind, domain = "category", GENDERS
        elif name == "ageBroad":
            kind, domain = "category", AGE_BANDS
        elif name == "traffickMonths":
            kind, domain = "category", TRAFFICKING_MONTHS
        elif name in ("citizenship", "CountryOfExploitation"):
            kind, domain = "country", _country_domain()
        else:
            kind, domain = "flag", (FLAG,)
        columns.append(Column(name, row["label"], kind, domain, row["definition"]))
    return tuple(columns)


def column_index() -> dict[str, Column]:
    return {column.name: column for column in codebook()}
