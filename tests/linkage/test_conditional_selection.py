"""The pairs the conditional step learns dates on, when the records are too many for all.

At a million records the step once drew a random share of records and raised the prior by
the share's inverse (``subset_prior``), and counted names' frequencies in that share only:
EM then read namesakes born years apart as matches, and "dates wholly different" weighed
0.8 instead of about 1/300. These tests force that situation on a small population by
lowering the pair budget.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.linkage.test_linker import _record_set
from tiphub.linkage import linker
from tiphub.linkage.conditional import model_probabilities
from tiphub.linkage.model import build_settings
from tiphub.linkage.population import generate_population
from tiphub.linkage.records import prepare


def _blocks(sizes: list[int]) -> pd.DataFrame:
    """Records in name blocks of the given sizes (block b's records share key b)."""
    keys = np.repeat(np.arange(len(sizes)), sizes)
    return pd.DataFrame(
        {"given_ph": keys.astype(str), "family_ph": "x", "row": np.arange(len(keys))}
    )


def _pairs(sizes: list[int]) -> int:
    return sum(size * (size - 1) // 2 for size in sizes)


def test_rarer_names_fill_the_budget_rarest_first_and_whole() -> None:
    sizes = [1, 2, 2, 3, 5, 8, 40]
    records = _blocks(sizes)
    # 1 + 1 + 3 + 10 = 15 pairs fit in 20; the block of 8 (28 pairs) would not.
    chosen = linker._records_of_rarer_names(records, ("given_ph", "family_ph"), 20)
    kept = chosen.groupby("given_ph").size().sort_values().tolist()
    assert kept == [2, 2, 3, 5]
    assert linker.pairs_sharing(chosen, ("given_ph", "family_ph")) == 15


def test_blocks_of_the_boundary_size_fill_the_budget_and_never_pass_it() -> None:
    sizes = [3] * 10 + [9]
    records = _blocks(sizes)
    # Ten blocks of 3 pairs each against a budget of 14: four whole blocks (12 pairs).
    chosen = linker._records_of_rarer_names(records, ("given_ph", "family_ph"), 14)
    assert chosen.groupby("given_ph").size().tolist() == [3] * 4
    assert linker.pairs_sharing(chosen, ("given_ph", "family_ph")) == 12


def test_everything_is_kept_within_the_budget() -> None:
    sizes = [1, 2, 3, 7]
    records = _blocks(sizes)
    chosen = linker._records_of_rarer_names(records, ("given_ph", "family_ph"), _pairs(sizes))
    assert linker.pairs_sharing(chosen, ("given_ph", "family_ph")) == _pairs(sizes)
    # Only the lone record, which forms no pair, is left out.
    assert len(chosen) == len(records) - 1


def test_a_missing_name_part_leaves_the_record_out() -> None:
    records = _blocks([3, 3])
    records.loc[0, "family_ph"] = None
    chosen = linker._records_of_rarer_names(records, ("given_ph", "family_ph"), 100)
    assert 0 not in set(chosen["row"])
    assert linker.pairs_sharing(chosen, ("given_ph", "family_ph")) == 1 + 3


@pytest.mark.parametrize("seed", [5, 9])  # 5 was looked at while writing this test; 9 was not
def test_dates_wholly_different_stay_evidence_against_when_pairs_are_capped(
    monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    frame, truth = generate_population(50_000, seed=seed)
    prepared = prepare(_record_set(frame).frame)
    total = linker.pairs_sharing(prepared, linker._ALIKE_NAMES)
    # A budget of a hundredth of the pairs: the situation of a million records, where the
    # sampled step's prior was nine times too high.
    monkeypatch.setattr(linker, "_CONDITIONAL_MAX_PAIRS", total // 100)
    model = linker.train_model(prepared, build_settings(prepared), lambda _: None)
    m = model_probabilities(model, "date_of_birth", "m_probability")
    u = model_probabilities(model, "date_of_birth", "u_probability")
    # The truth: how often one person's two records have wholly different dates, against
    # how often two random records do.
    same_person = truth.set_index("record_id")["true_id"].reindex(frame["record_id"]).to_numpy()
    codes = pd.factorize(same_person)[0]
    order = np.argsort(codes, kind="stable")
    left, right = [], []
    for group in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
        for i in range(len(group)):
            for j in range(i + 1, len(group)):
                left.append(group[i])
                right.append(group[j])
    year = prepared["dob_year"].to_numpy(dtype=float, na_value=np.nan)
    both = ~np.isnan(year[left]) & ~np.isnan(year[right])
    far_apart = np.abs(year[left] - year[right])[both] > 2
    true_m_else = float(far_apart.mean())
    assert true_m_else < 0.02
    # Wholly different dates must weigh against a match by at least a factor of 20; the
    # sampled step gave about 1 at a million records.
    assert m[0] / u[0] < 1 / 20
    assert m[0] < max(5 * true_m_else, 0.01)
