"""Linkage error in the interval: redrawn links, the bootstrap hook, the table's sidecar."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tiphub.estimate.api import EstimateOptions, estimate, point_estimate
from tiphub.estimate.linkage_error import LinkageError, LinkResampler, UncertainLinks
from tiphub.estimate.sidecar import (
    TableSidecar,
    check_matches,
    describe_population,
    read_sidecar,
    sidecar_path,
)
from tiphub.estimate.table import CaptureTable, CaptureTableError

LISTS = ("A", "B", "C")


def _table(cells: dict[str, int]) -> CaptureTable:
    """Counts by history named as lists, e.g. {"A": 10, "AB": 5}."""
    counts = np.zeros(1 << len(LISTS), dtype=np.int64)
    for history, count in cells.items():
        mask = sum(1 << LISTS.index(name) for name in history)
        counts[mask] += count
    return CaptureTable(LISTS, counts, "test.csv")


def _links(
    groups: list[tuple[str, ...]],
    links: list[tuple[int, int, float, bool]],
    *,
    one_to_one: bool = True,
) -> UncertainLinks:
    return UncertainLinks(
        groups=tuple(groups),
        left=np.array([a for a, _, _, _ in links], dtype=np.int64),
        right=np.array([b for _, b, _, _ in links], dtype=np.int64),
        probability=np.array([p for _, _, p, _ in links], dtype=float),
        linked=np.array([taken for _, _, _, taken in links], dtype=bool),
        strong=np.zeros(len(links), dtype=bool),
        one_to_one=one_to_one,
    )


# --- the redrawn tables ------------------------------------------------------------------

# Five groups and four uncertain links; the linker took only g1–g2.
_GROUPS = [("A",), ("B",), ("A",), ("C",), ("B", "C")]
_LINKS = [
    (1, 2, 0.5, True),  # L1
    (0, 1, 0.3, False),  # L2: refused when L1 is drawn (g1's cluster then holds A)
    (3, 4, 0.8, False),  # L3: both hold C, so the one-to-one rule always refuses it
    (0, 3, 0.6, False),  # L4
]
_FIXED = {"A": 10, "B": 10, "C": 10, "AB": 5, "AC": 5, "BC": 5, "ABC": 2}


def _expected_affected_cells() -> dict[str, float]:
    """The affected groups' expected cells, worked out by hand from the draws.

    Links are taken strongest first: L3 (never), L4, L1, L2. g4 always stays {B,C}. L4
    joins g0 and g3 with probability 0.6. L1 joins g1 and g2 into {A,B} with probability
    0.5. L2 joins g0's and g1's clusters only when it is drawn (0.3) and L1 is not (else
    both hold A): probability 0.15, giving {A,B,C} with L4 and {A,B} without.
    """
    d1, d4 = 0.5, 0.6
    only_l2 = (1 - d1) * 0.3  # 0.15
    neither = (1 - d1) * (1 - 0.3)  # 0.35
    return {
        "AB": d1 + only_l2 * (1 - d4),
        "ABC": only_l2 * d4,
        "AC": (d1 + neither) * d4,
        # g2 alone unless L1; g0 alone when neither L4 nor a join through L2.
        "A": d1 * (1 - d4) + only_l2 + neither * (1 + (1 - d4)),
        "B": neither,
        "C": 1 - d4,
        "BC": 1.0,
    }


def test_redrawn_tables_have_the_expected_mean_cells() -> None:
    # The table as written holds the linker's decisions: g1+g2 = AB, g0 = A, g3 = C, g4 = BC.
    written = dict(_FIXED)
    for history in ("AB", "A", "C", "BC"):
        written[history] += 1
    resampler = LinkResampler(_table(written), _links(_GROUPS, _LINKS), seed=7)
    draws = np.array([resampler.draw_counts() for _ in range(20_000)])
    expected = _expected_affected_cells()
    assert sum(expected.values()) == pytest.approx(5 - (0.6 + 0.5 + 0.15))  # groups − merges
    for history in ("A", "B", "C", "AB", "AC", "BC", "ABC"):
        mask = sum(1 << LISTS.index(name) for name in history)
        cell = draws[:, mask] - _FIXED.get(history, 0)
        standard_error = max(cell.std() / np.sqrt(len(cell)), 1e-9)
        assert abs(cell.mean() - expected[history]) < 5 * standard_error + 1e-9, history
    assert (draws[:, 0] == 0).all()


def test_the_linkers_own_decisions_give_back_the_written_table() -> None:
    written = _table({"A": 11, "B": 10, "C": 11, "AB": 6, "AC": 5, "BC": 6, "ABC": 2})
    certain = [(a, b, 1.0 if taken else 0.0, taken) for a, b, _, taken in _LINKS]
    resampler = LinkResampler(written, _links(_GROUPS, certain), seed=1)
    for _ in range(5):
        np.testing.assert_array_equal(resampler.draw_counts(), written.counts)


def test_links_the_table_cannot_hold_are_refused() -> None:
    # The sidecar says a BC cluster was written; this table has none.
    with pytest.raises(CaptureTableError, match="another table"):
        LinkResampler(_table({"A": 3, "B": 3, "C": 3, "AB": 2}), _links(_GROUPS, _LINKS), seed=1)
    with pytest.raises(CaptureTableError, match="list the table does not have"):
        LinkResampler(_table({"A": 3, "AB": 2}), _links([("A",), ("D",)], [(0, 1, 0.5, False)]), 1)


# --- the interval ------------------------------------------------------------------------

# 300 uncertain A–B links, 150 of them taken: the AB overlap may lie anywhere from 50 to 350.
_BASE = {"A": 350, "B": 350, "C": 250, "AB": 200, "AC": 90, "BC": 90, "ABC": 30}
_PAIRS = 300


def _ab_links(probability_taken: float, probability_left: float) -> UncertainLinks:
    groups: list[tuple[str, ...]] = []
    links: list[tuple[int, int, float, bool]] = []
    for index in range(_PAIRS):
        groups += [("A",), ("B",)]
        taken = index < _PAIRS // 2
        links.append(
            (2 * index, 2 * index + 1, probability_taken if taken else probability_left, taken)
        )
    return _links(groups, links)


def _run(linkage: LinkageError | None, replicates: int = 400, seed: int = 11) -> dict:
    result = estimate(
        _table(_BASE),
        "main",
        bootstrap_replicates=replicates,
        seed=seed,
        linkage=linkage,
        alternatives=False,
    )
    return {"bca": result.intervals["bca"], "result": result}


def test_uncertain_links_widen_the_interval() -> None:
    table = _table(_BASE)
    plain = _run(None)
    linked = _run(LinkageError(table, _ab_links(0.5, 0.5), {"estimated_precision": 0.9}))
    result = linked["result"]
    low, high = result.intervals["bca"]["95"]
    plain_low, plain_high = plain["bca"]["95"]
    assert result.intervals["bca_without_linkage_error"] == plain["bca"]
    # AB varies with sd 8.7 from the links (Binomial(300, ½)) beside about 14 from sampling.
    assert high - low > 1.1 * (plain_high - plain_low)
    report = result.linkage
    assert report["propagated"] is True
    assert 0 < report["share_of_width_from_linkage"] < 1
    assert report["share_of_width_from_linkage"] == pytest.approx(
        1 - (plain_high - plain_low) / (high - low), abs=1e-3
    )
    assert report["uncertain_links"] == _PAIRS
    assert report["estimated_precision"] == 0.9
    # The redrawn tables join half the pairs on average, as many as the table as written.
    assert report["observed_in_redrawn_tables"]["mean"] == pytest.approx(
        _table(_BASE).observed, abs=2
    )
    assert "linkage" in result.to_dict() and result.to_dict()["linkage"]["propagated"]


def test_the_bootstrap_adds_the_linkage_variance() -> None:
    """Law of total variance: the replicates' variance with links redrawn is about the
    sampling variance plus the variance of the estimate over redrawn tables alone."""
    table = _table(_BASE)
    links = _ab_links(0.5, 0.5)
    plain = _run(None)["result"].population_draws
    linked = _run(LinkageError(table, links))["result"].population_draws
    redrawn = LinkResampler(table, links, seed=99)
    options = EstimateOptions(method="main")
    links_only = np.array([point_estimate(redrawn.draw(), options) for _ in range(1_000)])
    # Variances of 400 replicates are within about ±10% (2 standard errors): allow 25%.
    assert (plain.var() + links_only.var()) / linked.var() == pytest.approx(1.0, abs=0.25)
    assert links_only.var() > 0.3 * plain.var()


def test_certain_links_leave_the_interval_unchanged() -> None:
    table = _table(_BASE)
    plain = _run(None, replicates=150, seed=5)
    certain = _run(LinkageError(table, _ab_links(1.0, 0.0)), replicates=150, seed=5)
    result = certain["result"]
    assert result.intervals["bca"] == plain["bca"]
    assert result.linkage["share_of_width_from_linkage"] == 0.0
    assert result.linkage["observed_in_redrawn_tables"]["min"] == table.observed
    assert result.linkage["observed_in_redrawn_tables"]["max"] == table.observed


def test_without_a_bootstrap_the_user_is_told() -> None:
    table = _table(_BASE)
    result = estimate(
        table, "main", linkage=LinkageError(table, _ab_links(0.5, 0.5)), alternatives=False
    )
    assert result.linkage["propagated"] is False
    codes = {warning.code for warning in result.checks}
    assert "linkage-error-not-in-interval" in codes
    assert any("--bootstrap" in warning.advice for warning in result.checks)


def test_list_changes_apply_to_the_redrawn_tables() -> None:
    table = _table(_BASE)
    merged = table.merge(["A", "B"])
    resampler = LinkResampler(table, _ab_links(0.5, 0.5), 3, after=lambda t: t.merge(["A", "B"]))
    redrawn = resampler.draw()
    assert redrawn.lists == merged.lists
    # Merging keeps the number of people: a joined pair is one, a split pair two.
    assert redrawn.observed == resampler.observed[-1]


# --- the sidecar -------------------------------------------------------------------------


def test_sidecar_round_trip_and_refusals(tmp_path: Path) -> None:
    table_path = tmp_path / "histories.csv"
    table_path.write_text("A,B,count\n1,0,3\n0,1,2\n1,1,1\n", encoding="utf-8")
    assert read_sidecar(table_path) is None
    links = _links([("A",), ("B",)], [(0, 1, 0.4, False)])
    sidecar = TableSidecar(
        population={"source": "files", "lists": ["A", "B"], "records": 7, "clusters": 6},
        linkage={"estimated_precision": 0.95, "estimated_recall": 0.93},
        uncertain_links=links,
    )
    path = sidecar_path(table_path)
    assert path.name == "histories.csv.json"
    path.write_text(sidecar.to_json(table_path.name), encoding="utf-8")
    read = read_sidecar(table_path)
    assert read is not None and read.uncertain_links is not None
    assert read.population == sidecar.population
    assert read.linkage == sidecar.linkage
    np.testing.assert_array_equal(read.uncertain_links.probability, [0.4])
    assert read.uncertain_links.groups == (("A",), ("B",))
    check_matches(read, 6, {"A", "B"}, path.name)
    with pytest.raises(CaptureTableError, match="describes 6 people and the table counts 9"):
        check_matches(read, 9, {"A", "B"}, path.name)
    with pytest.raises(CaptureTableError, match="other lists"):
        check_matches(read, 6, {"A", "C"}, path.name)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["linkage"]["uncertain_links"]["links"][0]["probability"] = 1.5
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(CaptureTableError, match="probability must be a number from 0 to 1"):
        read_sidecar(table_path)
    path.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(CaptureTableError, match="Rename or delete it"):
        read_sidecar(table_path)


def test_population_sentence() -> None:
    sentence = describe_population(
        {
            "source": "database",
            "roles": ["Victim", "PresumedVictim"],
            "organisations": ["gb-nra", "gb-police"],
            "period": {"earliest": "2023-01-05", "latest": "2024-12-30"},
            "strata": None,
            "records": 120,
            "clusters": 100,
        }
    )
    assert sentence == (
        "people recorded as Victim or PresumedVictim by 2 organisations (gb-nra, gb-police) in "
        "the tiphub database, cases opened 2023-01-05 to 2024-12-30; 120 records linked into "
        "100 people."
    )


def test_robustness_states_whom_the_table_counts(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from tiphub.cli.app import app

    korea = Path(__file__).parent / "data" / "mse" / "Korea.csv"
    table_path = tmp_path / "histories.csv"
    table_path.write_text(korea.read_text(encoding="utf-8"), encoding="utf-8")
    sidecar = TableSidecar(
        population={
            "source": "database",
            "roles": ["Victim", "PresumedVictim"],
            "lists": ["b", "c", "d"],
            "period": {"earliest": "2023-01-05", "latest": "2024-12-30"},
            "clusters": 123,
        }
    )
    sidecar_path(table_path).write_text(sidecar.to_json(table_path.name), encoding="utf-8")
    report = tmp_path / "robustness.html"
    outcome = CliRunner().invoke(
        app, ["estimate", "robustness", str(table_path), "--json", "--report", str(report)]
    )
    assert outcome.exit_code == 0, outcome.output
    document = json.loads(outcome.stdout.strip().splitlines()[-1])
    assert document["population_described"]["roles"] == ["Victim", "PresumedVictim"]
    html = report.read_text(encoding="utf-8")
    assert "Who is counted" in html and "2023-01-05" in html
    text = CliRunner().invoke(app, ["estimate", "robustness", str(table_path)])
    assert text.exit_code == 0, text.output
    assert "Counts: people recorded as Victim or PresumedVictim" in text.stdout
    # A sidecar written for another table is refused, as for a single estimate.
    sidecar.population["clusters"] = 999
    sidecar_path(table_path).write_text(sidecar.to_json(table_path.name), encoding="utf-8")
    refused = CliRunner().invoke(app, ["estimate", "robustness", str(table_path)])
    assert refused.exit_code != 0 and "999" in refused.output
