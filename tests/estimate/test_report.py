"""Robustness report and HTML reports for MSE.

The UK 5-list check uses the published figures (Silverman, Chan & Vincent 2024): stepwise
11,313 (95% 9,884–13,027) against BIC 25,311 — two methods that plainly disagree. The
agreement checks use tables drawn from independent lists, where every method is right.
"""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tiphub.estimate.api import estimate, estimate_strata
from tiphub.estimate.report import (
    FULL_TABLE,
    ForestEntry,
    RobustnessReport,
    RobustnessRow,
    forest_chart_svg,
    format_count,
    format_interval,
    robustness,
    upset_chart_svg,
    write_estimate_report,
    write_strata_report,
)
from tiphub.estimate.table import CaptureTable, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
CAPTURE_PROBABILITIES = (0.3, 0.25, 0.35, 0.2)
TRUE_N = 20_000


def table(name: str) -> CaptureTable:
    return read_capture_table(DATA / f"{name}.csv")


def independent_table(seed: int) -> CaptureTable:
    """Each of TRUE_N people is on each list independently, with fixed probabilities."""
    rng = np.random.default_rng(seed)
    caught = rng.random((TRUE_N, len(CAPTURE_PROBABILITIES))) < np.array(CAPTURE_PROBABILITIES)
    masks = caught.astype(np.int64) @ (1 << np.arange(len(CAPTURE_PROBABILITIES)))
    counts = np.bincount(masks, minlength=1 << len(CAPTURE_PROBABILITIES))
    counts[0] = 0  # nobody is seen on no list
    return CaptureTable(("A", "B", "C", "D"), counts)


def expected_independent_table() -> CaptureTable:
    """The expected counts of the same design: independence holds exactly, no sampling noise."""
    p = np.array(CAPTURE_PROBABILITIES)
    masks = np.arange(1 << p.size)
    on = (masks[:, None] >> np.arange(p.size)) & 1
    counts = np.rint(TRUE_N * np.prod(np.where(on == 1, p, 1 - p), axis=1)).astype(np.int64)
    counts[0] = 0
    return CaptureTable(("A", "B", "C", "D"), counts)


@pytest.fixture(scope="module")
def uk5() -> RobustnessReport:
    return robustness(table("UKdat_5"), methods=("main", "stepwise", "aic-stepwise", "bic"))


# ---------------------------------------------------------------------- disagreement


def test_uk5_reproduces_the_published_figures(uk5: RobustnessReport) -> None:
    stepwise, bic = uk5.full("stepwise"), uk5.full("bic")
    assert stepwise is not None and bic is not None
    assert stepwise.population == pytest.approx(11_313, abs=1)
    assert stepwise.interval_95 == pytest.approx((9_884.4, 13_027.4), abs=0.5)
    assert bic.population == pytest.approx(25_311, abs=1)


def test_uk5_flags_stepwise_against_bic(uk5: RobustnessReport) -> None:
    sentences = uk5.method_disagreements()
    both = [s for s in sentences if "stepwise (11,313)" in s and "bic (25,311)" in s]
    assert len(both) == 1, sentences
    # 13,027 < BIC's lower limit: the intervals are disjoint and the sentence says so.
    assert "do not overlap" in both[0]
    assert both[0] in uk5.disagreements()
    headline = uk5.headline()
    assert headline.startswith("The methods disagree")
    assert "11,304 (aic-stepwise)" in headline and "25,311 (bic)" in headline


def test_uk5_notes_variants_that_move_stepwise(uk5: RobustnessReport) -> None:
    stepwise = uk5.full("stepwise")
    assert stepwise is not None
    moved = [
        row
        for row in uk5.variant_rows("stepwise")
        if row.population is not None and not stepwise.contains(row.population)
    ]
    shifts = uk5.variant_shifts()
    assert len(shifts) == len(moved) > 0
    # Without the police/NCA list the stepwise estimate roughly doubles.
    omit = next(row for row in moved if row.variant == "omit PFNCA")
    assert omit.population is not None and omit.population > 20_000
    expected = f"Omitting PFNCA moves the stepwise estimate to {format_count(omit.population)}"
    assert any(sentence.startswith(expected) for sentence in shifts)
    assert f"under {len(shifts)} of 15 single-list omissions" in uk5.headline()


def test_simulated_independent_lists_agree() -> None:
    # A short chain (40,000 iterations, a fraction of the 300,000 of a full run) is enough
    # on a 4-list independent table, where the posterior is well behaved.
    report = robustness(
        independent_table(seed=20240), lcmcr_burnin=20_000, lcmcr_samples=1_000, lcmcr_thinning=20
    )
    assert [row.method for row in report.full_rows()] == [
        "main",
        "stepwise",
        "aic-stepwise",
        "bic",
        "lcmcr",
    ]
    assert all(row.ok for row in report.full_rows())
    for row in report.full_rows():
        assert row.contains(TRUE_N), (row.method, row.population, row.interval_95)
    assert report.method_disagreements() == []
    assert report.headline().startswith("The 5 methods agree")
    assert "disagree" not in report.headline()


def test_exactly_independent_table_reports_nothing() -> None:
    # With exact expected counts no omission or merge can move the estimate either.
    report = robustness(expected_independent_table(), methods=("main", "stepwise", "bic"))
    for row in report.rows:
        assert row.population == pytest.approx(TRUE_N, rel=0.002), (row.variant, row.method)
    assert report.disagreements() == []
    assert "stays inside its 95% interval under every" in report.headline()


# ---------------------------------------------------------------------- variants


def test_variant_rows_and_labels(uk5: RobustnessReport) -> None:
    lists = ("LA", "NG", "PFNCA", "GO", "GP")
    expected = [f"omit {n}" for n in lists] + [
        f"merge {a}+{b}" for a, b in itertools.combinations(lists, 2)
    ]
    assert uk5.variants() == expected
    assert [row.variant for row in uk5.full_rows()] == [FULL_TABLE] * 4
    assert len(uk5.variant_rows()) == 15 * 3
    for label in expected:
        rows = [row for row in uk5.rows if row.variant == label]
        assert [row.method for row in rows] == ["main", "stepwise", "aic-stepwise"]
        assert all(len(row.lists) == 4 for row in rows)
    source = table("UKdat_5")
    omit_la = next(r for r in uk5.rows if r.variant == "omit LA")
    assert omit_la.observed == source.observed - int(source.counts[0b00001])
    merge = next(r for r in uk5.rows if r.variant == "merge NG+GO")
    assert merge.lists == ("LA", "NGGO", "PFNCA", "GP") and merge.observed == source.observed
    assert merge.changed == ("NG", "GO")
    # The rows are the estimates the engine gives on the modified table.
    direct = estimate(source.merge(["NG", "GO"]), "stepwise")
    row = next(r for r in uk5.variant_rows("stepwise") if r.variant == "merge NG+GO")
    assert row.population == pytest.approx(direct.population)


def test_failing_variant_records_its_error() -> None:
    # C shares no one with A or B: leaving out A (or B), or merging them, leaves two lists
    # with no overlap, where no model has an estimate.
    report = robustness(table("Artificial_3"), methods=("main", "stepwise"))
    assert len(report.full_rows()) == 3 and all(row.ok for row in report.full_rows())
    failed = {(row.variant, row.method) for row in report.rows if row.error}
    for variant in ("omit A", "omit B", "merge A+B"):
        for method in ("main", "stepwise", "aic-stepwise"):
            assert (variant, method) in failed
    main_omit_a = next(r for r in report.rows if (r.variant, r.method) == ("omit A", "main"))
    assert main_omit_a.population is None and main_omit_a.interval_95 is None
    assert "does not exist" in (main_omit_a.error or "")
    ok = {(row.variant, row.method) for row in report.rows if row.ok}
    assert ("omit C", "stepwise") in ok and ("merge A+C", "main") in ok
    assert any("9 of 18 variant estimates failed" in note for note in report.notes)
    data = report.to_dict()
    assert json.loads(json.dumps(data)) == data
    failed_row = next(r for r in data["rows"] if r["variant"] == "omit A")
    assert failed_row["population"] is None and failed_row["error"]


def test_two_lists_have_no_variants_and_bic_is_skipped_beyond_six() -> None:
    two = CaptureTable.from_counts(("A", "B"), {1: 50, 2: 40, 3: 20})
    report = robustness(two, methods=("main",), variant_methods=("stepwise",))
    assert [row.method for row in report.rows] == ["main", "stepwise"]
    assert report.variants() == [] and "two lists" in report.notes[0]

    eight = table("NewOrl")
    calls: list[tuple[int, int]] = []
    report = robustness(
        eight,
        methods=("stepwise", "bic"),
        variant_methods=(),
        progress=lambda done, total: calls.append((done, total)),
        simulation_replicates=0,  # progress here counts the estimates alone
    )
    assert [row.method for row in report.rows] == ["stepwise"]
    assert any(note.startswith("bic was skipped") for note in report.notes)
    assert calls == [(1, 1)]


def test_six_lists_with_limited_methods() -> None:
    calls: list[tuple[int, int]] = []
    report = robustness(
        table("UKdat"),
        methods=("stepwise",),
        variant_methods=("stepwise",),
        progress=lambda done, total: calls.append((done, total)),
        simulation_replicates=0,  # progress here counts the estimates alone
    )
    assert len(report.variants()) == 6 + 15
    assert len(report.rows) == 1 + 21
    assert calls[-1] == (22, 22) and len(calls) == 22
    stepwise = report.full("stepwise")
    assert stepwise is not None and stepwise.population == pytest.approx(11_418, abs=1)
    # Merging PF and NCA is exactly the published 5-list table.
    merged = next(r for r in report.rows if r.variant == "merge PF+NCA")
    assert merged.population == pytest.approx(11_313, abs=1)
    assert report.method_disagreements() == []
    assert report.headline().startswith("Only stepwise gave an estimate")


def test_unknown_method_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown method 'nope'"):
        robustness(table("Korea"), methods=("nope",))


# ---------------------------------------------------------------------- formatting and HTML


def test_formatting() -> None:
    assert format_count(11_312.99) == "11,313"
    assert format_count(None) == "unbounded"
    assert format_interval((11_168.2, 56_052.4)) == "11,168–56,052"
    assert format_interval((1_416.0, None)) == "1,416–unbounded"


def test_robustness_html(uk5: RobustnessReport, tmp_path: Path) -> None:
    target = tmp_path / "robust.html"
    assert uk5.write_html(target) == target
    assert sorted(p.name for p in tmp_path.iterdir()) == ["robust.html"]  # no temp file left
    text = target.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    # methods, variants, overlaps, and the simulation check behind the recommendation
    assert text.count("<svg") == 4 and "<?xml" not in text
    # No network assets: everything is inline.
    assert not re.search(r"""(src|href)=["']https?:""", text)
    for row in uk5.to_dict()["rows"]:
        assert row["population_text"] in text
        assert row["interval_95_text"] in text
    for sentence in uk5.disagreements():
        assert sentence.replace("'", "&#x27;") in text
    # Several charts share the document; their element ids must not collide.
    ids = re.findall(r'\bid="([^"]+)"', text)
    assert ids and len(ids) == len(set(ids))
    assert "UKdat_5.csv" in text


def hostile_table() -> CaptureTable:
    names = ("<b>x</b>", 'fees $\\frac$ "q"', "C&D")
    counts = {1: 300, 2: 250, 4: 200, 3: 60, 5: 50, 6: 40, 7: 9}
    return CaptureTable.from_counts(names, counts, source="/home/someone/private/cases.csv")


def test_html_escapes_list_names_and_hides_folders(tmp_path: Path) -> None:
    report = robustness(hostile_table(), methods=("main", "stepwise"))
    assert all(row.ok for row in report.rows)
    target = report.write_html(tmp_path / "hostile.html")
    text = target.read_text(encoding="utf-8")
    assert "<b>x</b>" not in text
    assert "&lt;b&gt;x&lt;/b&gt;" in text
    assert "C&amp;D" in text and "C&D" not in text.replace("C&amp;D", "")
    assert "cases.csv" in text and "/home/someone" not in text and "private" not in text
    assert report.to_dict()["table"]["source"] == "cases.csv"
    assert report.recommendation is not None
    assert text.count("<svg") == 4  # methods, variants, overlaps, simulation check
    for row in report.to_dict()["rows"]:
        assert row["population_text"] in text


def test_charts_are_standalone_svg() -> None:
    svg = forest_chart_svg(
        [
            ForestEntry("bounded", 1_200.0, (900.0, 1_700.0), (1_000.0, 1_500.0)),
            ForestEntry("open", 3_367.0, (1_416.0, None), (1_800.0, 7_100.0)),
            ForestEntry("failed", None, note="no estimate: boom"),
        ],
        title="test <chart>",
        observed=185,
    )
    assert svg.startswith("<svg ") and svg.rstrip().endswith("</svg>")
    assert "3,367  (1,416–unbounded)" in svg and "boom" in svg
    assert "test &lt;chart&gt;" in svg
    upset = upset_chart_svg(table("UKdat"), top=10)
    assert upset.startswith("<svg ")
    # 25 histories, 10 shown: the caption counts the rest.
    assert "15 more hold" in upset and "2,744 people" in upset


def test_estimate_report(tmp_path: Path) -> None:
    source = hostile_table()
    result = estimate(source, "stepwise")
    target = write_estimate_report(result, source, tmp_path / "estimate.html")
    text = target.read_text(encoding="utf-8")
    # The overlap chart, and the methods chart when other methods were fitted beside it.
    others = [name for name in result.alternatives if name != result.method]
    assert text.count("<svg") == (2 if others else 1)
    assert "&lt;b&gt;x&lt;/b&gt;" in text and "<b>x</b>" not in text
    assert format_count(result.population) in text
    for name, levels in result.to_dict()["intervals"].items():
        low, high = levels["95"]
        assert f"{format_count(low)} to {format_count(high)}" in text, name
    assert "lognormal (headline)" in text  # the appendix's table of intervals
    assert "Technical appendix" in text
    assert "/home/someone" not in text


def test_strata_report(tmp_path: Path) -> None:
    western = table("Western")
    tables = {
        "north": western,
        "south <i>": western.with_counts(western.counts * 2),
        "empty-ish": CaptureTable.from_counts(western.lists, {1: 5}),
    }
    result = estimate_strata(tables, "stepwise", replicates=20)
    assert set(result.failed_strata) == {"empty-ish"}
    target = write_strata_report(result, tables, tmp_path / "strata.html")
    text = target.read_text(encoding="utf-8")
    assert "south &lt;i&gt;" in text and "south <i>" not in text
    assert format_count(result.population) in text
    assert format_interval(result.interval_95) in text
    assert "at least 2 lists are needed" in text
    assert text.count("<svg") == 1 + 3
    assert '<tr class="total">' in text


def full_row(method: str, population: float, low: float, high: float | None) -> RobustnessRow:
    return RobustnessRow(
        variant=FULL_TABLE,
        kind="full",
        lists=("A", "B", "C"),
        observed=100,
        method=method,
        population=population,
        interval_95=(low, high),
        interval_80=None,
        interval_method="lognormal",
    )


def report_of(*rows: RobustnessRow) -> RobustnessReport:
    methods = tuple(row.method for row in rows)
    return RobustnessReport(
        lists=("A", "B", "C"),
        observed=100,
        source=None,
        methods=methods,
        variant_methods=(),
        reference_method=None,
        rows=list(rows),
    )


def test_sentences_for_each_kind_of_contradiction() -> None:
    # b lies outside a's interval only; c is far from both; d is unbounded above.
    report = report_of(
        full_row("a", 1_000, 900, 1_100),
        full_row("b", 1_150, 950, 1_400),
        full_row("c", 5_000, 4_000, 6_000),
        full_row("d", 1_050, 800, None),
    )
    sentences = report.method_disagreements()
    assert "b (1,150) lies outside the 95% interval of a (900–1,100)." in sentences
    assert (
        "a (1,000) and c (5,000) disagree: their 95% intervals (900–1,100 and 4,000–6,000) "
        "do not overlap." in sentences
    )
    # c lies inside d's unbounded interval, but d's estimate lies below c's.
    assert "d (1,050) lies outside the 95% interval of c (4,000–6,000)." in sentences
    assert not any(s.startswith("c (5,000) lies outside") for s in sentences)
    assert len(sentences) == 4  # a–b, a–c, b–c, c–d; a–d and b–d agree
    assert "odd one out" not in report.headline()

    agreeing_but_c = report_of(
        full_row("a", 1_000, 900, 1_100),
        full_row("b", 1_020, 950, 1_150),
        full_row("c", 5_000, 4_000, 6_000),
    )
    assert "c is the odd one out" in agreeing_but_c.headline()


def test_merged_list_names_never_collide() -> None:
    source = CaptureTable.from_counts(
        ("A", "B", "AB"), {1: 100, 2: 80, 4: 60, 3: 20, 5: 15, 6: 12, 7: 4}
    )
    report = robustness(source, methods=("main",), variant_methods=("main",))
    merged = next(row for row in report.rows if row.variant == "merge A+B")
    assert merged.lists == ("A+B", "AB") and merged.ok
