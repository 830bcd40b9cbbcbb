"""Coarsening before synthesis: periods of years, broad age bands, countries as world regions.

A coarsening is data: ``{column name: rule}``. Coarsened columns get a declared domain of
their own, derived from the codebook and never from the data (the periods of years from
:data:`~tiphub.release.codebook.FIRST_YEAR` to the current year, the broad bands, every
ISO country plus every M49 sub-region or region), so the output stays checkable against a
codebook. Which countries are folded into their sub-region may depend on the data (the rule
says how: those held by fewer than so many rows); the domain does not.

:func:`candidate_coarsenings` is the ladder the synthesis chooses from, finest first; each
step coarsens at least as much as the one before. :func:`information_kept` measures what a
step costs: the share of the table's entropy left.
"""

from __future__ import annotations

import numpy as np

from tiphub.release.codebook import AGE_BANDS, FIRST_YEAR, Column
from tiphub.release.table import ReleaseTable

Coarsening = dict[str, str]

BROAD_AGES = {
    "0--8": "0--17",
    "9--17": "0--17",
    "18--20": "18--29",
    "21--23": "18--29",
    "24--26": "18--29",
    "27--29": "18--29",
    "30--38": "30--47",
    "39--47": "30--47",
    "48+": "48+",
}
AGE_RULE = "broad age bands (0--17, 18--29, 30--47, 48+)"
YEAR_RULE = "years of registration in periods of {width} years from {first}"
COUNTRY_RULE = "countries held by fewer than {threshold} rows shown as their M49 {area}"
SUB_REGION_RULE = "every country shown as its M49 sub-region"
REGION_RULE = "every country shown as its M49 region"

COUNTRY_COLUMNS = ("citizenship", "CountryOfExploitation")


def year_rule(width: int) -> str:
    return YEAR_RULE.format(width=width, first=FIRST_YEAR)


def country_rule(threshold: int, area: str = "sub-region") -> str:
    if area not in ("sub-region", "region"):
        raise ValueError(f"countries fold into an M49 sub-region or region, not {area!r}")
    return COUNTRY_RULE.format(threshold=threshold, area=area)


def _threshold_of(rule: str) -> int:
    return int(rule.split("fewer than ")[1].split(" ")[0])


def _width_of(rule: str) -> int:
    return int(rule.split("periods of ")[1].split(" ")[0])


def year_periods(years: tuple[str, ...], width: int) -> dict[str, str]:
    """Each year of a declared year domain mapped to its period of ``width`` years counted
    from the codebook's first year (``2002--2004``, ``2005--2007``, ...). A period keeps its
    full span even when it reaches past the last year, so its label never changes."""
    if width < 1:
        raise ValueError(f"a period of years must be at least 1 year long (got {width})")
    periods = {}
    for year in years:
        start = FIRST_YEAR + (int(year) - FIRST_YEAR) // width * width
        periods[year] = f"{start}--{start + width - 1}"
    return periods


def _mapping(
    column: Column, rule: str, codes: np.ndarray
) -> tuple[tuple[str, ...], dict[str, str]]:
    """The coarsened column's declared domain and where each of its values goes."""
    from tiphub.release.regions import REGIONS, SUB_REGIONS, region_of, sub_region_of

    if rule.startswith("years of registration in periods of"):
        if column.kind != "year":
            raise ValueError(f"{column.name} is not a year column: {rule!r} does not apply")
        mapping = year_periods(column.domain, _width_of(rule))
        return tuple(dict.fromkeys(mapping[year] for year in column.domain)), mapping
    if rule == AGE_RULE:
        if set(column.domain) != set(AGE_BANDS):
            raise ValueError(f"{column.name} does not hold the CTDC age bands: {rule!r}")
        domain = tuple(dict.fromkeys(BROAD_AGES[band] for band in AGE_BANDS))
        return domain, {band: BROAD_AGES[band] for band in column.domain}
    if column.kind != "country" and (
        rule.startswith("countries held by") or rule in (SUB_REGION_RULE, REGION_RULE)
    ):
        raise ValueError(f"{column.name} is not a country column: {rule!r} does not apply")
    if rule.startswith("countries held by fewer than"):
        threshold = _threshold_of(rule)
        to_region = rule.endswith("M49 region")
        area, areas = (region_of, REGIONS) if to_region else (sub_region_of, SUB_REGIONS)
        frequency = np.bincount(codes, minlength=len(column.domain) + 1)
        mapping = {
            country: (area(country) if 0 < frequency[i + 1] < threshold else country)
            for i, country in enumerate(column.domain)
        }
        return column.domain + areas, mapping
    if rule == SUB_REGION_RULE:
        return SUB_REGIONS, {country: sub_region_of(country) for country in column.domain}
    if rule == REGION_RULE:
        return REGIONS, {country: region_of(country) for country in column.domain}
    raise ValueError(f"unknown coarsening rule for {column.name}: {rule}")


def apply_coarsening(table: ReleaseTable, rules: Coarsening) -> ReleaseTable:
    """The table with each named column coarsened by its rule (columns not in the table
    are ignored, so one ladder serves any subset of the codebook)."""
    if not rules:
        return table
    columns = list(table.columns)
    codes = table.codes.copy()
    for position, column in enumerate(table.columns):
        rule = rules.get(column.name)
        if rule is None:
            continue
        domain, mapping = _mapping(column, rule, codes[:, position].astype(np.int64))
        index = {value: i + 1 for i, value in enumerate(domain)}
        lookup = np.zeros(len(column.domain) + 1, dtype=np.int16)
        for i, value in enumerate(column.domain):
            lookup[i + 1] = index[mapping[value]]
        codes[:, position] = lookup[codes[:, position]]
        # periods, bands and regions are categories (a coarsened country column is no
        # longer ISO codes only)
        columns[position] = Column(
            column.name, column.label, "category", domain, f"{column.definition} ({rule})"
        )
    return ReleaseTable(tuple(columns), codes, table.source)


def candidate_coarsenings(table: ReleaseTable, k: int) -> list[Coarsening]:
    """The ladder of coarsenings, finest first, for the columns the table has: nothing;
    broad ages; periods of 2, then 3 years; countries held by fewer than 10k, 30k, 100k
    rows as their M49 sub-region; those of 100k, then 300k as their region; periods of 5
    years; every country as its region. Each step keeps less information than the one
    before; steps that coarsen nothing more are left out."""
    names = set(table.names)
    ages = {"ageBroad": AGE_RULE} if "ageBroad" in names else {}

    def years(width: int) -> Coarsening:
        return {"yearOfRegistration": year_rule(width)} if "yearOfRegistration" in names else {}

    def countries(rule: str) -> Coarsening:
        return {name: rule for name in COUNTRY_COLUMNS if name in names}

    steps: list[Coarsening] = [
        {},
        dict(ages),
        {**years(2), **ages},
        {**years(3), **ages},
        *({**years(3), **ages, **countries(country_rule(k * f))} for f in (10, 30, 100)),
        *({**years(3), **ages, **countries(country_rule(k * f, "region"))} for f in (100, 300)),
        {**years(5), **ages, **countries(country_rule(k * 300, "region"))},
        {**years(5), **ages, **countries(REGION_RULE)},
    ]
    ladder: list[Coarsening] = []
    for step in steps:
        if not ladder or step != ladder[-1]:
            ladder.append(step)
    return ladder


def _entropy(codes: np.ndarray) -> float:
    counts = np.bincount(codes.astype(np.int64))
    shares = counts[counts > 0] / codes.size
    return float(-(shares * np.log2(shares)).sum())


def information_kept(table: ReleaseTable, rules: Coarsening) -> float:
    """The share of the table's information a coarsening keeps: the sum over columns of
    each column's entropy (bits, empty cells a value of their own) after coarsening, over
    the same sum before. 1.0 for no coarsening."""
    if table.n_rows == 0 or not rules:
        return 1.0
    coarsened = apply_coarsening(table, rules)
    before = sum(_entropy(table.codes[:, j]) for j in range(len(table.columns)))
    after = sum(_entropy(coarsened.codes[:, j]) for j in range(len(table.columns)))
    return after / before if before > 0 else 1.0


def choose_coarsening(
    table: ReleaseTable,
    *,
    k: int,
    max_length: int,
    seed: int = 0,
    target_error: float | None = None,
) -> Coarsening:
    """The finest step of :func:`candidate_coarsenings` whose synthetic counts meet the
    error target (see :mod:`tiphub.release.synthesis`); this runs the synthesis."""
    from tiphub.release.synthesis import DEFAULT_TARGET_ERROR, k_anonymous_synthetic

    synthetic = k_anonymous_synthetic(
        table,
        k=k,
        max_length=max_length,
        seed=seed,
        target_error=DEFAULT_TARGET_ERROR if target_error is None else target_error,
    )
    return synthetic.coarsening
