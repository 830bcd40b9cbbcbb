"""Simulation: populations of known size, known dependence; bias and interval coverage.

With N known, an estimator's relative bias and the share of intervals covering N are
checked against what the method promises (roughly unbiased, near-nominal coverage)."""

from __future__ import annotations

import numpy as np
import pytest

from tiphub.estimate.api import estimate
from tiphub.estimate.simulate import Scenario, simulate_table

TRUE_N = 3000
RUNS = 60


def run(scenario: Scenario, method: str, seed: int) -> tuple[float, float]:
    rng = np.random.default_rng(seed)
    estimates = []
    covered = 0
    for _ in range(RUNS):
        table = simulate_table(scenario, TRUE_N, rng)
        result = estimate(table, method, profile=False)
        estimates.append(result.population)
        low, high = result.interval_95
        covered += int(low is not None and high is not None and low <= TRUE_N <= high)
    bias = float(np.mean(estimates)) / TRUE_N - 1
    return bias, covered / RUNS


def test_independent_lists_main_effects_unbiased_and_covering() -> None:
    scenario = Scenario([0.2, 0.15, 0.25, 0.1], {})
    bias, coverage = run(scenario, "main", seed=11)
    print(f"main effects, independent lists: bias {bias:+.3%}, coverage {coverage:.0%}")
    assert abs(bias) < 0.03
    assert coverage >= 0.85


def test_positive_dependence_biases_main_effects_but_stepwise_recovers() -> None:
    # Lists 0 and 1 refer to each other (odds ratio e^1.5): main effects undercount.
    scenario = Scenario([0.2, 0.15, 0.25, 0.1], {(0, 1): 1.5})
    main_bias, _ = run(scenario, "main", seed=12)
    step_bias, step_coverage = run(scenario, "stepwise", seed=12)
    print(f"dependent lists: main bias {main_bias:+.3%}; stepwise bias {step_bias:+.3%}, coverage {step_coverage:.0%}")
    assert main_bias < -0.08
    assert abs(step_bias) < 0.05
    assert step_coverage >= 0.8


@pytest.mark.parametrize("method", ["bic", "aic-stepwise"])
def test_other_selectors_recover_the_dependence(method: str) -> None:
    scenario = Scenario([0.3, 0.2, 0.25], {(0, 1): 1.0})
    rng = np.random.default_rng(5)
    estimates = [estimate(simulate_table(scenario, TRUE_N, rng), method, profile=False).population for _ in range(30)]
    assert abs(float(np.median(estimates)) / TRUE_N - 1) < 0.06
