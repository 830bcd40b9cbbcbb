"""The latent class model behind DP synthetic rows, and the empirical-Bayes estimates.

Reference values are computed by enumerating every row a known mixture can produce (plain
Python over itertools.product), independently of the model's matrix formulas.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tiphub.release.dp import _shrunk
from tiphub.release.latent import fit_latent_classes, sample_latent_classes

# a known mixture: 3 classes; columns of 2, 3, 2, 4 and 2 values (each may also be empty)
COLUMN_SIZES = (2, 3, 2, 4, 2)
TOTAL = 20_000.0


def known_mixture(
    seed: int, sizes: tuple[int, ...] = COLUMN_SIZES
) -> tuple[np.ndarray, list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    weights = np.array([0.5, 0.3, 0.2])
    tables = []  # per column: (classes, 1 + values), state 0 = empty
    for size in sizes:
        tables.append(rng.dirichlet(np.full(size + 1, 0.6), size=len(weights)))
    return weights, tables


def enumerated_counts(
    weights: np.ndarray, tables: list[np.ndarray]
) -> tuple[dict[int, float], dict[tuple[int, int], float], dict[tuple[int, int, int], float]]:
    """Expected counts of single items, pairs and triples, by enumerating every row."""
    sizes = [table.shape[1] - 1 for table in tables]
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    singles: dict[int, float] = {}
    pairs: dict[tuple[int, int], float] = {}
    triples: dict[tuple[int, int, int], float] = {}
    for states in itertools.product(*(range(size + 1) for size in sizes)):
        probability = sum(
            float(w) * float(np.prod([tables[c][k, s] for c, s in enumerate(states)]))
            for k, w in enumerate(weights)
        )
        items = [int(starts[c]) + s - 1 for c, s in enumerate(states) if s > 0]
        for a in items:
            singles[a] = singles.get(a, 0.0) + TOTAL * probability
        for pair in itertools.combinations(items, 2):
            pairs[pair] = pairs.get(pair, 0.0) + TOTAL * probability
        for triple in itertools.combinations(items, 3):
            triples[triple] = triples.get(triple, 0.0) + TOTAL * probability
    return singles, pairs, triples


def problem(
    seed: int, sizes: tuple[int, ...] = COLUMN_SIZES
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
    weights, tables = known_mixture(seed, sizes)
    singles, pairs, triples = enumerated_counts(weights, tables)
    column_of = np.repeat(np.arange(len(sizes)), sizes)
    single_counts = np.array([singles.get(a, 0.0) for a in range(len(column_of))])
    pair_items = np.array(
        [
            (a, b)
            for a, b in itertools.combinations(range(len(column_of)), 2)
            if column_of[a] != column_of[b]
        ]
    )
    pair_counts = np.array([pairs.get((int(a), int(b)), 0.0) for a, b in pair_items])
    return column_of, single_counts, pair_items, pair_counts, triples


def model_triple(model, a: int, b: int, c: int) -> float:
    values = model.value_probabilities
    return float(model.total * (model.class_weights @ (values[:, a] * values[:, b] * values[:, c])))


@pytest.mark.parametrize("seed", [1, 2])
def test_exact_counts_of_a_mixture_are_recovered_with_its_triples(seed: int) -> None:
    column_of, singles, pair_items, pair_counts, triples = problem(seed)
    model = fit_latent_classes(
        column_of,
        singles,
        1.0,
        pair_items,
        pair_counts,
        1.0,
        TOTAL,
        classes=3,
        rng=np.random.default_rng(0),
        iterations=5000,
    )
    assert np.abs(model.single_counts() - singles).max() <= 0.005 * TOTAL
    assert np.abs(model.pair_counts(pair_items) - pair_counts).max() <= 0.005 * TOTAL
    # pairs alone pin down the mixture, so the triples it never saw come out right too
    errors = [abs(model_triple(model, *triple) - count) for triple, count in triples.items()]
    assert np.mean(errors) <= 0.002 * TOTAL
    assert max(errors) <= 0.02 * TOTAL


def test_the_model_removes_much_of_the_noise_on_pair_counts() -> None:
    # more columns than classes can explain by chance: the model has to average the noise
    column_of, singles, pair_items, pair_counts, _triples = problem(3, (2, 3, 2, 4, 2, 2, 3, 2))
    rng = np.random.default_rng(11)
    scale = 60.0
    noisy_singles = singles + rng.normal(0, scale, len(singles))
    noisy_pairs = pair_counts + rng.normal(0, scale, len(pair_counts))
    model = fit_latent_classes(
        column_of,
        noisy_singles,
        scale,
        pair_items,
        noisy_pairs,
        scale,
        TOTAL,
        classes=3,
        rng=np.random.default_rng(0),
        iterations=5000,
    )
    noisy_error = np.abs(noisy_pairs - pair_counts).mean()
    model_error = np.abs(model.pair_counts(pair_items) - pair_counts).mean()
    assert model_error <= 0.6 * noisy_error


def test_empirical_bayes_trusts_the_model_where_it_holds_and_the_count_where_it_misses() -> None:
    rng = np.random.default_rng(5)
    truth = rng.uniform(20, 3000, 4000)
    model = truth + rng.normal(0, 5, len(truth))  # close where it holds...
    missed = rng.random(len(truth)) < 0.05
    model[missed] += rng.choice([-1, 1], missed.sum()) * rng.uniform(300, 1000, missed.sum())
    scale = 50.0
    noisy = truth + rng.normal(0, scale, len(truth))
    estimates, kept = _shrunk(model, noisy, scale)
    held_error = np.abs(estimates - truth)[~missed].mean()
    assert held_error <= 0.3 * np.abs(noisy - truth)[~missed].mean()
    # ...and a count the model misses by hundreds keeps (about) its measurement
    assert np.abs(estimates - truth)[missed].mean() <= 1.5 * scale
    assert 0.0 <= kept <= 0.2


def test_one_scale_per_count_weighs_each_count_by_its_own_noise() -> None:
    # a model fitted to counts whose noise differs by count: the precise counts must win
    column_of, singles, pair_items, pair_counts, _triples = problem(6, (2, 3, 2, 4, 2, 2, 3, 2))
    rng = np.random.default_rng(12)
    pair_scale = np.where(rng.random(len(pair_counts)) < 0.5, 5.0, 200.0)
    noisy_pairs = pair_counts + rng.normal(0, 1, len(pair_counts)) * pair_scale
    noisy_singles = singles + rng.normal(0, 5.0, len(singles))

    def fitted(scale: float | np.ndarray) -> np.ndarray:
        model = fit_latent_classes(
            column_of,
            noisy_singles,
            5.0,
            pair_items,
            noisy_pairs,
            scale,
            TOTAL,
            classes=3,
            rng=np.random.default_rng(0),
            iterations=5000,
        )
        return model.pair_counts(pair_items)

    precise = pair_scale == 5.0
    per_count = np.abs(fitted(pair_scale) - pair_counts)
    one_scale = np.abs(fitted(float(np.sqrt(np.mean(pair_scale**2)))) - pair_counts)
    assert per_count.mean() <= 0.7 * one_scale.mean()
    assert per_count[precise].mean() <= 0.5 * one_scale[precise].mean()
    # a scale given once per count, all equal, is the same fit as the scale given once
    same = np.full(len(pair_counts), 60.0)
    assert np.allclose(fitted(same), fitted(60.0), rtol=1e-6, atol=1e-6)


def test_empirical_bayes_weighs_each_count_by_its_own_noise() -> None:
    rng = np.random.default_rng(8)
    truth = rng.uniform(20, 3000, 4000)
    model = truth + rng.normal(0, 2, len(truth)) * truth**0.4  # misses grow with the count
    scale = np.where(np.arange(len(truth)) % 2 == 0, 15.0, 60.0)
    noisy = truth + rng.normal(0, 1, len(truth)) * scale
    precise = scale == 15.0
    per_count = np.abs(_shrunk(model, noisy, scale)[0] - truth)
    one_scale = np.abs(_shrunk(model, noisy, float(np.sqrt(np.mean(scale**2))))[0] - truth)
    # told which counts are precise, it keeps them near their measurement...
    assert per_count[precise].mean() <= 0.7 * one_scale[precise].mean()
    assert per_count[precise].mean() <= np.abs(noisy - truth)[precise].mean()
    # ...and the noisy ones nearer the model than their measurement
    assert per_count[~precise].mean() <= 0.6 * np.abs(noisy - truth)[~precise].mean()
    assert per_count.mean() <= 0.85 * one_scale.mean()


def test_empirical_bayes_without_a_scale_returns_the_model() -> None:
    model = np.array([1.0, 2.0])
    estimates, kept = _shrunk(model, np.array([5.0, 6.0]), float("inf"))
    assert estimates.tolist() == [1.0, 2.0] and kept == 0.0


def test_sampled_rows_follow_the_model_and_never_form_a_forbidden_pair() -> None:
    weights, tables = known_mixture(4)
    column_of = np.repeat(np.arange(len(COLUMN_SIZES)), COLUMN_SIZES)
    n_items = len(column_of)
    values = np.zeros((len(weights), n_items))
    for c, table in enumerate(tables):
        values[:, column_of == c] = table[:, 1:]
    col_len = np.array(COLUMN_SIZES, dtype=np.int64)
    col_start = np.concatenate([[0], np.cumsum(col_len)[:-1]]).astype(np.int64)
    allowed = np.ones((n_items, n_items), dtype=np.bool_)
    rows = sample_latent_classes(200_000, weights, values, col_start, col_len, allowed, 7)
    expected = weights @ values
    observed = np.array([(rows == item).sum() for item in range(n_items)]) / len(rows)
    assert np.abs(observed - expected).max() <= 0.01
    assert all(
        rows[r, c] == -1 or column_of[rows[r, c]] == c
        for r in range(0, len(rows), 997)
        for c in range(len(COLUMN_SIZES))
    )

    forbidden = (0, 2)  # the first values of columns 0 and 1
    allowed[forbidden[0], forbidden[1]] = allowed[forbidden[1], forbidden[0]] = False
    rows = sample_latent_classes(50_000, weights, values, col_start, col_len, allowed, 8)
    assert not ((rows[:, 0] == forbidden[0]) & (rows[:, 1] == forbidden[1])).any()
    assert (rows[:, 0] == forbidden[0]).any() and (rows[:, 1] == forbidden[1]).any()
