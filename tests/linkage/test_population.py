"""The synthetic population: contract, determinism, realism of names, errors and dates."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from tiphub.cli.app import app
from tiphub.linkage.population import (
    DEFAULT_MIX,
    ORIGINS,
    RECORD_COLUMNS,
    TRUTH_COLUMNS,
    generate_population,
    generate_register,
    name_pool,
)

CYRILLIC = re.compile("[\u0400-\u04ff]")
THAI = re.compile("[\u0e00-\u0e7f]")
FULL_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Viet Nam's published share of the surname Nguyễn (about 38 %).
NGUYEN_SHARE = 0.384


@pytest.fixture(scope="module")
def population() -> tuple[pd.DataFrame, pd.DataFrame]:
    return generate_population(5_000, seed=11)


@pytest.fixture(scope="module")
def joined(population: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    records, truth = population
    return records.merge(truth[["record_id", "true_id"]], on="record_id")


def _plain(text: str) -> str:
    text = text.replace("đ", "d").replace("Đ", "D")
    return "".join(
        c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)
    ).lower()


def test_columns_and_truth_are_as_contracted(population: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    records, truth = population
    assert tuple(records.columns) == RECORD_COLUMNS
    assert tuple(truth.columns) == TRUTH_COLUMNS
    assert len(records) == 5_000
    assert records["record_id"].is_unique
    assert list(truth["record_id"]) == list(records["record_id"])
    assert list(truth["list"]) == list(records["list"])
    assert set(records["list"]) == {f"list-{i}" for i in range(1, 6)}
    assert set(records["sex"]) <= {"F", "M", ""}
    assert set(records["nationality"]) <= set(ORIGINS) | {""}


def test_same_seed_same_records_other_seed_other_records() -> None:
    first, first_truth = generate_population(800, seed=4)
    again, again_truth = generate_population(800, seed=4)
    other, _ = generate_population(800, seed=5)
    pd.testing.assert_frame_equal(first, again)
    pd.testing.assert_frame_equal(first_truth, again_truth)
    assert not first["family_name"].equals(other["family_name"])


def test_about_2900_people_and_uneven_lists(population: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    records, truth = population
    people = truth["true_id"].nunique()
    assert 2_800 <= people <= 3_000
    sizes = records["list"].value_counts()
    assert sizes.max() > 1.5 * sizes.min()
    per_list = truth.groupby(["true_id", "list"]).size()
    repeated = per_list[per_list > 1].index.get_level_values("true_id").nunique()
    assert 0.01 * people <= repeated <= 0.06 * people


def test_capture_propensity_makes_lists_dependent(
    population: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """People differ in how catchable they are: more are in all lists than independence predicts."""
    _, truth = population
    lists_per_person = truth.groupby("true_id")["list"].nunique()
    observed = lists_per_person.value_counts(normalize=True)
    mean_extra = lists_per_person.mean() - 1
    # A homogeneous (Poisson) count with the same mean rarely reaches four or five lists.
    from scipy.stats import poisson

    homogeneous_tail = poisson.sf(2, mean_extra)
    assert observed[observed.index >= 4].sum() > 1.5 * homogeneous_tail


def test_scripts_and_transliterations_occur(joined: pd.DataFrame) -> None:
    ukrainian = joined[joined["nationality"] == "UKR"]
    cyrillic = ukrainian["family_name"].str.contains(CYRILLIC) | ukrainian[
        "given_name"
    ].str.contains(CYRILLIC)
    assert 0.1 < cyrillic.mean() < 0.4
    latin = ukrainian.loc[~cyrillic, "family_name"].str.lower()
    assert latin.str.contains("kh|shch|iu|ia").any()  # national / BGN
    assert latin.str.contains("w|sch|cz|sz").any()  # German or Polish agencies
    thai = joined[joined["nationality"] == "THA"]
    assert thai["family_name"].str.contains(THAI).mean() > 0.05
    romanian = joined[joined["nationality"].isin(["ROU", "MDA"])]
    for forms in ("ș|ț", "ş|ţ"):
        assert romanian["family_name"].str.contains(forms).any()


def test_vietnamese_order_and_middle_names(joined: pd.DataFrame) -> None:
    vietnamese = joined[joined["nationality"] == "VNM"]
    given = vietnamese["given_name"].map(_plain)
    family = vietnamese["family_name"].map(_plain)
    # Family-first names read as given-first: "Nguyen" in the given field.
    assert given.str.match(r"^nguyen\b").sum() >= 5
    # The middle name attached to the given name, and to the family name.
    assert given.str.match(r"^thi ").sum() >= 20
    assert family.str.match(r"^\w+ (thi|van)$").sum() >= 5
    with_marks = vietnamese["family_name"].str.contains("ễ|ầ|ạ|ồ|ặ|ũ|õ|ỗ|Đ", regex=True)
    assert 0.15 < with_marks.mean() < 0.7


def test_nguyen_share_is_near_the_published_38_percent() -> None:
    records, truth = generate_population(20_000, seed=2, mix={"VNM": 1.0})
    joined = records.merge(truth[["record_id", "true_id"]], on="record_id")
    names = (joined["given_name"] + " " + joined["family_name"]).map(_plain)
    nguyen = names.str.contains(r"\bnguyen\b").groupby(joined["true_id"]).any()
    assert abs(nguyen.mean() - NGUYEN_SHARE) < 0.04
    women = joined[joined["sex"] == "F"]
    thi = (women["given_name"] + " " + women["family_name"]).map(_plain).str.contains(r"\bthi\b")
    assert thi.groupby(women["true_id"]).any().mean() > 0.5


def test_true_duplicates_differ_in_realistic_ways(joined: pd.DataFrame) -> None:
    pairs = joined.merge(joined, on="true_id", suffixes=("_l", "_r"))
    pairs = pairs[pairs["record_id_l"] < pairs["record_id_r"]]
    same_family = pairs["family_name_l"] == pairs["family_name_r"]
    same_given = pairs["given_name_l"] == pairs["given_name_r"]
    same_date = pairs["date_of_birth_l"] == pairs["date_of_birth_r"]
    exact = same_family & same_given & same_date
    # Far from identical copies, yet most are alike once case and diacritics are set aside.
    assert 0.15 < exact.mean() < 0.6
    alike = (
        (pairs["family_name_l"].map(_plain) == pairs["family_name_r"].map(_plain))
        & (pairs["given_name_l"].map(_plain) == pairs["given_name_r"].map(_plain))
        & same_date
    )
    assert alike.mean() > exact.mean() + 0.05
    family_l, family_r = pairs["family_name_l"], pairs["family_name_r"]
    only_case = (family_l != family_r) & (family_l.str.lower() == family_r.str.lower())
    only_marks = (family_l.str.lower() != family_r.str.lower()) & (
        family_l.map(_plain) == family_r.map(_plain)
    )
    swapped = (
        (pairs["given_name_l"] == family_r) & (family_l == pairs["given_name_r"]) & ~same_family
    )
    partial_date = pairs["date_of_birth_l"].str.len().isin([4, 7])
    for kind in (only_case, only_marks, swapped, partial_date, ~same_date & ~partial_date):
        assert kind.sum() > 0


def test_register_has_3_to_21_records_each_and_impossible_dates() -> None:
    records, truth = generate_register(600, seed=3)
    assert tuple(records.columns) == RECORD_COLUMNS
    assert set(records["list"]) == {"register"}
    per_person = truth.groupby("true_id").size()
    assert per_person.min() >= 3
    assert per_person.max() <= 21
    assert truth["true_id"].nunique() == 600
    dates = records["date_of_birth"]
    full = dates[dates.str.match(FULL_DATE)]
    parsed = pd.to_datetime(full, format="%Y-%m-%d", errors="coerce")
    impossible = parsed.isna() | (full.str[:4].astype(int) > 2026)
    share = impossible.sum() / len(records)
    assert 0.02 < share < 0.07
    assert (full[impossible].str[5:7].astype(int) > 12).any()


def test_list_mode_dates_are_valid_or_partial(
    population: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    dates = population[0]["date_of_birth"]
    assert dates.str.match(r"^(\d{4}(-\d{2}(-\d{2})?)?)?$").all()
    full = dates[dates.str.len() == 10]
    assert pd.to_datetime(full, format="%Y-%m-%d", errors="coerce").notna().all()
    assert (dates.str.len() == 4).any() and (dates.str.len() == 7).any() and (dates == "").any()


def test_mix_is_respected_and_checked() -> None:
    records, _ = generate_population(1_000, seed=1, mix={"THA": 1, "NGA": 1})
    assert set(records["nationality"]) <= {"THA", "NGA", "ROU", ""}
    assert set(DEFAULT_MIX) <= set(ORIGINS)
    with pytest.raises(ValueError, match="unknown origins"):
        generate_population(100, mix={"XXX": 1.0})


def test_name_pools_are_large_and_frequency_ordered() -> None:
    assert len(name_pool("UKR", "F", "family")) > 400
    assert name_pool("UKR", "F", "family")[0] == "Melnyk"
    assert len(name_pool("ROU", "M")) > 200
    assert len(name_pool("THA", "F", "family")) > 400


def test_cli_writes_records_and_truth(tmp_path: Path) -> None:
    records_path, truth_path = tmp_path / "records.csv", tmp_path / "truth.csv"
    result = CliRunner().invoke(
        app,
        [
            "linkage",
            "population",
            "--records",
            "300",
            "--lists",
            "3",
            "--seed",
            "7",
            "--output",
            str(records_path),
            "--truth",
            str(truth_path),
        ],
    )
    assert result.exit_code == 0, result.output
    records = pd.read_csv(records_path, dtype=str, keep_default_na=False)
    truth = pd.read_csv(truth_path, dtype=str, keep_default_na=False)
    assert tuple(records.columns) == RECORD_COLUMNS and len(records) == 300
    assert records["list"].nunique() == 3
    assert list(truth["record_id"]) == list(records["record_id"])
    expected, _ = generate_population(300, n_lists=3, seed=7)
    assert list(records["family_name"]) == list(expected["family_name"])

    register = CliRunner().invoke(
        app,
        [
            "linkage",
            "population",
            "--register",
            "--people",
            "40",
            "--output",
            str(records_path),
            "--truth",
            str(truth_path),
        ],
    )
    assert register.exit_code == 0, register.output
    truth = pd.read_csv(truth_path, dtype=str)
    assert truth["true_id"].nunique() == 40
    assert truth.groupby("true_id").size().between(3, 21).all()
