"""``tiphub release`` through the command line's own app: the file contracts
(AGG.csv, the bundle), refusals that write nothing, and the privacy-budget ledger
(SQLite, or PostgreSQL with TIPHUB_TEST_DATABASE_URL)."""

from __future__ import annotations

import csv
import itertools
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from tiphub.cases.canonical import case_document
from tiphub.cli.app import app
from tiphub.demo.generator import generate
from tiphub.exchange.ctdc import SYNTHETIC_COLUMNS, synthetic_rows
from tiphub.store.db import default_engine

runner = CliRunner()
BUNDLE = {
    "synthetic.csv",
    "aggregates.csv",
    "codebook.csv",
    "privacy.json",
    "metrics.json",
    "report.html",
}


def tiphub(*args: str) -> Result:
    return runner.invoke(app, list(args))


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def hub(engine: Engine) -> Iterator[Engine]:
    default_engine.cache_clear()
    yield engine
    default_engine().dispose()
    default_engine.cache_clear()


@pytest.fixture(scope="module")
def ctdc_rows() -> list[dict[str, str]]:
    return [row for record, _ in generate(700, 41) for row in synthetic_rows(case_document(record))]


@pytest.fixture
def ctdc_file(tmp_path: Path, ctdc_rows: list[dict[str, str]]) -> Path:
    path = tmp_path / "ctdc.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, SYNTHETIC_COLUMNS)
        writer.writeheader()
        writer.writerows(ctdc_rows)
    return path


def real_counts(rows: list[dict[str, str]], length: int) -> Counter[str]:
    counts: Counter[str] = Counter()
    for row in rows:
        items = [f"{name}={row[name]}" for name in SYNTHETIC_COLUMNS if row[name]]
        for size in range(1, length + 1):
            counts.update(";".join(chosen) for chosen in itertools.combinations(items, size))
    return counts


def test_aggregates_file_contract(
    hub: Engine, ctdc_file: Path, ctdc_rows: list[dict[str, str]], tmp_path: Path
) -> None:
    output = tmp_path / "agg.csv"
    result = tiphub("release", "aggregates", "--input", str(ctdc_file), "--output", str(output))
    assert result.exit_code == 0, result.output
    with output.open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == ["combination", "count"]
        released = {combination: int(count) for combination, count in reader}
    real = real_counts(ctdc_rows, 3)
    assert released and set(released) == {text for text, n in real.items() if n >= 11}
    order = {name: i for i, name in enumerate(SYNTHETIC_COLUMNS)}
    for combination, count in released.items():
        names = [part.split("=")[0] for part in combination.split(";")]
        assert names == sorted(names, key=order.__getitem__)
        assert count % 5 == 0 and abs(count - real[combination]) < 5
    assert "suppressed" in flat(result.output)


def test_larger_k_and_shorter_combinations(hub: Engine, ctdc_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "agg.csv"
    args = [
        "--input",
        str(ctdc_file),
        "--output",
        str(output),
        "--k",
        "50",
        "--max-combination",
        "1",
    ]
    assert tiphub("release", "aggregates", *args).exit_code == 0
    combinations = [row["combination"] for row in csv.DictReader(output.open(encoding="utf-8"))]
    assert combinations and all(";" not in text for text in combinations)


@pytest.mark.parametrize(
    ("extra", "reason"),
    [(["--k", "1"], "k must be at least 2"), (["--max-combination", "0"], "at least 1")],
)
def test_bad_parameters_write_nothing(
    hub: Engine, ctdc_file: Path, tmp_path: Path, extra: list[str], reason: str
) -> None:
    output = tmp_path / "agg.csv"
    result = tiphub(
        "release", "aggregates", "--input", str(ctdc_file), "--output", str(output), *extra
    )
    assert result.exit_code == 2 and reason in flat(result.output)
    assert not output.exists()


def test_a_column_not_in_the_codebook_is_refused(hub: Engine, tmp_path: Path) -> None:
    source = tmp_path / "in.csv"
    source.write_text("gender,familyName\n" + "Woman,Popescu\n" * 30, encoding="utf-8")
    output = tmp_path / "bundle"
    result = tiphub(
        "release",
        "synthetic",
        "--input",
        str(source),
        "--method",
        "k-anon",
        "--output",
        str(output),
    )
    assert result.exit_code == 2
    assert "familyName" in flat(result.output) and "codebook" in flat(result.output)
    assert "Popescu" not in result.output
    assert not output.exists()


def test_k_anonymous_bundle(hub: Engine, ctdc_file: Path, tmp_path: Path) -> None:
    output = tmp_path / "bundle"
    result = tiphub(
        "release",
        "synthetic",
        "--input",
        str(ctdc_file),
        "--method",
        "k-anon",
        "--output",
        str(output),
        "--json",
    )
    assert result.exit_code == 0, result.output
    assert {path.name for path in output.iterdir()} == BUNDLE
    with (output / "synthetic.csv").open(encoding="utf-8") as handle:
        reader = csv.reader(handle)
        assert next(reader) == SYNTHETIC_COLUMNS
        assert sum(1 for _ in reader) > 0
    privacy = json.loads((output / "privacy.json").read_text(encoding="utf-8"))
    assert privacy["method"] == "k-anon" and privacy["k"] == 11 and privacy["max_combination"] == 3
    assert {"suppression", "date", "approved_by"} <= set(privacy)
    metrics = json.loads((output / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["attack"]["passes"] is True and metrics["attack"]["below_k"] == 0
    summary = json.loads(result.output)
    assert summary["privacy"]["method"] == "k-anon"
    # A second run into the same folder is refused and leaves the bundle as it was.
    before = (output / "synthetic.csv").read_bytes()
    again = tiphub("release", "synthetic", "--input", str(ctdc_file), "--output", str(output))
    assert again.exit_code == 2 and "not an empty folder" in flat(again.output)
    assert (output / "synthetic.csv").read_bytes() == before


def test_differential_privacy_spends_the_budget_until_it_is_gone(
    hub: Engine, ctdc_file: Path, tmp_path: Path
) -> None:
    def dp(epsilon: str, name: str) -> Result:
        return tiphub(
            "release",
            "synthetic",
            "--input",
            str(ctdc_file),
            "--method",
            "dp",
            "--epsilon",
            epsilon,
            "--output",
            str(tmp_path / name),
            "--seed",
            "3",
        )

    assert (
        tiphub(
            "release",
            "synthetic",
            "--input",
            str(ctdc_file),
            "--method",
            "dp",
            "--epsilon",
            "0",
            "--output",
            str(tmp_path / "zero"),
        ).exit_code
        == 2
    )
    first = dp("6", "first")
    assert first.exit_code == 0, first.output
    privacy = json.loads((tmp_path / "first" / "privacy.json").read_text(encoding="utf-8"))
    assert privacy["epsilon"] == 6 and privacy["delta"] > 0
    assert "real_rows" not in privacy  # an exact count would not be differentially private
    second = dp("6", "second")
    assert second.exit_code == 2
    assert "cannot pay" in flat(second.output) and "left: ε = 4" in flat(second.output)
    assert not (tmp_path / "second").exists()
    ledger = json.loads(tiphub("release", "budget", "--json").output)
    assert [(entry["epsilon_spent"], entry["releases"]) for entry in ledger] == [(6.0, 1)]
    # The budget of a dataset is fixed once spent from.
    fixed = tiphub("release", "budget", "--dataset", ledger[0]["dataset"], "--epsilon", "100")
    assert fixed.exit_code == 2 and "fixed" in flat(fixed.output)


def test_a_folder_another_run_is_writing_to_is_refused_before_any_spend(
    hub: Engine, ctdc_file: Path, tmp_path: Path
) -> None:
    output = tmp_path / "bundle"
    arguments = ("release", "synthetic", "--input", str(ctdc_file), "--method", "dp")
    busy = tmp_path / ".bundle.tiphub-lock"  # another run's claim on the folder
    busy.touch()
    refused = tiphub(*arguments, "--epsilon", "1", "--output", str(output))
    assert refused.exit_code == 2
    assert "another release is being written" in flat(refused.output)
    assert not output.exists() and busy.exists(), "the other run's claim is not ours to drop"
    assert json.loads(tiphub("release", "budget", "--json").output) == []

    busy.unlink()
    done = tiphub(*arguments, "--epsilon", "1", "--output", str(output))
    assert done.exit_code == 0, done.output
    assert {path.name for path in output.iterdir()} == BUNDLE
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_the_database_is_the_default_input(hub: Engine, tmp_path: Path) -> None:
    loaded = tiphub("demo", "--cases", "300", "--seed", "2")
    assert loaded.exit_code == 0, loaded.output
    output = tmp_path / "agg.csv"
    result = tiphub("release", "aggregates", "--output", str(output))
    assert result.exit_code == 0, result.output
    assert sum(1 for _ in output.open(encoding="utf-8")) > 10


def test_the_codebook_lists_declared_domains(hub: Engine) -> None:
    listed = json.loads(tiphub("release", "codebook", "--json").output)
    assert [entry["variable"] for entry in listed] == SYNTHETIC_COLUMNS
    gender = next(entry for entry in listed if entry["variable"] == "gender")
    assert gender["values"] == ["Man", "Woman", "Trans/Transgender/NonConforming"]


def test_a_release_with_nothing_to_measure_prints_n_a(hub: Engine, tmp_path: Path) -> None:
    # five identical rows: a DP release of them releases (almost) nothing, so some lengths
    # have no error to measure; the summary says n/a instead of stopping after the write
    tiny = tmp_path / "tiny.csv"
    tiny.write_text(
        "gender,meansThreats,meansDebtBondageEarnings\n" + "Woman,1,\n" * 5, encoding="utf-8"
    )
    out = tmp_path / "tiny-release"
    result = tiphub(
        "release",
        "synthetic",
        "--input",
        str(tiny),
        "--method",
        "dp",
        "--epsilon",
        "1",
        "--output",
        str(out),
    )
    assert result.exit_code == 0, result.output
    assert "Release written to" in result.output
    assert "n/a" in result.output
    assert "unexpected" not in result.output
    assert {path.name for path in out.iterdir()} >= BUNDLE
