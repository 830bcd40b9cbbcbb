"""The command line end to end, in a subprocess, on the test database."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

from tiphub.cases.schema import case_json_schema
from tiphub.exchange.ctdc import SYNTHETIC_COLUMNS

ROOT = Path(__file__).resolve().parents[1]


def tiphub(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIPHUB_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "tiphub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_demo_summary_export_and_reimport(database_url: str, tmp_path: Path) -> None:
    truth = tmp_path / "truth.csv"
    loaded = tiphub(database_url, "demo", "--cases", "300", "--seed", "5", "--truth", str(truth))
    assert loaded.returncode == 0, loaded.stderr
    truth_rows = list(csv.DictReader(truth.open(encoding="utf-8")))
    assert truth_rows and set(truth_rows[0]) == {
        "organisation",
        "case_external_id",
        "person_external_id",
        "true_person_id",
    }

    summary = tiphub(database_url, "summary", "--json")
    assert summary.returncode == 0, summary.stderr
    data = json.loads(summary.stdout)
    assert data["cases"] == 300
    assert sum(data["by_sex"].values()) == data["victims"]
    assert sum(data["by_age_band"].values()) == data["victims"]
    assert data["top_country_pairs"]

    ctdc = tmp_path / "ctdc.csv"
    exported = tiphub(database_url, "export", "--format", "ctdc", "--output", str(ctdc))
    assert exported.returncode == 0, exported.stderr
    with ctdc.open(encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert reader.fieldnames == SYNTHETIC_COLUMNS
        assert sum(1 for _ in reader) == data["victims"]

    jsonl = tmp_path / "cases.jsonl"
    assert (
        tiphub(database_url, "export", "--format", "jsonl", "--output", str(jsonl)).returncode == 0
    )
    again = tiphub(database_url, "import", str(jsonl))
    assert again.returncode == 0, again.stderr
    assert "300 unchanged" in again.stdout


def test_a_refused_import_exits_non_zero_and_writes_the_report(
    database_url: str, tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "tip_CaseId,tip_Organisation,prs_Gender,vic_TraffickingStatus\nc1,ngo-east,Feminine,Perhaps\n",
        encoding="utf-8",
    )
    report = tmp_path / "report.json"
    result = tiphub(database_url, "import", str(bad), "--report", str(report))
    assert result.returncode == 1
    assert "nothing was written" in result.stderr
    issues = json.loads(report.read_text(encoding="utf-8"))["issues"]
    assert [(i["row"], i["column"], i["value"]) for i in issues] == [
        (2, "vic_TraffickingStatus", "<withheld>")
    ]
    assert "Perhaps" not in result.stderr + report.read_text(encoding="utf-8")
    assert report.stat().st_mode & 0o777 == 0o600


def test_the_published_schema_is_current() -> None:
    published = json.loads((ROOT / "docs" / "case-schema.json").read_text(encoding="utf-8"))
    assert published == case_json_schema(), "run: tiphub schema --output docs/case-schema.json"
