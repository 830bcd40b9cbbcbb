"""Making a release: one call from a table to a complete bundle, whatever the method.

Methods: ``k-anon`` (reportable aggregates and k-anonymous synthetic rows), ``dp``
(differentially private aggregates and synthetic rows; spends ε and δ) and ``aggregates``
(reportable aggregates only). The privacy budget is the caller's business
(``tiphub.release.publishing``): this module computes, it stores nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from tiphub.release.aggregates import DEFAULT_K, DEFAULT_MAX_LENGTH, reportable_aggregates
from tiphub.release.bundle import Bundle, make_bundle
from tiphub.release.table import ReleaseRefusedError, ReleaseTable

METHODS = ("k-anon", "dp", "aggregates")
DEFAULT_DELTA = 1e-6


@dataclass(frozen=True)
class ReleaseRequest:
    method: str
    k: int = DEFAULT_K
    max_length: int = DEFAULT_MAX_LENGTH
    epsilon: float | None = None
    delta: float | None = None
    seed: int = 0
    title: str = "tiphub data release"
    approved_by: str | None = None

    def check(self) -> None:
        if self.method not in METHODS:
            raise ReleaseRefusedError(
                f"unknown method {self.method!r}: choose one of {', '.join(METHODS)}"
            )
        if self.k < 2:
            raise ReleaseRefusedError(f"k must be at least 2 (got {self.k}): k = 1 protects no one")
        if self.max_length < 1:
            raise ReleaseRefusedError(
                f"the longest combination must be at least 1 (got {self.max_length})"
            )
        if self.method == "dp":
            if self.epsilon is None or not self.epsilon > 0:
                raise ReleaseRefusedError(
                    "a differentially private release needs ε > 0 (--epsilon)"
                )
            if self.delta is not None and not 0 < self.delta < 1:
                raise ReleaseRefusedError(
                    "δ must be above 0 and below 1 (--delta): the Gaussian mechanism's "
                    "guarantee is an (ε, δ) one"
                )
        elif self.epsilon is not None or self.delta is not None:
            raise ReleaseRefusedError(
                f"ε and δ belong to --method dp; the {self.method} method spends no privacy budget"
            )

    @property
    def cost(self) -> tuple[float, float]:
        """The (ε, δ) this release spends from its dataset's budget."""
        if self.method != "dp":
            return (0.0, 0.0)
        assert self.epsilon is not None
        return (self.epsilon, DEFAULT_DELTA if self.delta is None else self.delta)


def make_release(table: ReleaseTable, request: ReleaseRequest) -> Bundle:
    """The whole bundle for ``request``; raises ``ReleaseRefusedError`` before any work when
    the request or the table cannot give a release."""
    request.check()
    if table.n_rows == 0:
        raise ReleaseRefusedError(f"{table.source} has no rows: nothing can be released")
    privacy: dict[str, Any] = {
        "method": request.method,
        "max_combination": request.max_length,
        "date": dt.date.today().isoformat(),
        "approved_by": request.approved_by,
        "source_columns": list(table.names),
    }
    if request.method == "dp":
        from tiphub.release.dp import dp_synthetic

        epsilon, delta = request.cost
        made = dp_synthetic(
            table, epsilon=epsilon, delta=delta, max_length=request.max_length, seed=request.seed
        )
        privacy.update(
            {
                "epsilon": epsilon,
                "delta": delta,
                "privacy_unit": "one row (one victim record)",
                "suppression": "combinations whose noisy count falls below the threshold are not released",
                "mechanism": made.parameters,
            }
        )
        synthetic = table.with_codes(made.codes)
        aggregate_rows = [
            (table.text(combination), count)
            for combination, count in sorted(
                made.aggregates.counts.items(), key=lambda item: (len(item[0]), item[0])
            )
            if combination
        ]
        return make_bundle(
            title=request.title,
            privacy=privacy,
            real=table,
            aggregates=aggregate_rows,
            synthetic=synthetic,
            k=request.k,
            max_length=request.max_length,
        )
    if request.method == "aggregates":
        aggregates = reportable_aggregates(
            table, k=request.k, max_length=request.max_length, seed=request.seed
        )
        privacy.update({"k": request.k, "suppression": f"cells below k = {request.k} suppressed"})
        privacy.update(aggregates.parameters())
        return make_bundle(
            title=request.title,
            privacy=privacy,
            real=table,
            aggregates=aggregates.rows(),
            synthetic=None,
            k=request.k,
            max_length=request.max_length,
        )
    from tiphub.release.synthesis import k_anonymous_synthetic

    synthetic_release = k_anonymous_synthetic(
        table, k=request.k, max_length=request.max_length, seed=request.seed
    )
    source = synthetic_release.source
    aggregates = reportable_aggregates(
        source, k=request.k, max_length=request.max_length, seed=request.seed
    )
    privacy.update(
        {
            "k": request.k,
            "suppression": f"combinations held by fewer than k = {request.k} real rows are "
            "neither counted nor synthesised",
            "aggregates": aggregates.parameters(),
            "synthesis": synthetic_release.parameters(),
        }
    )
    return make_bundle(
        title=request.title,
        privacy=privacy,
        real=source,
        aggregates=aggregates.rows(),
        synthetic=synthetic_release.table,
        k=request.k,
        max_length=request.max_length,
    )
