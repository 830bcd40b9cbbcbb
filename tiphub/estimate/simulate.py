"""Populations of known size with known list dependence, for checking the estimators.

A log-linear model over the full table (the unobserved cell included) defines the
probability of every capture history; a population of size N is drawn multinomially and
the all-zero cell discarded, as a real data-collection exercise would.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from tiphub.estimate.table import CaptureTable


@dataclass(frozen=True)
class Scenario:
    """Capture probabilities per list and log odds-ratio interactions between list pairs."""

    capture_probabilities: Sequence[float]
    interactions: Mapping[tuple[int, int], float]

    def cell_probabilities(self) -> np.ndarray:
        n = len(self.capture_probabilities)
        cells = np.arange(1 << n)
        on = ((cells[:, None] >> np.arange(n)[None, :]) & 1).astype(float)
        logits = np.log(
            np.asarray(self.capture_probabilities) / (1 - np.asarray(self.capture_probabilities))
        )
        log_weight = on @ logits
        for (i, j), value in self.interactions.items():
            log_weight += value * on[:, i] * on[:, j]
        weight = np.exp(log_weight - log_weight.max())
        return np.asarray(weight / weight.sum())


def simulate_table(
    scenario: Scenario,
    population: int,
    rng: np.random.Generator,
    lists: Sequence[str] | None = None,
) -> CaptureTable:
    probabilities = scenario.cell_probabilities()
    counts = rng.multinomial(population, probabilities)
    counts[0] = 0
    names = tuple(lists or [chr(ord("A") + i) for i in range(len(scenario.capture_probabilities))])
    return CaptureTable(names, counts)
