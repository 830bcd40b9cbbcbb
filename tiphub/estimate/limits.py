"""How much work one estimate may take, so that no run goes on for minutes unasked.

Two kinds of limit:

* Hard caps, whatever the caller asks, because beyond them memory or integer sizes give
  out: :data:`~tiphub.estimate.table.MAX_LISTS` lists, :data:`MAX_BOOTSTRAP` replicates,
  :data:`MAX_CLASSES` latent classes, :data:`MAX_SAMPLES` kept draws, :data:`MAX_SWEEPS`
  Gibbs sweeps (and the BIC enumeration limits of :func:`~tiphub.estimate.selection.bic_search`).
* Time limits, applied when a ``time_limit`` is given (the command line gives
  :data:`TIME_LIMIT_SECONDS` unless ``--allow-long``): the most lists each method takes
  (:data:`METHOD_MAX_LISTS`, :data:`BOOTSTRAP_MAX_LISTS`, :data:`ROBUSTNESS_MAX_LISTS`), a
  predicted running time for LCMCR (:func:`lcmcr_seconds`), and a watch on bootstraps that
  stops one whose projected duration exceeds the limit (:class:`TimeGuard`).

The list limits come from timings of the command (start-up of about 2 s included) on the
2-core development machine while other test suites ran on it (load 1–3.5), on synthetic
tables of 20,000 people in two latent classes, so that every method has interactions to find
(t=8: 235 distinct histories; 10: 724; 12: 1,806; 14: 3,340; 16: 4,741). Seconds:

* main: 8 lists 2.4, 12 lists 2.4, 14 lists 3.4, 16 lists 6.6
* stepwise: 8 → 2.9, 10 → 2.6, 12 → 4.8, 13 → 8.3, 14 → 15.5, 15 → 39.3
* aic-stepwise: 8 → 3.0, 10 → 3.8, 11 → 6.9, 12 → 18.9, 13 → 64.8
* bic (default order): 3 → 2.1, 5 → 3.2, 6 → 6.1
* lcmcr (default 200,000 sweeps): 4 → 4.9, 6 → 7.8, 8 → 14.0, 10 → 39.5, 12 → 88.2
* robustness: 6 → 9.2, 8 → 10.0, 9 → 18.9, 10 → 44.6, 11 → 136.7
* main with a 200-replicate BCa: 8 → 3.9, 10 → 4.2, 12 → 10.2, 13 → 34.4
* stepwise, 200-replicate BCa: 6 → 11.9, 7 → 12.4, 8 → 26.7, 9 → 45.1, 10 → 169.6
* aic-stepwise, 200-replicate BCa: 5 → 8.7, 6 → 19.1, 7 → 37.8, 8 → 83.2, 9 → over 200
* bic, 200-replicate BCa: 4 → 2.7, 5 → 4.0, 6 → 9.5

Under heavier load (load 6) the same runs took two to three times as long (stepwise 28 s
at 14 lists and 81 s at 15; aic-stepwise 67 s at 13), hence limits where the quiet time is
well under the two minutes. The cost of a fit grows with the 2^t − 1 cells of the design,
so it depends on the number of lists far more than on the data; the bootstrap adds one
refit per replicate and per distinct history (the jackknife).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from tiphub.estimate.loglinear import EstimationError
from tiphub.estimate.table import MAX_LISTS, CaptureTable, ProgressCallback

TIME_LIMIT_SECONDS = 120.0
# A bootstrap is judged only after this long, so that start-up costs (imports, caches) do not
# make a short run look long.
GRACE_SECONDS = 5.0

METHOD_MAX_LISTS = {
    "main": MAX_LISTS,
    "fixed": MAX_LISTS,
    "stepwise": 14,
    "aic-stepwise": 12,
    "lcmcr": MAX_LISTS,
}
# bic is left to the hard limits of its enumeration (6 lists at order 2, 5 at order 3),
# which keep it and its bootstrap (over the 100 best models) within the limit.
BOOTSTRAP_MAX_LISTS = {"main": 12, "fixed": 12, "stepwise": 9, "aic-stepwise": 8}
ROBUSTNESS_MAX_LISTS = 10

MAX_BOOTSTRAP = 100_000
MAX_CLASSES = 1_000
MAX_SAMPLES = 1_000_000
MAX_SWEEPS = 1_000_000_000
# LCMCR chains of one run (each costs a full run's time and memory).
MAX_CHAINS = 64
MAX_SEED = 2**32 - 1

# LCMCR costs about (burn-in + samples × thinning) × classes × lists × (histories + 125)
# × 8 ns here: measured 3–5 ns on 235–20,222 distinct histories and 0.57 µs per
# sweep, class and list on 15, doubled for a loaded machine.
LCMCR_SECONDS_PER_UNIT = 8e-9
LCMCR_FIXED_CELLS = 125

# A fixed model's fit costs about cells × parameters² per iteration: all 120 pairs of 16
# lists (65,535 cells × 137 parameters, 1.23·10^9) took 87 s with its intervals.
FIXED_MAX_WORK = 1.3e9

OVERRIDE = "--allow-long runs it anyway"


class TooLongError(EstimationError):
    """A run refused because it would take longer than the time limit."""


def lcmcr_seconds(cells: int, lists: int, classes: int, sweeps: int) -> float:
    """Predicted seconds of an LCMCR run (see :data:`LCMCR_SECONDS_PER_UNIT`)."""
    return sweeps * classes * lists * (cells + LCMCR_FIXED_CELLS) * LCMCR_SECONDS_PER_UNIT


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.0f} minutes" if seconds >= 90 else f"{seconds:.0f} seconds"


def check_lcmcr_settings(classes: int, burnin: int, samples: int, thinning: int) -> None:
    """The hard caps of LCMCR's settings, which keep its arrays and counters in bounds."""
    if not 1 <= classes <= MAX_CLASSES:
        raise EstimationError(f"--classes must be between 1 and {MAX_CLASSES:,}, got {classes}")
    if not 1 <= samples <= MAX_SAMPLES:
        raise EstimationError(f"--samples must be between 1 and {MAX_SAMPLES:,}, got {samples}")
    if burnin < 0:
        raise EstimationError(f"--burnin must be 0 or more, got {burnin}")
    if thinning < 1:
        raise EstimationError(f"--thinning must be 1 or more, got {thinning}")
    if burnin + samples * thinning > MAX_SWEEPS:
        raise EstimationError(
            f"--burnin + --samples × --thinning must be at most {MAX_SWEEPS:,} sweeps, got "
            f"{burnin + samples * thinning:,}"
        )


def check_work(
    table: CaptureTable,
    method: str,
    *,
    bootstrap: int = 0,
    time_limit: float = TIME_LIMIT_SECONDS,
    lcmcr_classes: int = 5,
    lcmcr_sweeps: int = 0,
    model_terms: int = 0,
) -> None:
    """Refuse, with :class:`TooLongError`, an estimate that would outrun ``time_limit``."""
    lists = table.n_lists
    if method == "fixed":
        parameters = 1 + lists + model_terms
        work = ((1 << lists) - 1) * parameters**2
        if work > FIXED_MAX_WORK:
            raise TooLongError(
                f"a fixed model of {parameters} parameters on {lists} lists is too large to fit "
                f"within about {_minutes(time_limit)} (cells × parameters² = {work:.2g}, limit "
                f"{FIXED_MAX_WORK:.2g}); name fewer terms, merge lists, or {OVERRIDE}"
            )
    most = METHOD_MAX_LISTS.get(method, MAX_LISTS)
    if lists > most:
        raise TooLongError(
            f"{method} is limited to {most} lists ({lists} given): it would take more than "
            f"about {_minutes(time_limit)}; merge or omit lists, use --method main, or "
            f"{OVERRIDE}"
        )
    if bootstrap and lists > BOOTSTRAP_MAX_LISTS.get(method, MAX_LISTS):
        raise TooLongError(
            f"a bootstrap of {method} is limited to {BOOTSTRAP_MAX_LISTS[method]} lists "
            f"({lists} given): every replicate repeats the model selection, and the jackknife "
            f"adds one per distinct history; merge or omit lists, drop --bootstrap (--strata "
            f"and --profits bootstrap too), or {OVERRIDE}"
        )
    if method == "lcmcr":
        cells = int((table.counts > 0).sum())
        predicted = lcmcr_seconds(cells, lists, lcmcr_classes, lcmcr_sweeps)
        if predicted > time_limit:
            raise TooLongError(
                f"LCMCR would take about {_minutes(predicted)} ({lcmcr_sweeps:,} sweeps × "
                f"{lcmcr_classes} classes × {lists} lists × {cells:,} distinct histories), more "
                f"than the limit of {_minutes(time_limit)}; lower --burnin, --samples or "
                f"--thinning, merge lists, or {OVERRIDE}"
            )


def check_robustness(table: CaptureTable, time_limit: float = TIME_LIMIT_SECONDS) -> None:
    if table.n_lists > ROBUSTNESS_MAX_LISTS:
        raise TooLongError(
            f"the robustness report is limited to {ROBUSTNESS_MAX_LISTS} lists "
            f"({table.n_lists} given): it estimates every omission and pairwise merge by three "
            f"methods and would take more than about {_minutes(time_limit)}; merge or omit "
            f"lists, or {OVERRIDE}"
        )


class TimeGuard:
    """A progress callback that stops a job whose projected duration exceeds the limit.

    Wraps another callback (a progress bar) and raises :class:`TooLongError` from the first
    report, after :data:`GRACE_SECONDS`, that projects the whole job beyond ``limit``: far
    better than finding out after an hour. ``what`` names the job and the setting to lower.
    """

    def __init__(
        self,
        limit: float,
        what: str,
        inner: ProgressCallback | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.limit = limit
        self.what = what
        self.inner = inner
        self.clock = clock
        self.started = clock()

    def __call__(self, done: int, total: int) -> None:
        if self.inner is not None:
            self.inner(done, total)
        elapsed = self.clock() - self.started
        if done <= 0 or elapsed < GRACE_SECONDS:
            return
        projected = elapsed / done * total
        if projected > self.limit and done < total:
            raise TooLongError(
                f"{self.what} would take about {_minutes(projected)} ({done:,} of {total:,} "
                f"steps in {elapsed:.0f} s), more than the limit of {_minutes(self.limit)}; "
                f"{OVERRIDE}"
            )
