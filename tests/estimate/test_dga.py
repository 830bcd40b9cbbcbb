"""``--method dga`` against R's dga 2.0.2 (reference rows) and independent counts.

Expected values: ``data/mse/reference-results.csv`` (rows ``dga``), computed in R with
``dga::bma.cr`` over dga's own graph lists ``graphs3``/``graphs4``/``graphs5``.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from pathlib import Path

import numpy as np
import pytest
from scipy.special import gammaln
from typer.testing import CliRunner

from tiphub.cli.app import app
from tiphub.estimate.api import estimate
from tiphub.estimate.dga import (
    DecomposableGraph,
    decomposable_graphs,
    estimate_dga,
    graph_log_weights,
)
from tiphub.estimate.loglinear import EstimationError
from tiphub.estimate.table import CaptureTable, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
REFERENCE = list(csv.DictReader((DATA / "reference-results.csv").open(encoding="utf-8")))
DGA_ROWS = [row for row in REFERENCE if row["pkg"] == "dga"]


def ident(row: dict[str, str]) -> str:
    return f"{row['dataset']}:{row['method']}"


def grid_top(row: dict[str, str]) -> float | None:
    """The reference's N grid: "to 40000" where the note says so, else 11 × observed."""
    found = re.search(r"N grid to ([0-9]+)(?![0-9*])", row["note"])
    return float(found.group(1)) if found else None


def test_every_reference_row_is_covered() -> None:
    assert len(DGA_ROWS) == 6
    assert {row["dataset"] for row in DGA_ROWS} == {
        "UKdat_5",
        "NewOrl_5",
        "Western",
        "Kosovo",
        "Korea",
    }


@pytest.mark.parametrize("row", DGA_ROWS, ids=ident)
def test_matches_r_dga_to_printed_precision(row: dict[str, str]) -> None:
    table = read_capture_table(DATA / f"{row['dataset']}.csv")
    result = estimate_dga(table, max_population=grid_top(row))
    assert round(result.population, 1) == float(row["est"])
    low95, high95 = result.interval_95
    low80, high80 = result.interval_80
    assert high95 is not None and high80 is not None and low80 is not None
    assert round(high95, 1) == float(row["hi95"])
    assert round(low80, 1) == float(row["lo80"]) and round(high80, 1) == float(row["hi80"])
    if row["lo95"]:
        assert low95 is not None and round(low95, 1) == float(row["lo95"])
    else:
        # R's approx() gives NA: more than 2.5% of the posterior sits at N = observed,
        # so the discrete posterior's 2.5% quantile is the observed count itself.
        assert low95 == table.observed
        assert result.diagnostics["lower_limit_at_observed"] == "95%"
    # "max model post. prob 0.44 over 822 graphs" (the last row has no note)
    found = re.search(r"prob ([0-9.]+) over ([0-9]+) graphs", row["note"])
    if found:
        assert round(result.diagnostics["best_graph_probability"], 2) == float(found.group(1))
        assert result.diagnostics["graphs"] == int(found.group(2))


def test_graph_counts_match_dga_and_the_labelled_chordal_graph_counts() -> None:
    # dga's graphs3/graphs4/graphs5 hold 8, 61 and 822 graphs (the counts in the reference
    # notes); these are the numbers of labelled chordal graphs (OEIS A058862: 1, 2, 8, 61, 822).
    assert [len(decomposable_graphs(p)) for p in (2, 3, 4, 5)] == [2, 8, 61, 822]


# SHA-256 of dga 2.0.2's own graph lists (data/graphs3.rda, graphs4.rda, graphs5.rda), each
# graph written as repr((sorted cliques, sorted separators)) with lists numbered from 1,
# vertices sorted, the lines sorted and joined by newlines. Computed from dga's data, so
# the enumeration must give graph for graph the cliques and separators dga uses.
DGA_GRAPH_DIGESTS = {
    3: "b7e552547281fa2315f38014e61b251881429dfdedf530c929a6eef46f1c1d27",
    4: "f98e3b4cecb23657f80bd1a2506fc0202b188025136ee9704a82db0ecaebef30",
    5: "c4cc7f60bc59d4ba2dd18cd0eb98db152432b4db0d68bfb6795c0f827b0143d3",
}


@pytest.mark.parametrize("n_lists", [3, 4, 5])
def test_cliques_and_separators_are_dgas_graph_for_graph(n_lists: int) -> None:
    def members(mask: int) -> list[int]:
        return [i + 1 for i in range(n_lists) if mask >> i & 1]

    rows = sorted(
        repr(
            (
                sorted(members(c) for c in graph.cliques),
                sorted(members(s) for s in graph.separators),
            )
        )
        for graph in decomposable_graphs(n_lists)
    )
    digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    assert digest == DGA_GRAPH_DIGESTS[n_lists]


def test_graphs_are_decomposable_with_running_intersection() -> None:
    for graph in decomposable_graphs(5):
        cliques = graph.cliques
        # Maximal cliques cover the lists and none contains another.
        covered = 0
        for clique in cliques:
            covered |= clique
            assert not any(other != clique and other & clique == clique for other in cliques)
        assert covered == 0b11111
        # A junction forest has (#cliques − #components) separators, each a proper subset of
        # two cliques; the separators' sizes sum to what the cliques share in a tree.
        assert len(graph.separators) <= len(cliques) - 1
        for separator in graph.separators:
            assert sum(1 for clique in cliques if clique & separator == separator) >= 2


def dirichlet_multinomial_log(counts: np.ndarray, prior: float) -> float:
    """log of ∫ Multinomial(counts | θ) Dirichlet(θ | prior) dθ without the multinomial coefficient."""
    total = counts.sum()
    return float(
        gammaln(counts.size * prior)
        - gammaln(total + counts.size * prior)
        + (gammaln(counts + prior) - gammaln(prior)).sum()
    )


def test_saturated_graph_is_the_dirichlet_multinomial_of_the_whole_table() -> None:
    # Independent check of the marginal likelihood: the complete graph's log posterior over
    # N must be multinomial coefficient × Dirichlet–multinomial × 1/N, computed directly on
    # the full table (up to a constant).
    table = read_capture_table(DATA / "Korea.csv")
    graphs = decomposable_graphs(3)
    complete = [i for i, g in enumerate(graphs) if g.cliques == (0b111,)]
    assert len(complete) == 1
    observed = table.observed
    counts = table.counts.astype(float)
    delta = 1 / 8
    missing = np.linspace(0.0, 10 * observed, 50)
    expected = []
    for unseen in missing:
        full = counts.copy()
        full[0] = unseen
        multinomial = gammaln(full.sum() + 1) - gammaln(full + 1).sum()
        expected.append(
            multinomial + dirichlet_multinomial_log(full, delta) - math.log(observed + unseen)
        )
    ours = graph_log_weights(table, delta, missing)[complete[0]]
    assert np.ptp(ours - np.array(expected)) < 1e-8


def test_independence_graph_is_the_product_of_list_margins() -> None:
    # The empty graph: each list on its own, a Dirichlet–multinomial per list's 2-cell margin
    # with prior δ·2^(p−1) per cell, divided by (p − 1) copies of the total's normaliser.
    table = read_capture_table(DATA / "Kosovo.csv")
    graphs = decomposable_graphs(4)
    empty = [i for i, g in enumerate(graphs) if g.cliques == (1, 2, 4, 8)]
    assert len(empty) == 1
    delta = 1 / 16
    missing = np.array([0.0, 500.0, 9000.0, 30000.0])
    cells = np.arange(16)
    expected = []
    for unseen in missing:
        full = table.counts.astype(float)
        full[0] = unseen
        total = full.sum()
        value = gammaln(total + 1) - gammaln(full + 1).sum() - math.log(total)
        for i in range(4):
            on = full[(cells >> i) & 1 == 1].sum()
            value += dirichlet_multinomial_log(np.array([total - on, on]), delta * 8)
        expected.append(value)
    ours = graph_log_weights(table, delta, missing)[empty[0]]
    assert np.ptp(ours - np.array(expected)) < 1e-8


def test_refuses_more_than_five_lists_and_says_to_merge() -> None:
    table = read_capture_table(DATA / "UKdat.csv")
    with pytest.raises(EstimationError, match="--merge") as error:
        estimate(table, "dga")
    # The cause in the user's terms and the next step: which lists to merge (PF and NCA,
    # the merge of the published 5-list UK table).
    assert "has 6 (LA, NG, PF, GO, GP, NCA)" in str(error.value)
    assert "--merge PF+NCA" in str(error.value)
    two = CaptureTable.from_counts(("A", "B"), {1: 10, 2: 12, 3: 4})
    with pytest.raises(EstimationError, match="3 to 5 lists"):
        estimate_dga(two)


def test_truncated_range_is_flagged() -> None:
    # UKdat_5 on the default grid (11 × observed) keeps 12% of the posterior in the top tenth
    # of the range, which moves the median by 600 (22,354 vs 22,958 with a grid to 40,000).
    table = read_capture_table(DATA / "UKdat_5.csv")
    narrow = estimate_dga(table)
    assert [w.code for w in narrow.checks] == ["dga_range_truncated"]
    assert "--method lcmcr" in narrow.checks[0].advice
    assert not estimate_dga(read_capture_table(DATA / "Kosovo.csv")).checks


def test_posterior_draws_when_replicates_are_asked_for() -> None:
    from tiphub.estimate.api import EstimateOptions

    table = read_capture_table(DATA / "Kosovo.csv")
    result = estimate_dga(table, EstimateOptions(method="dga", bootstrap=4000, seed=7))
    draws = result.population_draws
    assert draws is not None and draws.size == 4000
    # The draws' median lies within Monte-Carlo error of the exact posterior median.
    assert abs(np.median(draws) - result.population) < 0.02 * result.population


def test_cli_dga_json_gives_the_reference_population() -> None:
    runner = CliRunner()
    # The rows computed on the CLI's default grid (to 11 × observed); the CLI also fits the
    # quick alternatives, so two of the tables are enough here.
    for row in DGA_ROWS:
        if grid_top(row) is not None or row["dataset"] not in ("Korea", "UKdat_5"):
            continue
        outcome = runner.invoke(
            app, ["estimate", str(DATA / f"{row['dataset']}.csv"), "--method", "dga", "--json"]
        )
        assert outcome.exit_code == 0, outcome.output
        data = json.loads(outcome.stdout)
        assert data["method"] == "dga"
        assert data["population"] == float(row["est"]), row["dataset"]
    refused = runner.invoke(
        app, ["estimate", str(DATA / "UKdat_5.csv"), "--method", "dga", "--bootstrap", "50"]
    )
    assert refused.exit_code != 0 and "posterior" in refused.output


def test_cli_grid_and_prior_options_reach_the_reference_rows() -> None:
    runner = CliRunner()
    (row,) = [r for r in DGA_ROWS if r["dataset"] == "UKdat_5" and grid_top(r) is not None]
    top = grid_top(row)
    path = str(DATA / "UKdat_5.csv")
    outcome = runner.invoke(
        app, ["estimate", path, "--method", "dga", "--grid-max", f"{top:g}", "--json"]
    )
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    assert data["population"] == float(row["est"])
    assert data["interval_95"] == [float(row["lo95"]), float(row["hi95"])]
    assert data["settings"]["max_population"] == top
    # δ is R dga's prior weight per cell; the default is 2^−lists.
    halved = runner.invoke(
        app,
        ["estimate", str(DATA / "UKdat_5.csv"), "--method", "dga", "--delta", "0.5", "--json"],
    )
    assert halved.exit_code == 0, halved.output
    assert json.loads(halved.stdout)["settings"]["delta"] == 0.5
    for options, fragment in (
        (["--method", "stepwise", "--grid-max", "5000"], "--grid-max applies to --method dga"),
        (["--method", "dga", "--delta", "0"], "--delta must be a number above 0"),
        (["--method", "dga", "--grid-max", "nan"], "--grid-max must be a number above 0"),
    ):
        refused = runner.invoke(app, ["estimate", str(DATA / "UKdat_5.csv"), *options])
        assert refused.exit_code == 2 and fragment in refused.output, refused.output


def test_path_graph_has_its_separator() -> None:
    # A - B - C: cliques {A,B} and {B,C}, separated by {B}.
    graph = DecomposableGraph((0b011, 0b110), (0b010,))
    assert graph in set(decomposable_graphs(3))
