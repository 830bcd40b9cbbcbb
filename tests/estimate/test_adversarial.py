"""``tiphub estimate`` against hostile or careless input: every case ends in a result or a
short located error — never a traceback, a hang, an echoed free-text cell or a report
readable by others."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np
import pytest
from typer.testing import CliRunner, Result

import tiphub.estimate.limits as limits
import tiphub.estimate.report as report_module
from tests.memory import run_tiphub_measured
from tiphub.cli.app import app
from tiphub.estimate.table import MAX_COUNT, MAX_STRATA, CaptureTable
from tiphub.files import open_private, run_temp_dir

DATA = Path(__file__).parent / "data" / "mse"
KOSOVO = DATA / "Kosovo.csv"
runner = CliRunner()
SECRET = "Mariia Kovalenko"  # a name in a cell: must never reach the output
PHONE = "0612345678"  # nor a phone number in a stray column

# Three lists, 116 people; the main-effects estimate exists.
BASE = "A,B,C,count\n1,0,0,40\n0,1,0,30\n0,0,1,20\n1,1,0,10\n1,0,1,8\n0,1,1,6\n1,1,1,2\n"


def invoke(*args: object) -> Result:
    """Run the real command in-process; whatever happens, no traceback and no stray exception."""
    outcome = runner.invoke(app, [str(arg) for arg in args])
    assert "Traceback" not in outcome.output
    assert outcome.exception is None or isinstance(outcome.exception, SystemExit), repr(
        outcome.exception
    )
    return outcome


def one_error_line(outcome: Result) -> str:
    lines = [line for line in outcome.output.splitlines() if line.strip()]
    assert len(lines) == 1, outcome.output
    assert lines[0].startswith("Error:"), outcome.output
    return lines[0]


def write(folder: Path, content: str | bytes, name: str = "table.csv") -> Path:
    path = folder / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def many_lists(lists: int, people: int = 4_000, seed: int = 1) -> str:
    """A table of ``lists`` lists with two latent classes of people (real dependence)."""
    rng = np.random.default_rng(seed)
    shy = rng.random(people) < 0.7
    chance = np.where(shy[:, None], 0.06, 0.3) * np.ones((people, lists))
    seen = rng.random((people, lists)) < chance
    masks = (seen.astype(np.int64) << np.arange(lists)).sum(axis=1)
    counts = np.bincount(masks, minlength=1 << lists)
    counts[0] = 0
    return CaptureTable(tuple(f"L{i}" for i in range(lists)), counts).to_csv()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def population(outcome: Result) -> float:
    assert outcome.exit_code == 0, outcome.output
    return float(json.loads(outcome.stdout)["population"])


# ---------------------------------------------------------------------- counts


@pytest.mark.parametrize(
    ("count", "fragment"),
    [
        ("1e19", "larger than the maximum of 1,000,000,000"),
        ("1e300", "larger than the maximum of 1,000,000,000"),
        ("10000000000000000000", "larger than the maximum of 1,000,000,000"),
        ("1000000000000000000", "larger than the maximum of 1,000,000,000"),
        ("1000000001", "larger than the maximum of 1,000,000,000"),
        ("9" * 5000, "larger than the maximum of 1,000,000,000"),
        ("-4", "must not be negative"),
        ("4.5", "must be a whole number"),
        ("nan", "finite whole number"),
        ("inf", "finite whole number"),
        ("-inf", "finite whole number"),
        ("1e5", "plain digits"),
        ("0x10", "plain digits"),
        ("", "the count is missing"),
        (SECRET, "whole number written with digits only"),
    ],
)
def test_bad_counts_are_refused_at_their_cell(tmp_path: Path, count: str, fragment: str) -> None:
    path = write(tmp_path, BASE.replace(",0,40\n", f",0,{count}\n"))
    outcome = invoke("estimate", path, "--method", "main")
    assert outcome.exit_code == 1
    line = one_error_line(outcome)
    assert "table.csv, row 2, column 'count'" in line
    assert fragment in line
    assert SECRET not in outcome.output
    assert len(line) < 300  # a 5,000-digit count is not repeated in full


def test_two_counts_near_the_int64_limit_are_refused(tmp_path: Path) -> None:
    huge = "9000000000000000000"
    path = write(tmp_path, BASE.replace(",0,40\n", f",0,{huge}\n").replace(",0,30\n", f",0,{huge}\n"))
    outcome = invoke("estimate", path)
    assert outcome.exit_code == 1 and "row 2, column 'count'" in one_error_line(outcome)


def test_a_total_above_the_maximum_is_refused_where_it_is_reached(tmp_path: Path) -> None:
    half = MAX_COUNT // 2 + 1
    path = write(tmp_path, f"A,B,count\n1,0,{half}\n0,1,{half}\n1,1,1\n")
    outcome = invoke("estimate", path, "--method", "main")
    assert outcome.exit_code == 1
    line = one_error_line(outcome)
    assert "row 3" in line and "add up to more than the maximum of 1,000,000,000" in line


def test_counts_up_to_the_maximum_give_a_sane_estimate(tmp_path: Path) -> None:
    # Kosovo scaled to 880 million people: the interval narrows but keeps a width.
    rows = KOSOVO.read_text(encoding="utf-8").splitlines()
    scaled = [rows[0]] + [
        ",".join([*row.split(",")[:-1], str(int(row.split(",")[-1]) * 200_000)]) for row in rows[1:]
    ]
    path = write(tmp_path, "\n".join(scaled) + "\n")
    outcome = invoke("estimate", path, "--method", "main", "--json")
    data = json.loads(outcome.stdout)
    assert data["observed"] == 880_000_000
    low, high = data["interval_95"]
    assert low < data["population"] < high and high - low > 1_000
    # The same proportions as the published table, whose estimate is 7,394.6 for 4,400 people.
    assert data["population"] / 880_000_000 == pytest.approx(7394.6 / 4400, rel=1e-3)


# ---------------------------------------------------------------------- cells and layout


@pytest.mark.parametrize(
    ("content", "row", "column", "fragment"),
    [
        ("A,B,count\n2,0,5\n0,1,3\n1,1,1\n", 2, "A", "hold 0 or 1, found '2'"),
        (f"A,B,count\n{SECRET},0,5\n0,1,3\n1,1,1\n", 2, "A", "hold 0 or 1, found text (not shown)"),
        ("A,B,count\n1,,5\n0,1,3\n1,1,1\n", 2, "B", "found an empty cell"),
        (f"A,B,count\n1,{PHONE},5\n", 2, "B", "found a number of 10 characters (not shown)"),
        (f"A,B,count\n1,0,4475{PHONE}\n", 2, "count", "larger than the maximum of 1,000,000,000"),
        (f"A,B,count\n1,0,+{PHONE}\n", 2, "count", "plain digits (no exponent, sign or base prefix), found a number of 11"),
        ("A,B,count\n1,0,5\n0,0,4\n", 3, None, "all-zero history"),
        ("A,B,count\n1,0,5,7\n", 2, None, "expected 3 cells, found 4"),
        ("A,A,count\n1,0,5\n", 1, "A", "column name is repeated"),
        ("\nA,B,count\n1,0,5\n", 1, None, "first line is blank"),
        ("A,B,count\n" + "1" * 70_000 + "\n", 2, None, "longer than 65,536 characters"),
        ("A" * 70_000 + ",B,count\n1,0,1\n", 1, None, "longer than 65,536 characters"),
        ("A,B,count," + "x," * 40_000, 1, None, "longer than 65,536 characters"),
        ('A,B,count\n"1' + "x" * 70_000 + '",0,1\n', 2, None, "longer than 65,536 characters"),
        (f"{SECRET}\x07,B,count\n1,0,5\n", 1, None, "not a column name"),
        ("L" * 101 + ",B,count\n1,0,5\n", 1, None, "not a column name"),
    ],
)
def test_bad_cells_and_lines_are_located_and_never_echoed(
    tmp_path: Path, content: str, row: int, column: str | None, fragment: str
) -> None:
    outcome = invoke("estimate", write(tmp_path, content), "--method", "main")
    assert outcome.exit_code == 1
    line = one_error_line(outcome)
    where = f"table.csv, row {row}" + (f", column '{column}'" if column else "")
    assert where in line and fragment in line
    assert SECRET not in outcome.output and "xxxxxxxx" not in outcome.output
    assert PHONE not in outcome.output


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("", "the file is empty"),
        ("A,B,count\n", "header but no data rows"),
        ("A,B,count\n1,0,0\n0,1,0\n1,1,0\n", "all counts are zero"),
        ("A,count\n1,5\n", "at least 2 list columns are needed, found 1"),
        ("A,B,C,count\n1,0,0,5\n0,1,0,3\n1,1,0,2\n", "nobody is on list 'C'"),
        ("A|B|count\n1|0|5\n", "at least 2 list columns are needed"),
        (bytes(range(128, 256)) * 40, "not UTF-8"),
        (BASE.encode("utf-16-le"), "NUL bytes"),
        (b"\x00" * 5000, "NUL bytes"),
        ("A,B,count\n1,0,5\n0,1,3\n", "does not exist"),  # no overlap: no MLE
        ("A,B,C,count\n1,1,1,7\n", "does not exist"),
    ],
)
def test_unusable_files_end_in_one_short_error(
    tmp_path: Path, content: str | bytes, fragment: str
) -> None:
    outcome = invoke("estimate", write(tmp_path, content), "--method", "main")
    assert outcome.exit_code == 1
    assert fragment in one_error_line(outcome)


@pytest.mark.parametrize(
    "variant",
    [
        lambda text: text.encode("utf-16"),  # with its byte-order mark
        lambda text: ("\ufeff" + text).encode("utf-8"),
        lambda text: text.replace("\n", "\r\n").encode("utf-8"),
        lambda text: text.replace(",", ";").encode("utf-8"),
        lambda text: text.replace(",", "\t").encode("utf-8"),
        lambda text: text.replace("count", "Count").encode("utf-8"),
    ],
    ids=["utf-16", "bom", "crlf", "semicolon", "tab", "Count"],
)
def test_common_spreadsheet_exports_read_as_the_plain_file(tmp_path: Path, variant: Any) -> None:
    plain = population(invoke("estimate", write(tmp_path, BASE), "--method", "main", "--json"))
    other = write(tmp_path, variant(BASE), "variant.csv")
    assert population(invoke("estimate", other, "--method", "main", "--json")) == plain


def test_markup_in_names_prints_as_it_is(tmp_path: Path) -> None:
    outcome = invoke("estimate", write(tmp_path, "[/red],B,count\n2,0,5\n", "[b]x.csv"))
    assert outcome.exit_code == 1
    assert "[b]x.csv, row 2, column '[/red]'" in one_error_line(outcome)


# ---------------------------------------------------------------------- not regular files


def _invoke_with_deadline(seconds: float, *args: object) -> Result:
    """Invoke in a thread, failing (not hanging) if it blocks, as reading a FIFO would."""
    box: list[Result] = []
    worker = threading.Thread(target=lambda: box.append(invoke(*args)), daemon=True)
    worker.start()
    worker.join(seconds)
    assert not worker.is_alive(), f"tiphub estimate {args} did not return within {seconds} s"
    return box[0]


@pytest.mark.parametrize("kind", ["folder", "fifo", "device"])
def test_non_regular_paths_are_refused_without_opening(tmp_path: Path, kind: str) -> None:
    if kind == "folder":
        target = tmp_path
    elif kind == "fifo":
        target = tmp_path / "pipe.csv"
        os.mkfifo(target)
    else:
        target = Path("/dev/zero")
    outcome = _invoke_with_deadline(20, "estimate", target)
    assert outcome.exit_code == 1
    line = one_error_line(outcome)
    assert target.name in line
    assert ("is a folder" if kind == "folder" else "not a regular file") in line


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    outcome = invoke("estimate", tmp_path / "absent.csv")
    assert outcome.exit_code == 1
    assert "absent.csv: file not found" in one_error_line(outcome)


def test_a_million_people_one_row_each_read_in_bounded_memory(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    seen = rng.random((1_400_000, 5)) < 0.3
    seen = seen[seen.any(axis=1)][:1_000_000].astype(np.int8)
    path = tmp_path / "people.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write("A,B,C,D,E\n")
        np.savetxt(handle, seen, fmt="%d", delimiter=",")
    started = time.perf_counter()
    done, peak_mb = run_tiphub_measured(
        tmp_path, "estimate", str(path), "--method", "main", "--json", timeout=120
    )
    seconds = time.perf_counter() - started
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["observed"] == 1_000_000
    assert peak_mb < 400, peak_mb
    assert seconds < 60


# ---------------------------------------------------------------------- options


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--bootstrap", "-5"], "--bootstrap must be between 0 and 100,000, got -5"),
        (["--bootstrap", "100001", "--allow-long"], "--bootstrap must be between 0 and 100,000"),
        (["--method", "lcmcr", "--classes", "0"], "--classes must be between 1 and 1,000, got 0"),
        (["--method", "lcmcr", "--classes", "5000"], "--classes must be between 1 and 1,000"),
        (["--method", "lcmcr", "--samples", "-1"], "--samples must be between 1 and 1,000,000"),
        (["--method", "lcmcr", "--samples", "0"], "--samples must be between 1 and 1,000,000"),
        (["--method", "lcmcr", "--thinning", "0"], "--thinning must be 1 or more, got 0"),
        (["--method", "lcmcr", "--burnin", "-1"], "--burnin must be 0 or more, got -1"),
        (["--method", "lcmcr", "--burnin", "2000000000"], "at most 1,000,000,000 sweeps"),
        (["--method", "lcmcr", "--bootstrap", "10"], "--bootstrap applies to the log-linear"),
        (["--classes", "3"], "--classes applies to --method lcmcr only"),
        (["--thinning", "3"], "--thinning applies to --method lcmcr only"),
        (["--pthresh", "2"], "--pthresh must be between 0 and 1, got 2.0"),
        (["--pthresh", "-0.1"], "--pthresh must be between 0 and 1"),
        (["--pthresh", "nan"], "--pthresh must be between 0 and 1, got nan"),
        (["--method", "main", "--pthresh", "0.1"], "--pthresh applies to --method stepwise or"),
        (["--method", "bic", "--max-order", "0"], "--max-order must be 1 or more, got 0"),
        (["--max-order", "2"], "--max-order applies to --method bic or closedpms only"),
        (["--seed", "-1"], "--seed must be between 0 and 4,294,967,295, got -1"),
        (["--seed", str(2**32)], "--seed must be between 0 and 4,294,967,295"),
        (["--method", "magic"], "--method must be one of main, stepwise"),
        (["--method", "fixed", "--model", "EXH"], "--model takes interactions of two or more"),
        (["--method", "fixed", "--model", "EXH:,ABA:OSCE"], "--model takes interactions"),
        (["--method", "fixed", "--model", ","], "--model names no terms"),
        (["--method", "fixed", "--model", "EXH:EXH"], "the same list twice"),
        (["--model", "EXH:ABA"], "--model applies to --method fixed only"),
        (["--merge", "EXH"], "--merge takes two or more lists joined by '+'"),
        (["--merge", "EXH+"], "--merge takes two or more lists joined by '+'"),
        (["--merge", "EXH+EXH"], "--merge names the same list twice"),
        (["--omit", " "], "--omit must name a list"),
        (["--strata", "x", "--method", "lcmcr"], "--strata works with the log-linear methods"),
        (["--strata", "x", "--profits", "sexual=3"], "--profits takes an unstratified estimate"),
        (["--strata", "x", "--bootstrap", "0"], "--strata needs bootstrap replicates"),
        (["--region", "Asia"], "--region applies with --profits only"),
        (["--edition", "2014"], "--edition applies with --profits only"),
        (["--profits", "sexual=3", "--edition", "2019"], "--edition must be one of 2014, 2024"),
        (["--profits", "sexual=3", "--region", "Atlantis", "--edition", "2014"], "unknown region"),
        (["--report", "."], "--report must name a file"),
        (["--report", str(KOSOVO)], "--report names the input file"),
    ],
)
def test_options_out_of_range_are_usage_errors(options: list[str], fragment: str) -> None:
    started = time.perf_counter()
    outcome = invoke("estimate", KOSOVO, *options)
    assert outcome.exit_code == 2
    assert fragment in one_error_line(outcome)
    assert time.perf_counter() - started < 10  # refused before any estimate


@pytest.mark.parametrize(
    "options",
    [["--method", "main"], ["--bootstrap", "5"], ["--strata", "x"], ["--classes", "2"],
     ["--profits", "sexual=1"], ["--pthresh", "0.1"]],
)  # fmt: skip
def test_robustness_takes_no_single_estimate_options(options: list[str]) -> None:
    outcome = invoke("estimate", "robustness", KOSOVO, *options)
    assert outcome.exit_code == 2
    line = one_error_line(outcome)
    assert f"{options[0]} does not apply to 'estimate robustness'" in line


def test_robustness_without_a_file_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no file called 'robustness' here
    outcome = invoke("estimate", "robustness")
    assert outcome.exit_code == 2 and "needs the CSV after it" in one_error_line(outcome)


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--method", "fixed", "--model", "EXH:XX"], "unknown list 'XX'; the lists are EXH, ABA"),
        (["--merge", "EXH+XX"], "unknown list 'XX'"),
        (["--omit", "XX"], "unknown list 'XX'"),
        (["--omit", "EXH", "--omit", "ABA", "--omit", "OSCE"], "at least 2 lists are needed"),
        (["--method", "bic", "--max-order", "4"], "--max-order must be between 1 and 3 for 4 lists"),
        (["--strata", "year"], "stratum column 'year' is not in the file"),
        (["--profits", "sexual=lots"], "form=count pairs"),
        (["--profits", "magic=3"], "unknown form 'magic'"),
        (["--profits", "sexual=3,sexual=4"], "names 'sexual' twice"),
        (["--profits", "sexual=0"], "every count is zero"),
        (["--profits", f"sexual={MAX_COUNT + 1}"], "above 1,000,000,000"),
    ],
)
def test_options_that_do_not_fit_the_file_name_the_problem(options: list[str], fragment: str) -> None:
    outcome = invoke("estimate", KOSOVO, *options)
    assert outcome.exit_code == 1
    assert fragment in one_error_line(outcome)


def test_a_merge_may_not_create_a_second_list_of_the_same_name(tmp_path: Path) -> None:
    path = write(tmp_path, "A,B,AB,count\n1,0,0,5\n0,1,0,4\n0,0,1,3\n1,1,0,2\n0,1,1,1\n1,0,1,1\n")
    outcome = invoke("estimate", path, "--merge", "A+B")
    assert outcome.exit_code == 1
    assert "would make a second list named 'AB'" in one_error_line(outcome)


# ---------------------------------------------------------------------- time limits


@pytest.fixture(scope="module")
def sixteen_lists(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("big"), many_lists(16), "sixteen.csv")


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--method", "aic-stepwise"], "aic-stepwise is limited to 12 lists (16 given)"),
        ([], "stepwise is limited to 14 lists (16 given)"),
        (["--method", "bic"], "limited to 6 lists at order 2"),
        (["--method", "lcmcr"], "LCMCR would take about"),
        (["--method", "main", "--bootstrap", "10"], "a bootstrap of main is limited to 12 lists"),
        (["--method", "main", "--profits", "sexual=3"], "a bootstrap of main is limited to 12"),
        (["--method", "fixed", "--model", ",".join(
            [f"L{i}:L{j}" for i in range(16) for j in range(i + 1, 16)]
            + [f"L{i}:L{i + 1}:L{i + 2}" for i in range(10)])], "too large to fit"),
    ],
)  # fmt: skip
def test_runs_beyond_the_limits_are_refused_at_once(
    sixteen_lists: Path, options: list[str], fragment: str
) -> None:
    started = time.perf_counter()
    outcome = invoke("estimate", sixteen_lists, *options)
    assert outcome.exit_code == 1
    line = one_error_line(outcome)
    assert fragment in line
    if "order 2" not in fragment:  # bic's enumeration limit holds whatever the flag
        assert "--allow-long" in line
    assert time.perf_counter() - started < 15


def test_robustness_beyond_its_limit_is_refused_at_once(sixteen_lists: Path) -> None:
    started = time.perf_counter()
    outcome = invoke("estimate", "robustness", sixteen_lists)
    assert outcome.exit_code == 1
    assert "robustness report is limited to 10 lists (16 given)" in one_error_line(outcome)
    assert time.perf_counter() - started < 15


def test_strata_obey_the_bootstrap_limit(tmp_path: Path) -> None:
    lines = many_lists(13).splitlines()
    text = lines[0] + ",year\n" + "".join(f"{row},{2020 + i % 2}\n" for i, row in enumerate(lines[1:]))
    outcome = invoke("estimate", write(tmp_path, text), "--strata", "year", "--method", "main")
    assert outcome.exit_code == 1
    assert "a bootstrap of main is limited to 12 lists (13 given)" in one_error_line(outcome)


def test_a_bootstrap_projected_past_the_limit_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    # Judged after the first replicate against a 1-second limit: 100,000 replicates of even
    # the quickest model project far beyond it.
    monkeypatch.setattr(limits, "GRACE_SECONDS", 0.0)
    monkeypatch.setattr(limits, "TIME_LIMIT_SECONDS", 1.0)
    started = time.perf_counter()
    outcome = invoke("estimate", KOSOVO, "--method", "main", "--bootstrap", "100000")
    assert outcome.exit_code == 1
    line = one_error_line(outcome)
    assert "the main bootstrap would take about" in line and "--allow-long" in line
    assert time.perf_counter() - started < 15


def test_strata_projected_past_the_limit_are_stopped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "GRACE_SECONDS", 0.0)
    monkeypatch.setattr(limits, "TIME_LIMIT_SECONDS", 0.5)
    text = "A,B,C,year,count\n" + "".join(
        f"1,0,0,{y},50\n0,1,0,{y},40\n0,0,1,{y},30\n1,1,0,{y},20\n1,0,1,{y},10\n0,1,1,{y},9\n"
        for y in range(2000, 2040)
    )
    path = write(tmp_path, text)
    outcome = invoke("estimate", path, "--strata", "year", "--method", "main", "--bootstrap", "5000")
    assert outcome.exit_code == 1
    assert "estimating and bootstrapping the strata would take about" in one_error_line(outcome)


def test_allow_long_lifts_the_time_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(limits.BOOTSTRAP_MAX_LISTS, "main", 3)
    refused = invoke("estimate", KOSOVO, "--method", "main", "--bootstrap", "20")
    assert refused.exit_code == 1
    assert "a bootstrap of main is limited to 3 lists (4 given)" in one_error_line(refused)
    allowed = invoke("estimate", KOSOVO, "--method", "main", "--bootstrap", "20", "--allow-long", "--json")
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout)["interval_method"] == "bca"


def test_too_many_strata_are_refused_while_reading(tmp_path: Path) -> None:
    text = "A,B,C,region,count\n" + "".join(
        f"1,0,0,r{i},5\n0,1,0,r{i},4\n1,1,0,r{i},1\n0,0,1,r{i},2\n" for i in range(MAX_STRATA + 50)
    )
    outcome = invoke("estimate", write(tmp_path, text), "--strata", "region", "--method", "main")
    assert outcome.exit_code == 1
    line = one_error_line(outcome)
    assert f"row {4 * MAX_STRATA + 2}, column 'region'" in line
    assert f"more than {MAX_STRATA} strata" in line


# ---------------------------------------------------------------------- private reports


@pytest.fixture()
def open_umask() -> Iterator[None]:
    # The command line sets umask 077 in main(); the reports must be private without it.
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def _strata_table(folder: Path) -> Path:
    text = "A,B,C,year,count\n" + "".join(
        f"1,0,0,{y},50\n0,1,0,{y},40\n0,0,1,{y},30\n1,1,0,{y},20\n1,0,1,{y},10\n0,1,1,{y},9\n1,1,1,{y},2\n"
        for y in (2023, 2024)
    )
    return write(folder, text, "strata.csv")


@pytest.mark.parametrize("kind", ["estimate", "robustness", "strata"])
@pytest.mark.usefixtures("open_umask")
def test_reports_are_private_and_replace_old_files_whole(tmp_path: Path, kind: str) -> None:
    folder = tmp_path / "new" / "reports"
    report = folder / "report.html"
    if kind == "estimate":
        outcome = invoke("estimate", DATA / "Korea.csv", "--method", "main", "--report", report)
    elif kind == "robustness":
        outcome = invoke("estimate", "robustness", DATA / "Korea.csv", "--report", report)
    else:
        outcome = invoke("estimate", _strata_table(tmp_path), "--strata", "year", "--method", "main",
                         "--bootstrap", "20", "--report", report)  # fmt: skip
    assert outcome.exit_code == 0, outcome.output
    assert "<svg" in report.read_text(encoding="utf-8")
    assert mode(report) == 0o600
    assert mode(folder) == 0o700 and mode(folder.parent) == 0o700
    # An existing readable file is replaced by a private one, and nothing is left beside it.
    report.write_text("old", encoding="utf-8")
    report.chmod(0o644)
    again = invoke("estimate", DATA / "Korea.csv", "--method", "main", "--report", report)
    assert again.exit_code == 0 and mode(report) == 0o600
    assert report.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [path.name for path in folder.iterdir()] == ["report.html"]


class _FullDisk:
    """A file that takes part of what is written, then fails as a full disk does."""

    def __init__(self, handle: IO[Any]) -> None:
        self.handle = handle

    def __enter__(self) -> _FullDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.handle.close()

    def write(self, text: str) -> int:
        self.handle.write(text[: len(text) // 2])
        self.handle.flush()
        raise OSError(28, "No space left on device")


def test_a_failed_report_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        report_module, "open_private", lambda *args, **kwargs: _FullDisk(open_private(*args, **kwargs))
    )
    report = tmp_path / "out" / "report.html"
    outcome = invoke("estimate", KOSOVO, "--method", "main", "--report", report)
    assert outcome.exit_code == 1
    assert "cannot write the report" in one_error_line(outcome)
    assert "No space left on device" in outcome.output
    assert not report.exists() and list(report.parent.iterdir()) == []
    assert list(run_temp_dir().glob(".tiphub-staged-*")) == []


_KILLED_WHILE_WRITING = """
import os, signal, sys
from pathlib import Path
import tiphub.estimate.report as report

original = report.open_private


class Killed:
    def __init__(self, handle):
        self.handle = handle

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.handle.close()

    def write(self, text):
        self.handle.write(text[:100])
        self.handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)


report.open_private = lambda *args, **kwargs: Killed(original(*args, **kwargs))
report.write_text_atomically(Path(sys.argv[1]), "<p>survivor</p>" * 1000)
"""


def test_a_report_killed_while_written_leaves_nothing_beside_it(tmp_path: Path) -> None:
    report = tmp_path / "reports" / "report.html"
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_WHILE_WRITING, str(report)], capture_output=True, timeout=120
    )
    assert killed.returncode == -9, killed.stderr
    assert not report.exists()
    # Whatever the killed run staged is gone once the next run writes (or was never there).
    report_module.write_text_atomically(report, "<p>new</p>")
    assert [path.name for path in report.parent.iterdir()] == ["report.html"]
    assert mode(report) == 0o600


@pytest.mark.usefixtures("open_umask")
def test_profit_tables_and_charts_are_private(tmp_path: Path) -> None:
    from tiphub.estimate.profits import YearInput, prevalence_and_profits

    years = [
        YearInput(year, np.random.default_rng(year).normal(1_000, 30, 2_000), {"sexual": 3, "labour": 7})
        for year in (2023, 2024)
    ]
    table = prevalence_and_profits(years, draws=500)
    for path in (table.to_csv(tmp_path / "p" / "profits.csv"), table.plot(tmp_path / "p" / "profits.svg")):
        assert path.stat().st_size > 100
        assert mode(path) == 0o600
    assert mode(tmp_path / "p") == 0o700
    assert sorted(path.name for path in (tmp_path / "p").iterdir()) == ["profits.csv", "profits.svg"]
