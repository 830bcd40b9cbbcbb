"""Bayesian model averaging over decomposable graphical models, as in R's ``dga``.

Madigan & York (1997), "Bayesian methods for estimation of the size of a closed
population", *Biometrika* 84(1):19–31; R package ``dga`` by Johndrow, Lum & Ball (2.0.2),
the tool of the Human Rights Data Analysis Group.

Model. The 2^p capture-history cells of the N people follow a multinomial whose cell
probabilities factorise over a decomposable graph on the p lists (an edge = a dependence
between two lists). Each graph gets a hyper-Dirichlet prior with total weight 2^p·δ (δ per
cell of the full table, so a marginal over k lists has δ·2^(p−k) per cell); the number
missed, N₀, gets the prior p(N) ∝ 1/N. For a decomposable graph the marginal likelihood
factorises over its cliques C and separators S:

    p(table | graph, N₀) = multinomial coefficient · Π_C M(C) / Π_S M(S),

where M(A) is the Dirichlet–multinomial marginal likelihood of the table summed over the
lists outside A (the unobserved cell, with N₀ people, lies in the all-zeros cell of every
marginal). Every graph is equally likely a priori. The posterior over (graph, N₀) is
computed exactly on a grid of N₀ values — no sampling — and averaged over the graphs.

Reported figures (what the reference's ``dga`` wrapper reports, matched to its printed
precision): N₀ on ``grid_points`` equally spaced values from 0 to ``max_population`` −
observed (default 1,000 points up to 11 × observed), δ = 2^−p, and quantiles of the total
N read off the posterior's cumulative distribution by linear interpolation (R's
``approx``). The posterior median is the population.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cache, cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import gammaln
from threadpoolctl import ThreadpoolController

from tiphub.estimate.loglinear import EstimationError
from tiphub.estimate.results import MSEResult
from tiphub.estimate.table import CaptureTable

if TYPE_CHECKING:
    from tiphub.estimate.api import EstimateOptions

MIN_LISTS = 3
MAX_LISTS = 5  # dga ships the graph lists for 3–5 lists; 6 lists have 18,154 graphs
GRID_POINTS = 1000
MAX_POPULATION_FACTOR = 11  # the default grid runs to 11 × the number observed
LEVELS = (0.95, 0.8)


@dataclass(frozen=True)
class DecomposableGraph:
    """A decomposable graph as list bit masks: its cliques and its separators (a multiset)."""

    cliques: tuple[int, ...]
    separators: tuple[int, ...]


def _is_simplicial(vertex: int, neighbours: list[int], remaining: int) -> bool:
    around = neighbours[vertex] & remaining
    return all(
        around & ~(neighbours[other] | (1 << other)) == 0
        for other in range(len(neighbours))
        if around >> other & 1
    )


def _decompose(n_lists: int, neighbours: list[int]) -> DecomposableGraph | None:
    """Cliques and separators of a chordal graph, or None if the graph is not chordal.

    Eliminating a simplicial vertex at a time (one exists at every step exactly when the
    graph is chordal) yields each maximal clique as a vertex with its remaining neighbours.
    The separators are the edges of a junction tree: a maximum-weight spanning forest of the
    cliques weighted by the size of their intersections (empty intersections — separate
    components — are not separators: their marginal likelihood term is 1).
    """
    remaining = (1 << n_lists) - 1
    candidates: list[int] = []
    while remaining:
        vertex = next(
            (
                v
                for v in range(n_lists)
                if remaining >> v & 1 and _is_simplicial(v, neighbours, remaining)
            ),
            None,
        )
        if vertex is None:
            return None
        candidates.append((neighbours[vertex] & remaining) | (1 << vertex))
        remaining &= ~(1 << vertex)
    cliques = sorted({c for c in candidates if not any(c != d and c & d == c for d in candidates)})
    # Kruskal on clique pairs, heaviest intersection first.
    component = list(range(len(cliques)))

    def root(i: int) -> int:
        while component[i] != i:
            i = component[i]
        return i

    pairs = sorted(
        itertools.combinations(range(len(cliques)), 2),
        key=lambda pair: -(cliques[pair[0]] & cliques[pair[1]]).bit_count(),
    )
    separators: list[int] = []
    for a, b in pairs:
        shared = cliques[a] & cliques[b]
        if shared and root(a) != root(b):
            component[root(a)] = root(b)
            separators.append(shared)
    return DecomposableGraph(tuple(cliques), tuple(sorted(separators)))


@cache
def decomposable_graphs(n_lists: int) -> tuple[DecomposableGraph, ...]:
    """Every decomposable graph on ``n_lists`` labelled lists (3: 8, 4: 61, 5: 822)."""
    edges = list(itertools.combinations(range(n_lists), 2))
    graphs = []
    for chosen in range(1 << len(edges)):
        neighbours = [0] * n_lists
        for index, (a, b) in enumerate(edges):
            if chosen >> index & 1:
                neighbours[a] |= 1 << b
                neighbours[b] |= 1 << a
        graph = _decompose(n_lists, neighbours)
        if graph is not None:
            graphs.append(graph)
    return tuple(graphs)


@cache
def _graph_design(n_lists: int) -> np.ndarray:
    """Rows of the graphs' log posteriors as sums of the terms built in ``_log_terms``.

    Column 0: the number of cliques minus separators (each clique and separator term
    carries the same normalising constant); column s for s = 1..2^p−1: +1 if list subset s is
    a clique, −1 per time it is a separator; column 2^p: 1, for the terms every graph shares.
    """
    graphs = decomposable_graphs(n_lists)
    subsets = 1 << n_lists
    design = np.zeros((len(graphs), subsets + 1))
    for row, graph in enumerate(graphs):
        for clique in graph.cliques:
            design[row, clique] += 1
        for separator in graph.separators:
            design[row, separator] -= 1
    design[:, 0] = design[:, 1:subsets].sum(axis=1)
    design[:, subsets] = 1.0
    return design


@dataclass(frozen=True)
class _MarginLayout:
    """Index arrays to build the marginal tables of every list subset in one pass.

    Subsets are 1..2^p−1 (row ``subset − 1``). ``keys[r·2^p + c]`` is where cell ``c``'s count
    lands: margin row r, cell ``c & subset``. ``inside`` lists, margin by margin, the
    positions of each margin's 2^|subset| cells (``segment`` its row, ``is_zero_cell`` the
    all-zeros cell); ``zero_cells`` the all-zeros cell of each margin.
    """

    keys: np.ndarray
    inside: np.ndarray
    segment: np.ndarray
    is_zero_cell: np.ndarray
    zero_cells: np.ndarray
    sizes: np.ndarray
    prior_scale: np.ndarray


@cache
def _margin_layout(n_lists: int) -> _MarginLayout:
    size = 1 << n_lists
    cells = np.arange(size)
    subsets = np.arange(1, size)
    keys = ((subsets[:, None] - 1) * size + (cells[None, :] & subsets[:, None])).ravel()
    inside, segment, is_zero = [], [], []
    for row, subset in enumerate(subsets):
        members = np.flatnonzero((cells & ~subset) == 0)
        inside.append(row * size + members)
        segment.append(np.full(members.size, row))
        is_zero.append(members == 0)
    bits = np.array([int(subset).bit_count() for subset in subsets])
    return _MarginLayout(
        keys=keys,
        inside=np.concatenate(inside),
        segment=np.concatenate(segment),
        is_zero_cell=np.concatenate(is_zero),
        zero_cells=(subsets - 1) * size,
        sizes=(1 << bits).astype(float),
        prior_scale=(1 << (n_lists - bits)).astype(float),
    )


@dataclass(frozen=True)
class DgaPosterior:
    """The posterior of the total population over the grid, and of each graph."""

    population_grid: np.ndarray
    population_probability: np.ndarray
    graph_probability: np.ndarray
    graphs: tuple[DecomposableGraph, ...]

    @cached_property
    def cumulative(self) -> np.ndarray:
        return np.cumsum(self.population_probability)

    def quantile(self, probability: float) -> float | None:
        """R ``approx(cumsum(p), N, probability)``; None below the grid's first point."""
        if probability < self.cumulative[0]:
            return None
        return float(np.interp(probability, self.cumulative, self.population_grid))

    def mean(self) -> float:
        return float(self.population_probability @ self.population_grid)


def graph_log_weights(table: CaptureTable, delta: float, missing: np.ndarray) -> np.ndarray:
    """Unnormalised log p(graph, N₀ | table): one row per graph, one column per N₀ value."""
    terms = _log_terms(table, delta, missing)
    # One BLAS thread: for a product this small, threads waiting for each other on a busy
    # machine cost 5–10 times the product itself.
    with _blas_controller().limit(limits=1, user_api="blas"):
        weights: np.ndarray = _graph_design(table.n_lists) @ terms
    return weights


@cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _log_terms(table: CaptureTable, delta: float, missing: np.ndarray) -> np.ndarray:
    """The terms that the graphs' log posteriors add up, one row per design column."""
    n_lists = table.n_lists
    observed = table.observed
    counts = table.counts.astype(float)
    cell_prior_total = (1 << n_lists) * delta

    # Terms of each graph's log posterior on the grid, one row per column of the design:
    # row 0 the normalising constant that every clique and separator term carries, rows
    # 1..2^p−1 the log marginal likelihood of each list subset's marginal table (only its
    # all-zeros cell, which holds the N₀ missed, depends on N₀), the last row the
    # multinomial coefficient and the 1/N prior.
    terms = np.empty(((1 << n_lists) + 1, missing.size))
    layout = _margin_layout(n_lists)
    # Every margin's cells at once: counts[c] goes to cell (c & subset) of each margin.
    margins = np.bincount(
        layout.keys, weights=np.tile(counts, counts.size - 1), minlength=counts.size**2
    )
    inside = margins[layout.inside]
    cell_prior = delta * layout.prior_scale
    inside_prior = cell_prior[layout.segment]
    # Σ over a margin's observed cells of lgamma(count + prior) − 2^|subset|·lgamma(prior);
    # the all-zeros cell's term depends on N₀ and is added below.
    observed_terms = np.where(layout.is_zero_cell, 0.0, gammaln(inside + inside_prior))
    constants = np.bincount(layout.segment, weights=observed_terms, minlength=counts.size - 1)
    constants -= layout.sizes * gammaln(cell_prior)
    zero_cell = margins[layout.zero_cells]
    terms[1:-1] = gammaln(missing[None, :] + (zero_cell + cell_prior)[:, None])
    terms[1:-1] += constants[:, None]
    terms[0] = gammaln(cell_prior_total) - gammaln(missing + observed + cell_prior_total)
    terms[-1] = (
        gammaln(missing + observed + 1)
        - gammaln(counts[1:] + 1).sum()
        - gammaln(missing + 1)
        - np.log(observed + missing)
    )
    return terms


def dga_posterior(
    table: CaptureTable,
    *,
    delta: float | None = None,
    max_population: float | None = None,
    grid_points: int = GRID_POINTS,
) -> DgaPosterior:
    """Posterior over decomposable graphs and the total population (R ``dga::bma.cr``)."""
    n_lists = table.n_lists
    if not MIN_LISTS <= n_lists <= MAX_LISTS:
        raise EstimationError(
            f"dga averages over decomposable graphs of 3 to 5 lists; this table has {n_lists} "
            f"({', '.join(table.lists)}). "
            + (
                f"Merge lists from related sources until {MAX_LISTS} remain, "
                f"{_merge_suggestion(table)}, or use --method lcmcr or stepwise, which take "
                "more lists."
                if n_lists > MAX_LISTS
                else "Add a list, or use --method main, which works with two."
            )
        )
    observed = table.observed
    if observed == 0:
        raise EstimationError("the table has no one on any list; there is nothing to estimate")
    if delta is None:
        delta = 2.0**-n_lists
    if not (math.isfinite(delta) and delta > 0):
        raise EstimationError(f"the prior weight delta must be positive, got {delta}")
    if max_population is None:
        max_population = MAX_POPULATION_FACTOR * observed
    if not max_population > observed:
        raise EstimationError(
            f"the population grid must reach beyond the {observed:,} people observed, "
            f"got a maximum of {max_population:,}"
        )
    missing = np.linspace(0.0, max_population - observed, grid_points)
    weight = graph_log_weights(table, delta, missing)
    weight -= weight.max()
    # Floor far below the peak (e^-700 is nothing beside 1) so that exp never produces
    # subnormal numbers, which are about 20 times slower to compute.
    if weight.min() < -700.0:
        np.maximum(weight, -700.0, out=weight)
    np.exp(weight, out=weight)
    weight /= weight.sum()
    return DgaPosterior(
        population_grid=observed + missing,
        population_probability=weight.sum(axis=0),
        graph_probability=weight.sum(axis=1),
        graphs=decomposable_graphs(n_lists),
    )


def _merge_suggestion(table: CaptureTable) -> str:
    """The pair of lists sharing the largest part of the smaller one's people, as --merge."""
    totals = table.list_totals()
    best_share, first, second = max(
        (table.overlap([a, b]) / max(min(totals[a], totals[b]), 1), a, b)
        for a, b in itertools.combinations(table.lists, 2)
    )
    smaller, larger = (first, second) if totals[first] <= totals[second] else (second, first)
    return (
        f"e.g. --merge {first}+{second} ({best_share:.0%} of the people on {smaller} are also "
        f"on {larger}, the largest overlap)"
    )


def graph_label(table: CaptureTable, graph: DecomposableGraph) -> str:
    """Cliques in brackets, e.g. ``[A,B][B,C][D]``."""
    return "".join(
        "[" + ",".join(name for i, name in enumerate(table.lists) if clique >> i & 1) + "]"
        for clique in graph.cliques
    )


def estimate_dga(
    table: CaptureTable,
    options: EstimateOptions | None = None,
    *,
    delta: float | None = None,
    max_population: float | None = None,
    grid_points: int = GRID_POINTS,
) -> MSEResult:
    """R ``dga``'s model-averaged estimate: posterior median and 95%/80% posterior intervals.

    ``options`` is the engine's ``EstimateOptions``. dga is exact: the seed changes nothing
    but, when ``options.bootstrap`` asks for replicates, that many posterior draws of the
    population are returned in ``population_draws`` (profit estimates need them).
    """
    if options is not None:
        delta = options.delta if delta is None else delta
        max_population = options.grid_max if max_population is None else max_population
    posterior = dga_posterior(
        table, delta=delta, max_population=max_population, grid_points=grid_points
    )
    observed = table.observed
    median = posterior.quantile(0.5)
    if median is None:  # half the posterior or more at "no one missed"
        median = float(observed)
    intervals: dict[str, tuple[float | None, float | None]] = {}
    below_grid = []
    for level in LEVELS:
        tail = (1 - level) / 2
        low, high = posterior.quantile(tail), posterior.quantile(1 - tail)
        if low is None:
            # More than the tail's mass sits at N = observed: the lower limit is that
            # count itself (R's approx() prints NA here).
            below_grid.append(f"{round(level * 100)}%")
            low = float(observed)
        intervals[f"{round(level * 100)}"] = (low, high)
    order = np.argsort(posterior.graph_probability)[::-1]
    best = int(order[0])
    grid_top = float(posterior.population_grid[-1])
    diagnostics: dict[str, Any] = {
        "graphs": len(posterior.graphs),
        "best_graph": graph_label(table, posterior.graphs[best]),
        "best_graph_probability": float(posterior.graph_probability[best]),
        "posterior_mean": posterior.mean(),
        "grid_maximum": grid_top,
        "mass_in_top_tenth_of_range": float(
            posterior.population_probability[
                posterior.population_grid >= observed + 0.9 * (grid_top - observed)
            ].sum()
        ),
    }
    if below_grid:
        diagnostics["lower_limit_at_observed"] = ", ".join(below_grid)
    draws = None
    if options is not None and options.bootstrap:
        # Callers that need draws of the population (profit estimates) ask for them as
        # bootstrap replicates; dga's exact posterior gives them directly.
        rng = np.random.default_rng(options.seed)
        draws = rng.choice(
            posterior.population_grid, size=options.bootstrap, p=posterior.population_probability
        )
    result = MSEResult(
        method="dga",
        lists=table.lists,
        observed=observed,
        population=median,
        interval_method="posterior",
        intervals={"posterior": intervals},
        # The most probable graph's generators (cliques of two or more lists) as log-linear
        # terms; the estimate itself averages over every graph.
        model=[
            table.term_name(clique)
            for clique in posterior.graphs[best].cliques
            if clique.bit_count() > 1
        ],
        settings={
            "delta": delta if delta is not None else 2.0**-table.n_lists,
            "max_population": grid_top,
            "grid_points": grid_points,
        },
        model_label=(
            f"average over {len(posterior.graphs)} decomposable graphs; most probable "
            f"{diagnostics['best_graph']} ({diagnostics['best_graph_probability']:.0%})"
        ),
        diagnostics=diagnostics,
        population_draws=draws,
    )
    if diagnostics["mass_in_top_tenth_of_range"] > 0.01:
        # The words, in English and French, are in tiphub.estimate.advice_texts.
        result.warn(
            "dga_range_truncated",
            values={
                "mass": float(diagnostics["mass_in_top_tenth_of_range"]),
                "top": float(grid_top),
            },
        )
    return result
