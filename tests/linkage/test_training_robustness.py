"""Training that never crashes on data, impossible dates kept as evidence, name order,
reviewers' links re-estimating the model.

No database; ``.ci/run`` runs these once (SQLite pass).
"""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from splink import DuckDBAPI, Linker

from tests.linkage.test_linker import _record_set
from tiphub.linkage import datasets
from tiphub.linkage.linker import clip_probabilities, link_records, score_records
from tiphub.linkage.normalise import is_possible_date, parse_lenient_date
from tiphub.linkage.records import (
    IDENTITY_COLUMNS,
    LinkageDataError,
    LinkageInputError,
    impossible_dates,
    prepare,
    read_records,
)


@pytest.fixture(scope="module")
def demo() -> tuple[pd.DataFrame, pd.DataFrame]:
    return datasets.demo_person_records(1_500, seed=11)


def test_a_model_with_an_underflowing_probability_loads_once_clipped(
    demo: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    records = _record_set(demo[0].head(200))
    prepared = prepare(records.frame)
    _, scored = score_records(records)
    model = scored.model_json
    level = next(
        level
        for comparison in model["comparisons"]
        for level in comparison["comparison_levels"]
        if not level.get("is_null_level") and "m_probability" in level
    )
    level["m_probability"] = 3.85e-322
    db_api = DuckDBAPI()
    with pytest.raises(ValueError, match="below the minimum allowed"):
        Linker(db_api.register(prepared), model, log_level=None)
    clipped = clip_probabilities(model)
    assert level["m_probability"] >= 1e-9
    Linker(db_api.register(prepared), clipped, log_level=None)


def _fuzzed(seed: int, demo: pd.DataFrame) -> pd.DataFrame:
    rng = random.Random(seed)
    size = rng.choice([50, 120, 400, len(demo)])
    frame = demo.sample(n=min(size, len(demo)), random_state=seed).reset_index(drop=True)
    for column in [name for name in IDENTITY_COLUMNS if name in frame.columns]:
        draw = rng.random()
        if draw < 0.2:
            frame = frame.drop(columns=column)
        elif draw < 0.3:
            frame[column] = None
        elif draw < 0.45:
            frame.loc[frame.sample(frac=0.6, random_state=seed).index, column] = None
    if rng.random() < 0.25:
        frame["list"] = "only-list"
    return frame


@pytest.mark.parametrize("seed", range(12))
def test_training_ends_in_clusters_or_a_clear_refusal(
    seed: int, demo: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    frame = _fuzzed(seed, demo[0])
    try:
        result = link_records(_record_set(frame))
    except LinkageDataError as refusal:
        # A refusal says what to add or why, in words, never a library's internals.
        assert "m_probability" not in str(refusal) and "Splink" not in str(refusal)
        return
    labels = result.clusters_frame()["cluster_id"]
    assert len(labels) == len(frame)
    assert 1 <= labels.nunique() <= len(frame)
    for note in result.scored.training_notes:
        assert "Traceback" not in note


def test_a_comparison_em_cannot_train_falls_back_to_priors_and_says_so(
    demo: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    # Without nationality or identifiers the dates can be learned only from pairs sharing
    # names; scatter the dates so that the name step has no pair sharing a birth date.
    records, truth = demo
    frame = records[["record_id", "list", "given_name", "family_name", "date_of_birth"]].copy()
    # Birth years only, one per person: no two records share a full date to learn from.
    person = truth.set_index("record_id")["true_id"].reindex(frame["record_id"])
    codes = pd.factorize(person)[0]
    years = np.random.default_rng(3).integers(1950, 2005, codes.max() + 1)
    frame["date_of_birth"] = [str(years[code]) for code in codes]
    result = link_records(_record_set(frame))
    notes = " ".join(result.scored.training_notes)
    assert "prior m probabilities" in notes
    linked = result.clusters_frame().assign(person=person.to_numpy())
    # Clusters are formed, and mostly of one person each.
    assert result.clustering.n_clusters < len(frame)
    purity = linked.groupby("cluster_id")["person"].nunique().eq(1).mean()
    assert purity > 0.9


@pytest.mark.parametrize(
    ("typed", "read"),
    [
        ("1986-21-01", (1986, 1, 21)),  # a month above 12: day and month swapped
        ("2086-12-01", (None, 12, 1)),  # a year no one alive was born in
        ("1986-13-40", (1986, None, None)),
        ("1986-02", (1986, 2, None)),
        ("", (None, None, None)),
    ],
)
def test_impossible_dates_keep_what_is_possible(
    typed: str, read: tuple[int | None, int | None, int | None]
) -> None:
    assert parse_lenient_date(typed) == read


def test_a_file_with_impossible_dates_is_linked_and_they_are_counted(tmp_path: Path) -> None:
    rows = ["record_id,list,given_name,family_name,date_of_birth"]
    rng = random.Random(5)
    for person in range(80):
        year, month, day = 1960 + person % 40, 1 + person % 12, 1 + person % 28
        for copy, agency in enumerate(("A", "B")):
            date = f"{year}-{month:02d}-{day:02d}"
            if copy and person % 10 == 0:
                date = f"{year + 100}-{day + 12:02d}-{month:02d}"  # typed wrongly twice over
            given = "".join(rng.choice("aeioumnrstkl") for _ in range(6))
            rows.append(f"{agency}{person},{agency},Given{given},Family{person % 37},{date}")
    path = tmp_path / "register.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    records = read_records([path])
    assert impossible_dates(records.frame) == 8
    assert not is_possible_date("2086-21-01") and is_possible_date("1986-12-01")


def test_text_that_is_no_date_is_still_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    path.write_text("record_id,list,date_of_birth\n1,A,1998-07\n2,A,Maria\n", encoding="utf-8")
    with pytest.raises(LinkageInputError, match=r"row 3, column 'date_of_birth'") as caught:
        read_records([path])
    assert "Maria" not in str(caught.value)


def test_name_parts_in_another_order_agree_on_the_name_tokens() -> None:
    frame = pd.DataFrame(
        {
            "given_name": ["Thi Lan", "Lan", "Lan Nguyen"],
            "family_name": ["Nguyen", "Nguyen Thi", "Thi"],
        }
    )
    for name in IDENTITY_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    frame["list"] = "A"
    prepared = prepare(frame.astype(object).where(frame.notna(), None))
    assert prepared["name_tokens"].nunique() == 1
    assert prepared["given_sk"].nunique() == 3


def test_reviewers_links_re_estimate_the_model(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    records, truth = demo
    position = {key: index for index, key in enumerate(records["record_id"])}
    groups = truth.groupby("true_id")["record_id"].apply(list)
    pairs = [(position[ids[0]], position[ids[1]]) for ids in groups if len(ids) >= 2][:60]
    plain = link_records(_record_set(records))
    labelled = link_records(_record_set(records), must_link=pairs)
    notes = " ".join(labelled.scored.training_notes)
    assert f"m re-estimated from {len(pairs)} pairs reviewers linked" in notes

    def m_values(model: dict[str, object]) -> list[float]:
        return [
            float(level["m_probability"])
            for comparison in model["comparisons"]  # type: ignore[attr-defined]
            for level in comparison["comparison_levels"]
            if isinstance(level.get("m_probability"), float)
        ]

    assert m_values(plain.scored.model_json) != pytest.approx(
        m_values(labelled.scored.model_json), abs=1e-4
    )


def test_a_dropped_middle_name_or_surname_leaves_two_shared_parts() -> None:
    import duckdb

    from tiphub.linkage.model import shared_parts_level_sql

    people = [
        ("Ana Sophia Maria Luiza", "Silva Macedo"),
        ("Ana Sophia", "Macedo"),  # the same person, two parts dropped
        ("Nguyen Quang Huy", None),  # every part in one field
        ("Huy", "Nguyen"),  # the same person
        ("Ana", "Pereira"),  # shares only the common "Ana"
        ("Maria Julia", "Rodrigues"),
        ("Maria Julia", "Santos"),  # a double first name is not two shared parts
    ]
    # Common first names and surnames elsewhere in the file.
    people += [("Ana", f"Family{k}") for k in range(30)]
    people += [("Maria", f"Other{k}") for k in range(30)] + [
        (f"Given{k}", "Silva") for k in range(30)
    ]
    people += [(f"Van{k}", "Nguyen") for k in range(30)]
    frame = pd.DataFrame(people, columns=["given_name", "family_name"])
    for name in IDENTITY_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    frame["list"] = "A"
    prepared = prepare(frame.astype(object).where(frame.notna(), None))
    parts = prepared[["given_sk", *(f"name_part_{k}" for k in range(1, 5))]]
    left = parts.iloc[[0, 2, 1, 0, 5]].add_suffix("_l").reset_index(drop=True)
    right = parts.iloc[[1, 3, 4, 4, 6]].add_suffix("_r").reset_index(drop=True)
    connection = duckdb.connect()
    connection.register("pairs", pd.concat([left, right], axis=1))
    query = f"SELECT {shared_parts_level_sql()} AS shared FROM pairs"
    shared = connection.sql(query).df()["shared"]
    assert shared.tolist() == [True, True, False, False, False]


def test_every_prior_m_has_one_value_per_level(demo: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    # A prior with the wrong number of values is silently replaced by uniform ones: the name
    # prior had 12 values for 11 levels until the shared-parts level came in.
    from tiphub.linkage.conditional import level_count
    from tiphub.linkage.linker import PRIOR_M
    from tiphub.linkage.model import build_settings

    records, _ = demo
    prepared = prepare(_record_set(records).frame)
    model = build_settings(prepared).settings.get_settings("duckdb").as_dict()
    for comparison, prior in PRIOR_M.items():
        assert len(prior) == level_count(model, comparison), comparison
        assert sum(prior) == pytest.approx(1.0), comparison
