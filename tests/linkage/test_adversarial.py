"""Hostile input for ``tiphub link`` and ``tiphub linkage …``, through the real command line.

Every file must end in a result or one short error (exit 2) that names the file, row and
column and never a value; a planted name and birth date must appear in no output stream;
every file tiphub writes must be 0600 whatever the umask, and nothing half-written may be
left beside it. Runs in-process (``CliRunner``) except the memory test, which needs a
process of its own to measure.
"""

from __future__ import annotations

import contextlib
import csv
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner, Result

from tests.memory import run_tiphub_measured
from tiphub.cli.app import app
from tiphub.linkage import datasets
from tiphub.linkage.records import IDENTITY_COLUMNS, MIN_DISTINCT_IDENTITIES, MIN_RECORDS

runner = CliRunner()
FIRST, FAMILY, BORN = "Zyxmarta", "Qwoplenko", "1971-03-17"
PLANTED = (FIRST, FAMILY, BORN)
HEADER = "record_id,list,given_name,family_name,date_of_birth\n"
SECRET = b"adversarial-test-secret-0123456789"


def _rows(count: int, start: int = 0) -> str:
    """Distinct, valid records; the first carries the planted name and birth date."""
    lines = [f"R{start},A,{FIRST},{FAMILY},{BORN}\n"]
    lines += [
        f"R{i},{'AB'[i % 2]},Given{i % 97},Family{i % 89},19{50 + i % 50}-0{1 + i % 9}-1{i % 10}\n"
        for i in range(start + 1, start + count)
    ]
    return "".join(lines[:count])


def _write(path: Path, text: str | bytes) -> Path:
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def invoke(*args: str | Path) -> Result:
    return runner.invoke(app, [str(arg) for arg in args])


def assert_refused(result: Result, *fragments: str) -> None:
    """Exit 2, one ``error:`` line naming the problem, no traceback, nothing planted."""
    text = result.stdout + result.stderr
    assert result.exit_code == 2, text
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    assert "Traceback" not in text
    lines = result.stderr.strip().splitlines()
    assert [line for line in lines if line.startswith("error:")] == lines[-1:], result.stderr
    for fragment in fragments:
        assert fragment in result.stderr, (fragment, result.stderr)
    for planted in PLANTED:
        assert planted not in text


def assert_private(*paths: Path) -> None:
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    for folder in {path.parent for path in paths}:
        assert not list(folder.glob(".tiphub-staged-*")), "a staging file was left behind"


@contextlib.contextmanager
def open_umask() -> Iterator[None]:
    # A permissive umask, so that 0600 files show tiphub chose the mode, not the umask.
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """150 demo records (with a region) and their truth; one pair carries the planted values."""
    folder = tmp_path_factory.mktemp("base")
    frame, truth = datasets.demo_person_records(150, seed=5)
    frame = frame.drop(columns=["role"])
    frame["region"] = ["north" if i % 3 else "south" for i in range(len(frame))]
    pair = truth.groupby("true_id")["record_id"].filter(lambda ids: len(ids) == 2).head(2)
    planted = frame["record_id"].isin(pair)
    frame.loc[planted, ["given_name", "family_name", "date_of_birth"]] = [FIRST, FAMILY, BORN]
    frame.loc[frame.index[3], "given_name"] = '=HYPERLINK("http://x","y")'
    records = folder / "records.csv"
    frame.to_csv(records, index=False)
    truth_path = folder / "truth.csv"
    truth.to_csv(truth_path, index=False)
    return records, truth_path


# ------------------------------------------------------------------ records that cannot link


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (HEADER, ["too few records", "0 given", f"at least {MIN_RECORDS}"]),
        (HEADER + _rows(1), ["too few records", "1 given"]),
        (HEADER + _rows(2), ["too few records", "2 given"]),
        (
            HEADER + "".join(f"R{i},{'AB'[i % 2]},,,\n" for i in range(60)),
            ["no record holds any identity value", "given_name, family_name, date_of_birth"],
        ),
        (
            "record_id,list,given_name,date_of_birth\n"
            + "".join(f"R{i},A,,19{50 + i % 40}-01-01\n" for i in range(60)),
            ["no record has a name", "given_name"],
        ),
        (
            HEADER + "".join(f"R{i},{'AB'[i % 2]},{FIRST},{FAMILY},{BORN}\n" for i in range(3000)),
            ["3,000 records hold only 1 different combination", f"{MIN_DISTINCT_IDENTITIES}"],
        ),
        (
            HEADER
            + "".join(f"R{i},{'AB'[i % 2]},{FIRST},{FAMILY},{1950 + i % 3}\n" for i in range(60)),
            ["hold only 3 different combinations"],
        ),
    ],
    ids=["header-only", "one", "two", "no-identity", "no-names", "3000-identical", "3-people"],
)
def test_records_that_cannot_be_trained_on_are_refused(
    tmp_path: Path, content: str, fragments: list[str]
) -> None:
    path = _write(tmp_path / "in.csv", content)
    result = invoke("link", path, "--no-review", "--output", tmp_path / "out.csv")
    assert_refused(result, *fragments)
    assert not (tmp_path / "out.csv").exists()


def test_records_too_alike_to_train_on_are_refused(tmp_path: Path) -> None:
    # Different birth days keep them apart as combinations; names and birth year agree in
    # every pair, which leaves no strangers to learn from.
    rows = "".join(
        f"R{i},{'AB'[i % 2]},{FIRST},{FAMILY},1971-0{1 + i % 9}-{10 + i % 19}\n" for i in range(120)
    )
    path = _write(tmp_path / "in.csv", HEADER + rows)
    result = invoke("link", path, "--no-review", "--output", tmp_path / "out.csv")
    assert_refused(result, "too alike to train on", "all 7,140 pairs of records agree")


def test_names_without_dates_cannot_train_the_name_comparison(tmp_path: Path) -> None:
    # EM learns how names agree from pairs sharing something else (a date of birth or an
    # identifier); with names alone there is no such pair.
    rows = "".join(f"R{i},{'AB'[i % 2]},Given{i % 40},Family{i % 40}\n" for i in range(80))
    rows = rows.replace("0", "o").replace("1", "i")  # digits vanish when names are normalised
    path = _write(tmp_path / "in.csv", "record_id,list,given_name,family_name\n" + rows)
    result = invoke("link", path, "--no-review", "--output", tmp_path / "out.csv")
    assert_refused(result, "cannot learn how far agreeing names count", "a date of birth: 0")


def test_a_name_shared_by_tens_of_thousands_is_refused_before_linking(tmp_path: Path) -> None:
    rows = "".join(
        f"R{i},{'AB'[i % 2]},{FIRST},{FAMILY},{1940 + i % 60}-0{1 + i % 9}-1{i % 10}\n"
        for i in range(45_000)
    )
    path = _write(tmp_path / "in.csv", HEADER + rows)
    result = invoke("link", path, "--no-review", "--output", tmp_path / "out.csv")
    assert_refused(result, "45,000 records have the very same name", "1,012,477,500 pairs")


def test_oversized_blocks_are_refused_with_the_rule_that_makes_them() -> None:
    from tiphub.linkage.linker import check_block_sizes
    from tiphub.linkage.records import LinkageDataError, prepare

    frame, _ = datasets.demo_person_records(200, seed=2)
    frame = frame.reindex(columns=["record_id", "list", *IDENTITY_COLUMNS])
    prepared = prepare(frame.astype(object).where(frame.notna(), None))
    check_block_sizes(prepared)
    with pytest.raises(LinkageDataError, match=r"records share .*pairs from that rule alone"):
        check_block_sizes(prepared, limit=10)


def test_a_placeholder_address_does_not_make_a_block() -> None:
    from tiphub.linkage.records import MAX_EVIDENCE_BLOCK, prepare

    count = MAX_EVIDENCE_BLOCK + 1
    frame = pd.DataFrame(
        {
            "record_id": [f"R{i}" for i in range(count)],
            "list": ["A"] * count,
            **{name: [None] * count for name in IDENTITY_COLUMNS},
        }
    )
    # Everybody at one shelter's address; ten also share a real postcode.
    frame["address"] = "1 Shelter Road"
    frame.loc[:9, "postcode"] = "AB1 2CD"
    prepared = prepare(frame)
    assert prepared["block_address"].isna().all()
    assert prepared["block_postcode"].notna().sum() == 10


# ------------------------------------------------------------------ files that cannot be read


@pytest.fixture
def raised_csv_limit() -> Iterator[None]:
    # The importer raises the csv module's process-wide cell limit; linkage must not inherit it.
    previous = csv.field_size_limit(16 * 1024 * 1024)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.csv"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize(
    ("make", "fragments"),
    [
        (lambda d: d / "missing.csv", ["missing.csv: file not found"]),
        (lambda d: d, ["is a folder, not a file"]),
        (_fifo, ["pipe.csv: not a regular file"]),
        (lambda d: Path(os.devnull), [f"{os.devnull}: not a regular file"]),
        (
            # The bad byte sits past the decoder's first block: the line is found, not guessed.
            lambda d: _write(
                d / "latin.csv",
                (HEADER + _rows(300) + "R999,A,Müller,x,\n" + _rows(50, 1000)).encode("latin-1"),
            ),
            ["latin.csv: the file is not UTF-8 text (line 302 is not)"],
        ),
        (
            lambda d: _write(d / "utf16.csv", (HEADER + _rows(60)).encode("utf-16")),
            ["utf16.csv", "not UTF-8"],
        ),
        (
            lambda d: _write(d / "huge.csv", HEADER + _rows(3) + "R9,A,x," + "Q" * 200_000 + ",\n"),
            ["huge.csv, row 5: a cell is longer than 131,072 characters"],
        ),
        (
            lambda d: _write(d / "long.csv", HEADER + _rows(3) + "R9,A,x," + FAMILY * 200 + ",\n"),
            ["long.csv, row 5, column 'family_name': the value is longer than 1,000"],
        ),
        (
            lambda d: _write(d / "ragged.csv", HEADER + _rows(3) + f"R9,A,{FIRST}\n"),
            ["ragged.csv, row 5: the row has 3 cells but the header has 5"],
        ),
        (
            lambda d: _write(d / "nul.csv", HEADER + _rows(3) + f"R9,A,{FIRST}\x00,{FAMILY},\n"),
            ["nul.csv, row 5, column 'given_name'", "NUL"],
        ),
        (
            lambda d: _write(d / "quote.csv", HEADER + _rows(3) + f'R9,A,"{FIRST},{FAMILY},\n'),
            ["quote.csv, row 5"],
        ),
        (
            lambda d: _write(
                d / "formula.csv", HEADER + _rows(3) + f"=cmd|'/c calc'!A1,A,{FIRST},,\n"
            ),
            ["formula.csv, row 5, column 'record_id'", "formula"],
        ),
        (
            lambda d: _write(d / "list.csv", HEADER + _rows(3) + "R9,@SUM(A1),x,y,\n"),
            ["list.csv, row 5, column 'list'", "formula"],
        ),
        (
            lambda d: _write(d / "headless.csv", _rows(60)),
            ["headless.csv: the required column 'record_id' is missing"],
        ),
        (
            lambda d: _write(d / "dup.csv", HEADER + _rows(3) + f"R1,B,{FIRST},{FAMILY},{BORN}\n"),
            ["dup.csv, row 5, column 'record_id': record_id is not unique", "first seen on row 3"],
        ),
        (
            lambda d: _write(d / "date.csv", HEADER + _rows(3) + f"R9,A,x,y,{FIRST}\n"),
            ["date.csv, row 5, column 'date_of_birth': not an ISO date"],
        ),
        (
            lambda d: _write(d / "empty.csv", b""),
            ["empty.csv: the file is empty"],
        ),
    ],
    ids=[
        "missing",
        "folder",
        "fifo",
        "device",
        "latin-1",
        "utf-16",
        "huge-cell",
        "long-name",
        "ragged",
        "nul",
        "open-quote",
        "formula-id",
        "formula-list",
        "header-less",
        "duplicate-id",
        "bad-date",
        "empty",
    ],
)
def test_unreadable_input_is_refused_with_its_place(
    tmp_path: Path, make: object, fragments: list[str], raised_csv_limit: None
) -> None:
    path = make(tmp_path)  # type: ignore[operator]
    result = invoke("link", path, "--no-review", "--output", tmp_path / "out.csv")
    assert_refused(result, *fragments)
    assert not (tmp_path / "out.csv").exists()


@pytest.mark.parametrize(
    ("options", "fragment"),
    [
        (["--threshold", "0"], "--threshold must be between 0 and 1"),
        (["--threshold", "1"], "--threshold must be between 0 and 1"),
        (["--threshold", "nan"], "--threshold must be between 0 and 1"),
        (["--threshold", "-3"], "--threshold must be between 0 and 1"),
        (["--backend", "bogus"], "--backend must be duckdb or spark"),
        (["--strata", "region"], "--strata stratifies the capture histories"),
        (["--capture-histories", "h.csv", "--strata", "family_name"], "not an identity"),
        (["--capture-histories", "h.csv", "--strata", "absent"], "the input has no such column"),
        (["--capture-histories", "h.csv", "--strata", "record_id"], "not an identity, key"),
        (["--report", "."], "--report .: this is a folder"),
        (["--links", "out.csv"], "--output and --links name the same file"),
        (["--encoded"], "--encoded needs the encoded files"),
        (
            ["--encoded", "--capture-histories", "h.csv", "--strata", "region"],
            "--strata needs plain input",
        ),
    ],
)
def test_bad_options_are_refused_before_any_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, options: list[str], fragment: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = _write(tmp_path / "in.csv", "record_id,list,given_name,region\n" + "R1,A,x,north\n")
    paths = [] if options == ["--encoded"] else [path]
    result = invoke("link", *paths, "--no-review", "--output", "out.csv", *options)
    assert_refused(result, fragment)
    assert not (tmp_path / "out.csv").exists()


def test_an_output_that_is_an_input_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "in.csv", HEADER + _rows(60))
    result = invoke("link", path, "--no-review", "--output", path)
    assert_refused(result, "this is an input file")
    assert path.read_text(encoding="utf-8").startswith(HEADER)


def test_a_strata_column_of_free_text_is_refused(tmp_path: Path) -> None:
    rows = "".join(f"R{i},A,x{i},note {i}\n" for i in range(200))
    path = _write(tmp_path / "in.csv", "record_id,list,given_name,notes\n" + rows)
    result = invoke(
        "link", path, "--no-review", "--output", tmp_path / "o.csv",
        "--capture-histories", tmp_path / "h.csv", "--strata", "notes",
    )  # fmt: skip
    assert_refused(result, "--strata notes: the column has 200 different values")


# ------------------------------------------------------------------ runs that succeed


def test_a_link_run_writes_private_files_and_no_identity(
    base: tuple[Path, Path], tmp_path: Path
) -> None:
    records, truth = base
    out, links, histories, report = (
        tmp_path / name for name in ("c.csv", "l.csv", "h.csv", "r.html")
    )
    with open_umask():
        result = invoke(
            "link", records, "--no-review", "--output", out, "--links", links,
            "--capture-histories", histories, "--strata", "region", "--report", report,
            "--truth", truth, "--json",
        )  # fmt: skip
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert_private(out, links, histories, report)
    written = "".join(path.read_text(encoding="utf-8") for path in (out, links, histories, report))
    for planted in PLANTED:
        assert planted not in result.stdout + result.stderr
        assert planted not in written
    assert "HYPERLINK" not in written
    clusters = pd.read_csv(out, dtype=str)
    assert len(clusters) == len(pd.read_csv(records))
    assert "Record linkage report" in report.read_text(encoding="utf-8")


def test_encode_then_link_encoded_with_a_report(base: tuple[Path, Path], tmp_path: Path) -> None:
    records, _ = base
    secret = _write(tmp_path / "secret.key", SECRET)
    encoded = tmp_path / "enc.csv"
    with open_umask():
        made = invoke("linkage", "encode", records, "--secret-file", secret, "--output", encoded)
        assert made.exit_code == 0, made.stdout + made.stderr
        assert_private(encoded, tmp_path / "enc.csv.json")
        out, report, links = tmp_path / "c.csv", tmp_path / "r.html", tmp_path / "l.csv"
        result = invoke(
            "link", encoded, "--encoded", "--output", out, "--report", report, "--links", links
        )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_private(out, report, links)
    html = report.read_text(encoding="utf-8")
    assert "Candidate pairs by Dice similarity" in html and "<svg" in html
    for planted in PLANTED:
        assert planted not in html
        assert planted not in encoded.read_text(encoding="utf-8")
        assert planted not in made.stdout + made.stderr + result.stdout + result.stderr
    # An output that cannot be written is refused before the work when that can be known,
    # and ends in a message (not a traceback) when the file system refuses it only later.
    early = invoke("link", encoded, "--encoded", "--output", records / "clusters.csv")
    assert_refused(early, "--output", "Not a directory")
    late = invoke("link", encoded, "--encoded", "--output", "/proc/version")
    assert_refused(late, "cannot write /proc/version")


def _encoded_pair(tmp_path: Path) -> Path:
    records = _write(tmp_path / "in.csv", HEADER + _rows(60))
    secret = _write(tmp_path / "secret.key", SECRET)
    encoded = tmp_path / "enc.csv"
    made = invoke("linkage", "encode", records, "--secret-file", secret, "--output", encoded)
    assert made.exit_code == 0, made.stderr
    return encoded


def test_hostile_encoded_files_are_refused(tmp_path: Path) -> None:
    encoded = _encoded_pair(tmp_path)
    sidecar = tmp_path / "enc.csv.json"
    original = sidecar.read_text(encoding="utf-8")
    out = tmp_path / "c.csv"

    _write(sidecar, original.replace('"given_name"', f'"{FIRST}"', 1))
    assert_refused(invoke("link", encoded, "--encoded", "--output", out), "unknown fields")
    _write(sidecar, original.replace('"bits": 1024', f'"bits": "{FAMILY}"'))
    assert_refused(invoke("link", encoded, "--encoded", "--output", out), "wrong type")
    _write(sidecar, "{not json")
    assert_refused(invoke("link", encoded, "--encoded", "--output", out), "not valid JSON")
    sidecar.unlink()
    assert_refused(
        invoke("link", encoded, "--encoded", "--output", out), "metadata file is missing"
    )
    _write(sidecar, original)
    lines = encoded.read_text(encoding="utf-8").splitlines(keepends=True)
    _write(encoded, "".join([*lines[:3], f"={FIRST},A,x,AAAA\n"]))
    assert_refused(
        invoke("link", encoded, "--encoded", "--output", out), "row 4, column 'record_id'"
    )
    _write(encoded, lines[0])
    assert_refused(invoke("link", encoded, "--encoded", "--output", out), "hold no records")
    _write(encoded, "".join(lines[:11]))
    assert_refused(
        invoke("link", encoded, "--encoded", "--output", out), "too few records", "--threshold"
    )
    assert not out.exists()


def test_encoding_hostile_secrets_and_inputs(tmp_path: Path) -> None:
    records = _write(tmp_path / "in.csv", HEADER + _rows(60))
    out = tmp_path / "enc.csv"
    short = _write(tmp_path / "short.key", b"0123")
    for secret, fragment in (
        (tmp_path, "is a folder, not a file"),
        (_fifo(tmp_path), "not a regular file"),
        (Path("/dev/zero"), "not a regular file"),
        (tmp_path / "none.key", "file not found"),
        (short, "at least 16 bytes"),
    ):
        result = invoke("linkage", "encode", records, "--secret-file", secret, "--output", out)
        assert_refused(result, fragment)
    key = _write(tmp_path / "secret.key", SECRET)
    header_only = _write(tmp_path / "header.csv", HEADER)
    encode = ("linkage", "encode")
    assert_refused(
        invoke(*encode, header_only, "--secret-file", key, "--output", out), "no records"
    )
    assert_refused(invoke(*encode, records, "--secret-file", key, "--output", key), "input file")
    assert not out.exists()


# ------------------------------------------------------------------ evaluate, review, graph


def test_evaluate_refuses_hostile_files(tmp_path: Path) -> None:
    clusters = _write(tmp_path / "c.csv", "record_id,cluster_id\nR1,C1\nR2,C1\n")
    truth = _write(tmp_path / "t.csv", "record_id,true_id\nR1,T1\nR2,T2\n")
    good = invoke("linkage", "evaluate", clusters, "--truth", truth, "--json")
    assert good.exit_code == 0, good.stderr
    for args, fragment in (
        ([_fifo(tmp_path), "--truth", truth], "not a regular file"),
        ([tmp_path, "--truth", truth], "is a folder, not a file"),
        ([clusters, "--truth", _write(tmp_path / "x.csv", b"\xff\xfe junk")], "not UTF-8"),
        ([_write(tmp_path / "h.csv", f"{FIRST},{BORN}\nR1,C1\n"), "--truth", truth], "missing"),
        (
            [
                clusters,
                "--truth",
                truth,
                "--candidates",
                _write(tmp_path / "p.csv", f"record_id_l,record_id_r\nR1,R2,{FIRST}\n"),
            ],
            "the row has more cells than the header",
        ),
        ([clusters, "--truth", truth, "--candidates", Path(os.devnull)], "not a regular file"),
    ):
        assert_refused(invoke("linkage", "evaluate", *args), fragment)


def test_review_refuses_impossible_items(engine: Engine) -> None:
    assert_refused(invoke("linkage", "review", "0"), "no review item 0")
    assert_refused(invoke("linkage", "review", str(2**70)), "no review item")
    assert_refused(invoke("linkage", "review", "--decision", "match"), "needs the ITEM")
    assert_refused(invoke("linkage", "review", "--limit", "0"), "limit must be a positive")
    assert_refused(invoke("linkage", "review", "5", "--decision", "maybe"), "decision must be")
    listed = invoke("linkage", "review")
    assert listed.exit_code == 0 and "pending" in listed.stdout


def test_graph_writes_private_files_and_refuses_half_options(
    engine: Engine, tmp_path: Path
) -> None:
    clusters = _write(tmp_path / "c.csv", "record_id,cluster_id\norg:R1,C1\norg:R2,C1\n")
    graphml, nodes, edges = tmp_path / "g.graphml", tmp_path / "n.csv", tmp_path / "e.csv"
    assert_refused(invoke("linkage", "graph", clusters, "--nodes", nodes), "go together")
    assert_refused(invoke("linkage", "graph", _fifo(tmp_path)), "not a regular file")
    assert_refused(invoke("linkage", "graph", clusters, "--graphml", clusters), "input file")
    with open_umask():
        result = invoke(
            "linkage", "graph", clusters, "--graphml", graphml, "--nodes", nodes, "--edges", edges
        )
    assert result.exit_code == 0, result.stdout + result.stderr
    assert_private(graphml, nodes, edges)


# ------------------------------------------------------------------ memory


def test_a_million_identical_rows_are_refused_within_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "million.csv"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(HEADER)
        handle.writelines(f"{i},A,{FIRST},{FAMILY},{BORN}\n" for i in range(1_000_000))
    done, peak_mb = run_tiphub_measured(
        tmp_path, "link", str(path), "--no-review", "--output", str(tmp_path / "out.csv")
    )
    assert done.returncode == 2, done.stderr
    assert "1,000,000 records hold only 1 different combination" in done.stderr
    assert not any(planted in done.stdout + done.stderr for planted in PLANTED)
    assert peak_mb < 400, peak_mb


def test_duckdb_spills_into_the_private_run_folder() -> None:
    from tiphub.files import run_temp_dir
    from tiphub.linkage.linker import _duckdb_api

    connection = _duckdb_api().duckdb_con
    folder = Path(connection.execute("SELECT current_setting('temp_directory')").fetchone()[0])
    assert folder.parent == run_temp_dir()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(run_temp_dir()).st_mode) == 0o700
