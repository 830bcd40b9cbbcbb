"""The M49 region table against ISO 3166 (pycountry) and hand-written M49 expectations."""

from __future__ import annotations

import csv
import io
from importlib import resources

import pycountry
import pytest

from tiphub.release.regions import REGIONS, SUB_REGIONS, region_of, sub_region_of


def _rows() -> list[dict[str, str]]:
    text = resources.files("tiphub.release").joinpath("data/regions.csv").read_text("utf-8")
    return list(csv.DictReader(io.StringIO(text)))


def test_columns() -> None:
    text = resources.files("tiphub.release").joinpath("data/regions.csv").read_text("utf-8")
    assert text.splitlines()[0] == "alpha_3,region,sub_region"


def test_every_country_has_exactly_one_row() -> None:
    codes = [row["alpha_3"] for row in _rows()]
    assert len(codes) == len(set(codes)), "duplicate alpha_3 rows"
    expected = {country.alpha_3 for country in pycountry.countries} | {"XKX"}
    assert set(codes) == expected


def test_every_known_code_resolves() -> None:
    for country in pycountry.countries:
        assert region_of(country.alpha_3) in REGIONS
        assert sub_region_of(country.alpha_3) in SUB_REGIONS


@pytest.mark.parametrize(
    ("code", "region", "sub_region"),
    [
        ("ROU", "Europe", "Eastern Europe"),
        ("SWE", "Europe", "Northern Europe"),
        ("GBR", "Europe", "Northern Europe"),
        ("ITA", "Europe", "Southern Europe"),
        ("XKX", "Europe", "Southern Europe"),
        ("DEU", "Europe", "Western Europe"),
        ("NGA", "Africa", "Sub-Saharan Africa"),
        ("ZAF", "Africa", "Sub-Saharan Africa"),
        ("EGY", "Africa", "Northern Africa"),
        ("SDN", "Africa", "Northern Africa"),
        ("VNM", "Asia", "South-eastern Asia"),
        ("CHN", "Asia", "Eastern Asia"),
        ("IND", "Asia", "Southern Asia"),
        ("IRN", "Asia", "Southern Asia"),
        ("KAZ", "Asia", "Central Asia"),
        ("TUR", "Asia", "Western Asia"),
        ("CYP", "Asia", "Western Asia"),
        ("MEX", "Americas", "Latin America and the Caribbean"),
        ("BRA", "Americas", "Latin America and the Caribbean"),
        ("HTI", "Americas", "Latin America and the Caribbean"),
        ("USA", "Americas", "Northern America"),
        ("GRL", "Americas", "Northern America"),
        ("AUS", "Oceania", "Australia and New Zealand"),
        ("PNG", "Oceania", "Melanesia"),
        ("GUM", "Oceania", "Micronesia"),
        ("WSM", "Oceania", "Polynesia"),
        ("ATA", "Other", "Other"),
    ],
)
def test_spot_checks(code: str, region: str, sub_region: str) -> None:
    assert region_of(code) == region
    assert sub_region_of(code) == sub_region


def test_lookup_ignores_case_and_whitespace() -> None:
    assert region_of(" rou ") == "Europe"


def test_unknown_code_raises() -> None:
    with pytest.raises(KeyError):
        region_of("ZZZ")
    with pytest.raises(KeyError):
        sub_region_of("")


def test_regions() -> None:
    assert REGIONS == ("Africa", "Americas", "Asia", "Europe", "Oceania", "Other")


def test_sub_regions_are_m49s() -> None:
    m49 = {
        "Northern Africa",
        "Sub-Saharan Africa",
        "Latin America and the Caribbean",
        "Northern America",
        "Central Asia",
        "Eastern Asia",
        "South-eastern Asia",
        "Southern Asia",
        "Western Asia",
        "Eastern Europe",
        "Northern Europe",
        "Southern Europe",
        "Western Europe",
        "Australia and New Zealand",
        "Melanesia",
        "Micronesia",
        "Polynesia",
    }
    assert len(m49) == 17
    assert set(SUB_REGIONS) == m49 | {"Other"}
    assert list(SUB_REGIONS) == sorted(SUB_REGIONS)


def test_sub_region_within_one_region() -> None:
    regions_of_sub: dict[str, set[str]] = {}
    for row in _rows():
        regions_of_sub.setdefault(row["sub_region"], set()).add(row["region"])
    assert all(len(regions) == 1 for regions in regions_of_sub.values())


def test_only_antarctica_is_other() -> None:
    assert [row["alpha_3"] for row in _rows() if row["region"] == "Other"] == ["ATA"]
