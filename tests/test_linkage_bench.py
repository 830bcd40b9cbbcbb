"""The linkage bench's own arithmetic: pair counting and the PASS/MISS summary."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from tests.bench_modules import load_bench_module
from tiphub.linkage import population

bench = load_bench_module("linkage_bench")

# Six records: true people a (three records), b (two), c (one): 3 + 1 = 4 true pairs.
TRUTH = ["a", "a", "a", "b", "b", "c"]


def test_pair_quality_on_a_hand_counted_example() -> None:
    # One cluster of four (records 0-3) holds 6 pairs, of which the 3 among a's records are
    # true; b's pair (3, 4) is split, as is everything of c.
    quality = bench.pair_quality(["x", "x", "x", "x", "y", "z"], TRUTH)
    assert (quality.true_positive, quality.predicted, quality.actual) == (3, 6, 4)
    assert quality.precision == pytest.approx(0.5)
    assert quality.recall == pytest.approx(0.75)
    assert quality.f1 == pytest.approx(0.6)
    assert quality.precision_over_recall == pytest.approx(2 / 3)


def test_pair_quality_ignores_what_the_labels_are() -> None:
    as_text = bench.pair_quality(["x", "x", "y", "y", "y", "z"], TRUTH)
    as_numbers = bench.pair_quality(np.array([7, 7, 3, 3, 3, 0]), np.array([2, 2, 2, 9, 9, 5]))
    # Pairs (0, 1) and (3, 4) are true; (2, 3) and (2, 4) are not.
    assert (as_text.true_positive, as_text.predicted, as_text.actual) == (2, 4, 4)
    assert as_numbers == as_text


def test_pair_quality_of_the_truth_itself_and_of_singletons() -> None:
    perfect = bench.pair_quality(TRUTH, TRUTH)
    assert (perfect.precision, perfect.recall, perfect.f1) == (1.0, 1.0, 1.0)
    apart = bench.pair_quality(["1", "2", "3", "4", "5", "6"], TRUTH)
    assert apart.predicted == 0
    assert apart.precision == 1.0 and apart.recall == 0.0 and apart.f1 == 0.0
    assert math.isinf(apart.precision_over_recall)


def test_pair_quality_refuses_records_without_truth() -> None:
    with pytest.raises(ValueError, match="true identity"):
        bench.pair_quality(["x"] * 6, ["a", "a", None, "b", "b", "c"])
    with pytest.raises(ValueError, match="length"):
        bench.pair_quality(["x"] * 5, TRUTH)


def test_blocking_recall_counts_true_pairs_that_were_scored() -> None:
    codes = np.array([0, 0, 0, 1, 1, 2])
    left, right = np.array([0, 0, 3, 2]), np.array([1, 3, 4, 5])
    # (0, 1) and (3, 4) are true: 2 of the 4 true pairs.
    assert bench.blocking_recall(left, right, codes, 4) == pytest.approx(0.5)
    assert bench.blocking_recall(left[:0], right[:0], codes, 0) == 1.0


def _result(name: str, kind: str, **measures: float) -> Any:
    return bench.SetResult(name=name, kind=kind, **measures)


def _target(label: str) -> Any:
    return next(target for target in bench.TARGETS if target.label.startswith(label))


def test_a_target_passes_only_when_every_set_meets_it() -> None:
    f1 = _target("multi-origin F1")
    good = _result("multi-a", "multi", f1=0.95)
    poor = _result("multi-b", "multi", f1=0.91)
    other = _result("register-s1", "register", f1=0.10)
    assert bench.judge(f1, [good, other]).status == "PASS"
    outcome = bench.judge(f1, [good, poor, other])
    assert (outcome.status, outcome.judged, outcome.met) == ("MISS", 2, 1)
    assert (outcome.worst_set, outcome.worst_value) == ("multi-b", 0.91)
    assert bench.judge(f1, [other]).status == "not run"


def test_ratio_targets_miss_on_either_side_and_failures_miss() -> None:
    ratio = _target("multi-origin true P/R")
    assert bench.judge(ratio, [_result("m", "multi", true_pr=0.96)]).status == "PASS"
    assert bench.judge(ratio, [_result("m", "multi", true_pr=1.06)]).status == "MISS"
    assert bench.judge(ratio, [_result("m", "multi", true_pr=0.94)]).status == "MISS"
    # Nothing measured is not a pass.
    assert bench.judge(ratio, [_result("m", "multi")]).status == "MISS"
    failed = bench.SetResult(name="m", kind="multi", true_pr=1.0, error="exited with 1")
    outcome = bench.judge(ratio, [failed])
    assert (outcome.status, outcome.worst_value) == ("MISS", None)
    estimate = _target("every set")
    off = _result("febrl3", "febrl3", true_pr=1.00, estimated_pr=1.08)
    assert bench.judge(estimate, [off]).status == "MISS"


def test_time_and_memory_are_judged_up_to_a_million_records() -> None:
    seconds = _target("scale (<= 1M) link")
    slow_million = _result("scale-1000000", "scale", records=1_000_000, seconds=130.0)
    slow_larger = _result("scale-2000000", "scale", records=2_000_000, seconds=500.0)
    assert bench.judge(seconds, [slow_million]).status == "MISS"
    assert bench.judge(seconds, [slow_larger]).status == "not run"


def test_summary_has_one_row_per_target_with_its_verdict() -> None:
    results = [
        _result("febrl4", "febrl4", f1=0.9995, true_pr=1.0, estimated_pr=1.01),
        _result("febrl3", "febrl3", f1=0.98, true_pr=1.0, estimated_pr=1.0),
    ]
    lines = bench.summary_lines(results)
    rows = {line.split("  ")[0]: line for line in lines[2:]}
    assert len(rows) == len(bench.TARGETS)
    assert rows["FEBRL4 (no soc_sec_id) F1 >= 0.999"].endswith("PASS")
    assert rows["FEBRL3 F1 >= 0.99"].endswith("MISS")
    assert "febrl3: 0.9800" in rows["FEBRL3 F1 >= 0.99"]
    assert rows["register F1 >= 0.90"].endswith("not run")


def test_plans_cover_the_issue_and_name_only_known_sets() -> None:
    quick = bench.plan(quick=True, sizes=[200_000])
    kinds = [bench.bench_set(name).kind for name in quick]
    assert kinds.count("multi") == 2 and kinds.count("register") == 1
    assert {"febrl3", "febrl4"} <= set(kinds) and "scale" not in kinds
    full = [bench.bench_set(name) for name in bench.plan(quick=False, sizes=[200_000, 10**6])]
    assert [spec.size for spec in full if spec.kind == "scale"] == [200_000, 1_000_000]
    multi = [spec for spec in full if spec.kind == "multi"]
    assert len({spec.seed for spec in multi}) >= 2
    other_mixes = {spec.mix for spec in multi} - {"default"}
    assert len(other_mixes) >= 2
    for mix in other_mixes:
        shares = bench.MIXES[mix]
        assert set(shares) <= set(population.ORIGINS)
        assert dict(shares) != population.DEFAULT_MIX
    with pytest.raises(ValueError, match="unknown set"):
        bench.bench_set("multi-nowhere-s1")


def test_the_old_command_line_still_parses() -> None:
    old = bench._parser().parse_args(["--demo-size", "1000000", "--skip-demo"])
    assert (old.sizes, old.skip_large) == ([1_000_000], True)
    new = bench._parser().parse_args(["--sizes", "200000,1_000_000"])
    assert (new.sizes, new.skip_large, new.quick) == ([200_000, 1_000_000], False, False)
    with pytest.raises(SystemExit):
        bench._parser().parse_args(["--sizes", "many"])
