"""Capture-table input checks, list surgery, strata and the ``tiphub estimate`` command."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tiphub.cli.app import app
from tiphub.estimate.api import estimate, estimate_strata
from tiphub.estimate.table import CaptureTableError, read_capture_csv, read_capture_table

DATA = Path(__file__).parent / "data" / "mse"
runner = CliRunner()


def write(tmp_path: Path, text: str, name: str = "table.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("text", "row", "column", "fragment"),
    [
        ("A,B,count\n1,0,5\n0,2,3\n1,1,1\n", 3, "B", "0 or 1"),
        ("A,B,count\n1,0,5\n0,1,-3\n1,1,1\n", 3, "count", "negative"),
        ("A,B,count\n1,0,5\n0,1,2.5\n1,1,1\n", 3, "count", "whole number"),
        ("A,B,count\n1,0,5\n0,0,4\n1,1,1\n", 3, None, "all-zero history"),
        ("A,B,count\n1,0,5\n0,1,\n", 3, "count", "missing"),
    ],
)
def test_bad_cells_are_located(tmp_path: Path, text: str, row: int, column: str | None, fragment: str) -> None:
    with pytest.raises(CaptureTableError) as caught:
        read_capture_table(write(tmp_path, text))
    error = caught.value
    assert error.source == "table.csv" and error.row == row and error.column == column
    assert fragment in str(error)


def test_table_level_problems(tmp_path: Path) -> None:
    with pytest.raises(CaptureTableError, match="at least 2 list"):
        read_capture_table(write(tmp_path, "A,count\n1,5\n"))
    with pytest.raises(CaptureTableError, match="nobody is on list 'C'"):
        read_capture_table(write(tmp_path, "A,B,C,count\n1,0,0,5\n0,1,0,3\n1,1,0,2\n"))
    with pytest.raises(CaptureTableError, match="empty"):
        read_capture_table(write(tmp_path, ""))
    with pytest.raises(CaptureTableError, match="no data rows"):
        read_capture_table(write(tmp_path, "A,B,count\n"))


def test_zero_fill_and_per_person_layout_agree(tmp_path: Path) -> None:
    aggregated = read_capture_table(write(tmp_path, "A,B,C,count\n1,0,0,2\n0,1,1,1\n", "agg.csv"))
    per_person = read_capture_table(write(tmp_path, "A,B,C\n1,0,0\n0,1,1\n1,0,0\n", "people.csv"))
    assert np.array_equal(aggregated.counts, per_person.counts)
    assert aggregated.counts.size == 8 and aggregated.observed == 3
    assert int((aggregated.counts[1:] == 0).sum()) == 5  # the unseen observable cells are zero


def test_omit_keeps_people_seen_elsewhere() -> None:
    uk = read_capture_table(DATA / "UKdat.csv")
    without = uk.omit("NCA")
    only_nca = uk.counts[1 << 5]
    assert without.observed == uk.observed - only_nca
    assert without.lists == ("LA", "NG", "PF", "GO", "GP")


def test_strata_are_estimated_and_summed(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    lines = ["A,B,C,year,count"]
    for year, size in (("2023", 3000), ("2024", 2000)):
        seen = rng.random((size, 3)) < np.array([0.3, 0.25, 0.2])
        for history in {tuple(row) for row in seen.astype(int) if row.any()}:
            count = int((seen.astype(int) == history).all(axis=1).sum())
            lines.append(",".join(map(str, history)) + f",{year},{count}")
    path = write(tmp_path, "\n".join(lines) + "\n")
    tables = read_capture_csv(path, strata=["year"])
    assert sorted(tables) == [("2023",), ("2024",)]
    result = estimate_strata({k[0]: v for k, v in tables.items()}, "main", replicates=100, seed=1)
    parts = [estimate(t, "main").population for t in tables.values()]
    assert result.population == pytest.approx(sum(parts))
    low, high = result.interval_95
    assert low < result.population < high
    assert low < 5000 < high  # the simulated total


def test_cli_json_has_the_contract_keys() -> None:
    outcome = runner.invoke(app, ["estimate", str(DATA / "UKdat_5.csv"), "--method", "stepwise", "--json"])
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    for key in ("method", "observed", "population", "dark_figure", "interval_95", "interval_80",
                "model", "infinite_terms", "existence_code", "seconds"):
        assert key in data
    assert data["population"] == 11313.0
    assert data["dark_figure"] == pytest.approx(11313.0 - 2744, abs=0.2)
    assert data["model"] == ["LA:NG", "NG:GP", "PFNCA:GP", "LA:PFNCA", "GO:GP", "NG:GO"]
    assert data["interval_95"] == [9884.4, 13027.4]


def test_cli_merge_omit_and_infinite_terms() -> None:
    merged = runner.invoke(app, ["estimate", str(DATA / "UKdat.csv"), "--merge", "PF+NCA", "--json"])
    assert json.loads(merged.stdout)["population"] == 11313.0
    sparse = runner.invoke(app, ["estimate", str(DATA / "Western.csv"), "--pthresh", "1", "--json"])
    data = json.loads(sparse.stdout)
    assert data["infinite_terms"] == ["A:B", "B:E"] and data["population"] == 7874.3
    omitted = runner.invoke(app, ["estimate", str(DATA / "UKdat.csv"), "--omit", "NCA", "--json"])
    assert json.loads(omitted.stdout)["observed"] < 2744


def test_cli_summary_and_errors(tmp_path: Path) -> None:
    text = runner.invoke(app, ["estimate", str(DATA / "Kosovo.csv"), "--method", "main"])
    assert text.exit_code == 0 and "7,394.6" in text.stdout and "Existence check" in text.stdout
    bad = runner.invoke(app, ["estimate", str(write(tmp_path, "A,B,count\n1,0,x\n0,1,1\n1,1,1\n"))])
    assert bad.exit_code == 1 and "row 2" in bad.output and "count" in bad.output
    unknown = runner.invoke(app, ["estimate", str(DATA / "UKdat.csv"), "--omit", "XX"])
    assert unknown.exit_code == 1 and "unknown list 'XX'" in unknown.output
    nonexistent = runner.invoke(app, ["estimate", str(DATA / "Korea.csv"), "--method", "fixed", "--model", "b:c,b:d,c:d"])
    assert nonexistent.exit_code == 1 and "does not exist" in nonexistent.output


def test_cli_profits_from_the_recorded_mix() -> None:
    outcome = runner.invoke(
        app,
        ["estimate", str(DATA / "Kosovo.csv"), "--method", "main", "--profits", "sexual=30,labour=70", "--json"],
    )
    assert outcome.exit_code == 0, outcome.output
    data = json.loads(outcome.stdout)
    profits = data["profits"]
    assert data["interval_method"] == "bca"  # the bootstrap supplied the population draws
    # Roughly N × (0.3 × 27,252 + 0.7 × 3,687) USD for the ILO 2024 figures.
    expected = data["population"] * (0.3 * 27252 + 0.7 * 3687)
    assert 0.6 * expected < profits["profit"]["median"] < 1.4 * expected
    bad = runner.invoke(app, ["estimate", str(DATA / "Kosovo.csv"), "--profits", "sexual=lots"])
    assert bad.exit_code == 1 and "form=count" in bad.output


def test_cli_robustness_writes_a_report(tmp_path: Path) -> None:
    report = tmp_path / "robust.html"
    outcome = runner.invoke(app, ["estimate", "robustness", str(DATA / "Korea.csv"), "--report", str(report)])
    assert outcome.exit_code == 0, outcome.output
    assert "methods" in outcome.stdout.lower()
    page = report.read_text(encoding="utf-8")
    assert "<svg" in page and "stepwise" in page


def test_cli_estimate_report_and_strata(tmp_path: Path) -> None:
    report = tmp_path / "estimate.html"
    outcome = runner.invoke(app, ["estimate", str(DATA / "Western.csv"), "--report", str(report)])
    assert outcome.exit_code == 0 and "<svg" in report.read_text(encoding="utf-8")


def test_bic_refuses_model_spaces_too_large_to_enumerate() -> None:
    outcome = runner.invoke(app, ["estimate", str(DATA / "NewOrl.csv"), "--method", "bic"])
    assert outcome.exit_code == 1 and "limited to 6 lists" in outcome.output
    six = runner.invoke(app, ["estimate", str(DATA / "UKdat.csv"), "--method", "bic", "--max-order", "3"])
    assert six.exit_code == 1 and "too many models" in six.output


def test_errors_do_not_repeat_text_that_may_identify_someone(tmp_path: Path) -> None:
    with pytest.raises(CaptureTableError) as caught:
        read_capture_table(write(tmp_path, "A,B,name\n1,0,Mariia Kovalenko\n0,1,x\n"))
    assert "Mariia" not in str(caught.value) and "not shown" in str(caught.value)
    assert caught.value.column == "name" and caught.value.row == 2
