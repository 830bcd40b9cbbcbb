"""Every file tiphub leaves is private to its user, and killed runs leave nothing behind."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tiphub.files import open_private, run_temp_dir, staged_file, sweep_leftovers


def _tiphub(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tiphub.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A SQLite database in a data folder tiphub creates, and a temp folder of the test's own."""
    temp = tmp_path / "tmp"
    temp.mkdir()
    environment = {**os.environ, "TMPDIR": str(temp), "TIPHUB_DATA_DIR": str(tmp_path / "data")}
    environment.pop("TIPHUB_DATABASE_URL", None)
    return environment


def test_the_database_exports_reports_and_truth_are_private(
    env: dict[str, str], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    demo = _tiphub(env, "demo", "--cases", "40", "--seed", "3", "--truth", str(out / "truth.csv"))
    assert demo.returncode == 0, demo.stderr
    data = tmp_path / "data"
    assert _mode(data) == 0o700 and _mode(data / "tiphub.db") == 0o600
    written = [out / "truth.csv"]
    for fmt, name in (
        ("htcds-csv", "c.csv"),
        ("htcds-xlsx", "c.xlsx"),
        ("jsonl", "c.jsonl"),
        ("ctdc", "ctdc.csv"),
        ("ctdc-global", "global.csv"),
    ):
        done = _tiphub(env, "export", "--format", fmt, "--output", str(out / name))
        assert done.returncode == 0, done.stderr
        written.append(out / name)
    bad = tmp_path / "bad.csv"
    bad.write_text("tip_CaseId,prs_Gender\nc1,=HYPERLINK(\"http://x\")\n", encoding="utf-8")
    refused = _tiphub(env, "import", str(bad), "--report", str(out / "report.csv"))
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    written.append(out / "report.csv")
    assert _mode(out) == 0o700
    assert {path.name: _mode(path) for path in written} == {path.name: 0o600 for path in written}
    report = (out / "report.csv").read_text(encoding="utf-8")
    assert "=HYPERLINK" not in report  # neither quoted nor a live formula
    # Nothing is left in the temporary folder or beside the outputs.
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in written)
    leftovers = [p for p in (tmp_path / "tmp").rglob("*") if p.is_file()]
    assert leftovers == []


def test_a_killed_export_leaves_nothing_and_the_next_run_sweeps_its_folder(
    env: dict[str, str], tmp_path: Path
) -> None:
    assert _tiphub(env, "demo", "--cases", "3000", "--seed", "2").returncode == 0
    out = tmp_path / "out"
    out.mkdir()
    temp_base = tmp_path / "tmp" / f"tiphub-{os.getuid()}"
    process = subprocess.Popen(
        [sys.executable, "-m", "tiphub.cli", "export", "--format", "htcds-xlsx",
         "--output", str(out / "cases.xlsx")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 300
    staged: list[Path] = []
    while time.monotonic() < deadline and process.poll() is None:
        staged = [p for p in temp_base.rglob("*") if p.is_file() and p.stat().st_size > 0]
        if staged:
            break
        time.sleep(0.05)
    assert staged and process.poll() is None, "the export finished before it could be killed"
    assert all(_mode(path) == 0o600 for path in staged)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert list(out.iterdir()) == []  # nothing half-written beside the destination
    killed_runs = [p for p in temp_base.iterdir() if p.name.startswith("run-")]
    assert killed_runs and _mode(temp_base) == 0o700
    again = _tiphub(env, "export", "--format", "jsonl", "--output", str(out / "cases.jsonl"))
    assert again.returncode == 0, again.stderr
    assert [p for p in temp_base.iterdir() if p.name.startswith("run-")] == []


def test_staging_replaces_only_on_success(tmp_path: Path) -> None:
    destination = tmp_path / "new" / "file.csv"
    with pytest.raises(RuntimeError), staged_file(destination) as staged:
        staged.write_text("half", encoding="utf-8")
        raise RuntimeError("killed")
    assert not destination.exists()
    assert not list(run_temp_dir().glob(".tiphub-staged-*"))
    with staged_file(destination) as staged:
        staged.write_text("whole", encoding="utf-8")
    assert destination.read_text(encoding="utf-8") == "whole"
    assert _mode(destination) == 0o600 and _mode(destination.parent) == 0o700


def test_open_private_tightens_an_existing_file(tmp_path: Path) -> None:
    path = tmp_path / "loose.csv"
    path.write_text("x", encoding="utf-8")
    path.chmod(0o644)
    with open_private(path, "w", encoding="utf-8") as handle:
        handle.write("y")
    assert _mode(path) == 0o600 and path.read_text(encoding="utf-8") == "y"


def test_sweeping_keeps_live_runs(tmp_path: Path) -> None:
    live = tmp_path / f"run-{os.getppid()}-abcd"
    dead = tmp_path / "run-999999999-abcd"
    for folder in (live, dead):
        folder.mkdir()
        (folder / "spill").write_text("x", encoding="utf-8")
    assert sweep_leftovers(tmp_path) == 1
    assert live.exists() and not dead.exists()
