"""A latent class model (a mixture of products) fitted to noisy single and pair counts.

Rows are drawn from one of ``K`` classes; within a class every column takes its value
independently. Counts of single values and pairs implied by the model are smooth in a way
the noisy counts are not: a pair's count is tied to every other pair of its values through
the few class parameters, so the Gaussian noise on each measured count averages out over
many measurements. With one class it is the independence model; more classes carry more of
the data's structure (including which values go together in a triple) but also follow more
of the noise.

The model is fitted by weighted least squares (each count weighted by the inverse of its
noise variance: the Gaussian likelihood of the measurement), with L-BFGS on softmax
parameters. Everything here reads noisy counts only: it is post-processing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.optimize import minimize


@dataclass(frozen=True)
class LatentClassModel:
    """Class weights and, per class, the probability of every value (empty: the rest)."""

    class_weights: np.ndarray  # (K,)
    value_probabilities: np.ndarray  # (K, items)
    total: float
    iterations: int

    def single_counts(self) -> np.ndarray:
        return np.asarray(self.total * (self.class_weights @ self.value_probabilities), float)

    def pair_counts(self, pairs: np.ndarray) -> np.ndarray:
        """Expected counts of item pairs ``(n, 2)`` (items of different columns)."""
        first = self.value_probabilities[:, pairs[:, 0]]
        second = self.value_probabilities[:, pairs[:, 1]]
        return np.asarray(self.total * (self.class_weights @ (first * second)), float)


def fit_latent_classes(
    column_of_item: np.ndarray,
    singles: np.ndarray,
    single_scale: float | np.ndarray,
    pairs: np.ndarray,
    pair_counts: np.ndarray,
    pair_scale: float | np.ndarray,
    total: float,
    *,
    classes: int,
    rng: np.random.Generator,
    iterations: int,
) -> LatentClassModel:
    """Fit ``classes`` classes to noisy counts of items (0..n-1, ``column_of_item`` each)
    and of item ``pairs``; the scales are the noise standard deviations, one for all the
    counts or one per count."""
    n_items = len(singles)
    columns = [np.nonzero(column_of_item == c)[0] for c in np.unique(column_of_item)]
    n_columns = len(columns)
    single_weight = np.broadcast_to(1.0 / np.asarray(single_scale, float) ** 2, n_items)
    observed = np.zeros((n_items, n_items))
    pair_weight = np.zeros((n_items, n_items))  # 1 / noise variance; 0: not measured
    if len(pairs):
        inverse = np.broadcast_to(1.0 / np.asarray(pair_scale, float) ** 2, len(pairs))
        observed[pairs[:, 0], pairs[:, 1]] = pair_counts
        observed[pairs[:, 1], pairs[:, 0]] = pair_counts
        pair_weight[pairs[:, 0], pairs[:, 1]] = inverse
        pair_weight[pairs[:, 1], pairs[:, 0]] = inverse
    width = n_items + n_columns  # a logit per value, and one per column for "empty"

    def unpack(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        logits = x[:classes]
        weights = np.exp(logits - logits.max())
        weights /= weights.sum()
        table = x[classes:].reshape(classes, width)
        values = np.zeros((classes, n_items))
        states = []
        for c, items in enumerate(columns):
            state_logits = np.concatenate(
                [table[:, n_items + c : n_items + c + 1], table[:, items]], axis=1
            )
            state = np.exp(state_logits - state_logits.max(axis=1, keepdims=True))
            state /= state.sum(axis=1, keepdims=True)
            values[:, items] = state[:, 1:]
            states.append(state)
        return weights, values, states

    def loss(x: np.ndarray) -> tuple[float, np.ndarray]:
        weights, values, states = unpack(x)
        single_residual = total * (weights @ values) - singles
        pair_residual = pair_weight * (total * (values.T * weights) @ values - observed)
        value = float((single_weight * single_residual) @ single_residual) + 0.5 * float(
            (pair_residual * pair_residual / np.where(pair_weight > 0, pair_weight, 1.0)).sum()
        )
        # ∂/∂ value probabilities and ∂/∂ class weights, then through the softmaxes
        grad_values = (
            (2.0 * total)
            * weights[:, None]
            * ((single_weight * single_residual)[None, :] + values @ pair_residual)
        )
        grad_weights = (2.0 * total) * (values @ (single_weight * single_residual)) + (
            total * np.einsum("ka,ab,kb->k", values, pair_residual, values)
        )
        gradient = np.zeros_like(x)
        gradient[:classes] = weights * (grad_weights - weights @ grad_weights)
        grad_table = np.zeros((classes, width))
        for c, items in enumerate(columns):
            state = states[c]
            grad_state = np.concatenate([np.zeros((classes, 1)), grad_values[:, items]], axis=1)
            grad_logits = state * (grad_state - (state * grad_state).sum(axis=1, keepdims=True))
            grad_table[:, n_items + c] = grad_logits[:, 0]
            grad_table[:, items] = grad_logits[:, 1:]
        gradient[classes:] = grad_table.ravel()
        return value, gradient

    start = rng.normal(0.0, 0.5, classes + classes * width)
    result = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": iterations})
    weights, values, _states = unpack(result.x)
    return LatentClassModel(weights, values, float(total), int(result.nit))


@njit(cache=True)
def sample_latent_classes(
    n_rows: int,
    class_weights: np.ndarray,
    value_probabilities: np.ndarray,
    col_start: np.ndarray,
    col_len: np.ndarray,
    allowed: np.ndarray,
    seed: int,
) -> np.ndarray:
    """Rows drawn from the model (local item numbers, -1 = empty); a value whose pair with a
    value already in the row is not ``allowed`` is never drawn."""
    np.random.seed(seed)
    n_columns = len(col_len)
    rows = np.full((n_rows, n_columns), -1, np.int16)
    held = np.empty(n_columns, np.int64)
    cumulative = np.cumsum(class_weights)
    order = np.arange(n_columns)
    for r in range(n_rows):
        k = min(
            np.searchsorted(cumulative, np.random.random() * cumulative[-1]), len(cumulative) - 1
        )
        np.random.shuffle(order)
        m = 0
        for step in range(n_columns):
            c = order[step]
            if col_len[c] == 0:
                continue
            target = np.random.random()
            acc = 0.0
            for s in range(col_len[c]):
                item = col_start[c] + s
                acc += value_probabilities[k, item]
                if target < acc:
                    fits = True
                    for i in range(m):
                        if not allowed[item, held[i]]:
                            fits = False
                            break
                    if fits:
                        rows[r, c] = item
                        held[m] = item
                        m += 1
                    break
    return rows
