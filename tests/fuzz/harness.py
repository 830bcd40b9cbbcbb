"""Run fuzz cases through the real ``tiphub`` command line and classify what happened.

A fresh ``tiphub`` process spends seconds importing its dependencies, so the runner imports
the command once and forks a child per case. The child behaves like a fresh process: its own
process group, working folder, temporary folder, data folder, standard streams on files and
exit handlers, with tiphub's per-process caches emptied. The parent reaps it with ``wait4``
(exit status and peak RSS) and kills it on a timeout or a runaway resident size.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import re
import shutil
import signal
import sqlite3
import stat
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.fuzz.markers import find_marker, scrub

FAILURES = (
    "traceback",
    "partial write",
    "identity echoed",
    "over memory",
    "hang",
    "leftover",
    "loose mode",
)
MEMORY_LIMIT_MB = 400
# Far above the reported limit: only there to keep a runaway child from taking the machine.
HARD_MEMORY_MB = 3072
OUTPUT_LIMIT = 4096
# Enough to find a marker or a traceback in anything a refusal should print.
READ_LIMIT = 4 << 20

_TRACEBACK_PATTERNS = (
    re.compile(r"Traceback \(most recent call last\)"),
    re.compile(r'File "[^"]+", line \d+'),
    re.compile(r"\.py:\d+: \w*(?:Warning|Error)\b"),
    re.compile(r"\bsqlalchemy\.exc\b|\bpsycopg\.errors\b|\[SQL: |\(Background on this error"),
    # A class name dumped with its message: ``ValueError: …``, ``sqlite3.OperationalError``.
    re.compile(r"\b[A-Z][A-Za-z0-9]*(?:Error|Exception)\b\s*:"),
    re.compile(r"\b(?:[a-z_][a-z0-9_]*\.)+[A-Z][A-Za-z0-9]*(?:Error|Exception)\b"),
)


@dataclass(frozen=True)
class Invocation:
    """What one case runs: ``tiphub ARGV`` in the case folder.

    ``inputs`` are the files the case wrote for tiphub; ``outputs`` the files tiphub may write
    (checked for mode 0600, not counted as leftovers); ``searched`` the written files in
    which no marker may appear (reports).
    """

    argv: tuple[str, ...]
    outputs: tuple[Path, ...] = ()
    searched: tuple[Path, ...] = ()
    timeout: float | None = None
    mutation: str | None = None  # when the name is only known once the input is written


@dataclass(frozen=True)
class Case:
    group: str  # a row of the table: an import format, "estimate" or "link"
    mutation: str
    build: Callable[[Path], Invocation]  # writes the inputs into the case folder
    checks_database: bool = False  # refusals must leave every table's row count unchanged
    timeout: float = 30.0


@dataclass
class Outcome:
    group: str
    mutation: str
    exit_code: int | None
    seconds: float
    peak_mb: float
    flags: dict[str, str] = field(default_factory=dict)  # failure class → first line
    output_bytes: int = 0
    message: str = ""  # the telling line of the output, markers scrubbed

    @property
    def accepted(self) -> bool:
        return self.exit_code == 0 and not ({"hang", "over memory"} & set(self.flags))

    @property
    def clean_refusal(self) -> bool:
        return (
            self.exit_code not in (0, None)
            and not self.flags
            and self.output_bytes < OUTPUT_LIMIT
        )

    @property
    def long_refusal(self) -> bool:
        return self.exit_code not in (0, None) and not self.flags and not self.clean_refusal


# ---------------------------------------------------------------------------------- databases


class Database:
    """The database of one worker slot: its URL, row counts, and how to undo accepted cases."""

    url: str

    def counts(self) -> dict[str, int]:
        raise NotImplementedError

    def after_change(self) -> None:
        """Called when a case changed the row counts (accepted, or a partial write)."""

    def close(self) -> None:
        pass


def table_names() -> list[str]:
    from tiphub.store.models import Base

    return [table.name for table in Base.metadata.sorted_tables]


class SqliteSlot(Database):
    """A copy of the seed file; restored from the seed whenever a case changes it."""

    def __init__(self, seed: Path, path: Path, tables: Sequence[str] | None = None) -> None:
        self.seed = seed
        self.path = path
        self.url = f"sqlite:///{path}"
        self.tables = tables
        self.reset()

    def reset(self) -> None:
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        shutil.copyfile(self.seed, self.path)

    def counts(self) -> dict[str, int]:
        connection = sqlite3.connect(self.path, timeout=30)
        try:
            return {
                name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]
                for name in (self.tables or table_names())
            }
        finally:
            connection.close()

    def after_change(self) -> None:
        self.reset()


class PostgresSlot(Database):
    """A scratch database of its own; accepted imports only move the baseline (growth is fine)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def counts(self) -> dict[str, int]:
        import psycopg

        with psycopg.connect(_libpq_url(self.url), autocommit=True) as connection:
            return {
                name: connection.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0]  # type: ignore[index]
                for name in table_names()
            }


def _libpq_url(url: str) -> str:
    return re.sub(r"^postgres(?:ql)?(?:\+\w+)?://", "postgresql://", url)


# ---------------------------------------------------------------------------------- the child


def prepare_parent(groups: Iterable[str], warm_up: Path | None = None) -> Any:
    """Import what the children need once, and build the click command they run.

    Imports are monotonic: run the import formats before the linkage cases so that their
    children do not carry Splink's pages in their resident size. ``warm_up`` (a seed CSV)
    is imported once into a throwaway database so that the lazily built code lists, schema
    models and migration scripts are in the pages every child inherits; the children drop
    the per-process state it leaves (see ``_fresh_process_state``).
    """
    import typer.main

    import tiphub.cli.app as cli

    groups = set(groups)
    if groups - {"estimate", "link"}:
        import openpyxl  # noqa: F401

        import tiphub.exchange.importer
        import tiphub.exchange.xlsform

        if warm_up is not None:
            _warm_up_import(warm_up)
    if "estimate" in groups:
        import tiphub.estimate.api
        import tiphub.estimate.report
    if "link" in groups:
        import tiphub.linkage.api
        import tiphub.linkage.encoded_link
        import tiphub.linkage.report  # noqa: F401
    return typer.main.get_command(cli.app)


def _warm_up_import(seed_csv: Path) -> None:
    from tiphub.exchange.importer import import_file
    from tiphub.store.db import make_engine

    with tempfile.TemporaryDirectory(prefix="fuzz-warm-") as folder:
        engine = make_engine(f"sqlite:///{folder}/warm.db")
        try:
            import_file(seed_csv, fmt="htcds-csv", engine=engine)
        finally:
            engine.dispose()


def _fresh_process_state(tmp: Path) -> None:
    """Undo what the parent process cached that a fresh ``tiphub`` would not have."""
    tempfile.tempdir = None
    os.environ["TMPDIR"] = str(tmp)
    for module_name, function in (
        ("tiphub.store.db", "default_engine"),
        ("tiphub.files", "run_temp_dir"),
    ):
        module = sys.modules.get(module_name)
        cached = getattr(module, function, None) if module else None
        if cached is not None and hasattr(cached, "cache_clear"):
            cached.cache_clear()
    files = sys.modules.get("tiphub.files")
    if files is not None and hasattr(files, "_original_tempdir"):
        files._original_tempdir = None  # type: ignore[attr-defined]


def _child(command: Any, argv: Sequence[str], folder: Path, streams: Path, env: dict[str, str]) -> None:
    code = 1
    try:
        os.setpgid(0, 0)
        os.chdir(folder)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        for number, name in ((1, "stdout"), (2, "stderr")):
            descriptor = os.open(streams / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(descriptor, number)
            os.close(descriptor)
        # Under pytest sys.stdout is a capture buffer: point the Python streams at fds 1 and 2
        # as a fresh interpreter writing to files would have them.
        sys.stdin = open(0, encoding="utf-8", closefd=False)  # noqa: SIM115
        sys.stdout = io.TextIOWrapper(open(1, "wb", closefd=False), encoding="utf-8")  # noqa: SIM115
        sys.stderr = io.TextIOWrapper(
            open(2, "wb", closefd=False),  # noqa: SIM115
            encoding="utf-8",
            errors="backslashreplace",
            line_buffering=True,
        )
        os.environ.update(env)
        _fresh_process_state(Path(env["TMPDIR"]))
        atexit._clear()
        sys.argv = ["tiphub", *argv]
        try:
            command.main(args=list(argv), prog_name="tiphub", standalone_mode=True)
            code = 0
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
        except KeyboardInterrupt:
            code = 130
        except BaseException:
            # What Python would print for an uncaught exception in a fresh process.
            traceback.print_exc()
            code = 1
        with contextlib.suppress(BaseException):
            atexit._run_exitfuncs()
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
        with contextlib.suppress(BaseException):
            sys.stderr.flush()
    finally:
        os._exit(code)


def call_in_child(function: Callable[..., None], *args: Any) -> None:
    """Run ``function(*args)`` in a forked child so that the parent keeps no engines, caches
    or temporary folders from it; raise if it fails."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            atexit._clear()
            function(*args)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            with contextlib.suppress(BaseException):
                atexit._run_exitfuncs()
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{getattr(function, '__name__', function)} failed in its child")


# ---------------------------------------------------------------------------------- the runner


@dataclass
class _Running:
    pid: int
    slot: int
    case: Case
    invocation: Invocation
    folder: Path
    inputs: set[str]
    started: float
    timeout: float
    before: dict[str, int] | None
    peak_kb: int = 0
    killed: str | None = None


@dataclass
class Slot:
    index: int
    folder: Path
    database: Database | None

    @property
    def tmp(self) -> Path:
        return self.folder / "tmp"

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def streams(self) -> Path:
        return self.folder / "streams"

    @property
    def case_folder(self) -> Path:
        return self.folder / "case"


class Runner:
    """Runs cases on ``len(databases)`` worker slots at once, one child per slot."""

    def __init__(
        self,
        command: Any,
        workdir: Path,
        databases: Sequence[Database | None],
        memory_limit_mb: float = MEMORY_LIMIT_MB,
        timeout_scale: float = 1.0,
        on_outcome: Callable[[Outcome], None] | None = None,
    ) -> None:
        self.command = command
        self.memory_limit_mb = memory_limit_mb
        self.timeout_scale = timeout_scale
        self.on_outcome = on_outcome
        self.slots: list[Slot] = []
        for index, database in enumerate(databases):
            slot = Slot(index, workdir / f"slot-{index}", database)
            for folder in (slot.tmp, slot.data, slot.streams):
                folder.mkdir(parents=True, exist_ok=True)
            self.slots.append(slot)
        self.baseline_mb = _self_rss_mb()

    def run(self, cases: Iterable[Case]) -> list[Outcome]:
        outcomes: list[Outcome] = []
        pending: Iterator[Case] = iter(cases)
        free = list(reversed(self.slots))
        running: dict[int, _Running] = {}
        exhausted = False
        while running or not exhausted:
            while free and not exhausted:
                case = next(pending, None)
                if case is None:
                    exhausted = True
                    break
                slot = free.pop()
                started = self._start(slot, case)
                if isinstance(started, Outcome):
                    outcomes.append(self._report(started))
                    free.append(slot)
                else:
                    running[started.pid] = started
            if not running:
                continue
            finished = self._poll(running)
            if not finished:
                time.sleep(0.005)
            for pid, status, usage_kb in finished:
                job = running.pop(pid)
                outcome = self._finish(job, status, usage_kb)
                outcomes.append(self._report(outcome))
                free.append(self.slots[job.slot])
        return outcomes

    def _report(self, outcome: Outcome) -> Outcome:
        if self.on_outcome is not None:
            self.on_outcome(outcome)
        return outcome

    # -- starting

    def _start(self, slot: Slot, case: Case) -> _Running | Outcome:
        folder = slot.case_folder
        _remove(folder)
        folder.mkdir(mode=0o700)
        try:
            invocation = case.build(folder)
        except Exception as error:  # a generator bug must not stop the whole run
            return Outcome(
                case.group,
                case.mutation,
                None,
                0.0,
                0.0,
                {"traceback": f"fuzz generator failed: {type(error).__name__}: {error}"[:200]},
            )
        inputs = {entry.name for entry in folder.iterdir()}
        before = None
        if case.checks_database and slot.database is not None:
            before = slot.database.counts()
        env = {
            "TMPDIR": str(slot.tmp),
            "TIPHUB_DATA_DIR": str(slot.data),
            "COLUMNS": "100",
        }
        if slot.database is not None:
            env["TIPHUB_DATABASE_URL"] = slot.database.url
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            _child(self.command, invocation.argv, folder, slot.streams, env)
        timeout = (invocation.timeout or case.timeout) * self.timeout_scale
        return _Running(pid, slot.index, case, invocation, folder, inputs, time.monotonic(), timeout, before)

    # -- watching

    def _poll(self, running: dict[int, _Running]) -> list[tuple[int, int, int]]:
        finished = []
        now = time.monotonic()
        for pid, job in running.items():
            done, status, usage = os.wait4(pid, os.WNOHANG)
            if done:
                finished.append((pid, status, usage.ru_maxrss))
                continue
            rss_kb = _rss_kb(pid)
            job.peak_kb = max(job.peak_kb, rss_kb)
            if job.killed:
                continue
            if now - job.started > job.timeout:
                job.killed = "hang"
            elif rss_kb > HARD_MEMORY_MB * 1024:
                job.killed = "over memory"
            if job.killed:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGKILL)
        return finished

    # -- classifying

    def _finish(self, job: _Running, status: int, usage_kb: int) -> Outcome:
        slot = self.slots[job.slot]
        seconds = time.monotonic() - job.started
        code = os.waitstatus_to_exitcode(status)
        # A killed child's own children would otherwise live on.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGKILL)
        peak_mb = max(usage_kb, job.peak_kb) / 1024
        mutation = job.invocation.mutation or job.case.mutation
        outcome = Outcome(job.case.group, mutation, code, seconds, peak_mb)
        flags = outcome.flags
        stdout, stdout_size = _read(slot.streams / "stdout")
        stderr, stderr_size = _read(slot.streams / "stderr")
        outcome.output_bytes = stdout_size + stderr_size
        text = stdout + "\n" + stderr
        outcome.message = _error_line(stderr or stdout)
        if job.killed == "hang":
            flags["hang"] = f"killed after {job.timeout:.0f} s"
        elif job.killed == "over memory" or peak_mb > self.memory_limit_mb:
            flags["over memory"] = f"peak {peak_mb:.0f} MB"
        elif code < 0:
            flags["traceback"] = f"killed by signal {-code}"
        if _looks_like_traceback(text):
            flags["traceback"] = _error_line(stderr or stdout)
        for name, written in (("stdout", stdout), ("stderr", stderr)):
            kind = find_marker(written)
            if kind:
                flags["identity echoed"] = f"{kind} in {name}: {_error_line(written, kind)}"
                break
        for path in job.invocation.searched:
            if path.is_file() and "identity echoed" not in flags:
                content, _ = _read(path)
                kind = find_marker(content)
                if kind:
                    flags["identity echoed"] = f"{kind} in {path.name}"
        loose = [
            f"{path.name} {stat.S_IMODE(path.stat().st_mode):04o}"
            for path in job.invocation.outputs
            if path.is_file() and stat.S_IMODE(path.stat().st_mode) & 0o077
        ]
        if loose:
            flags["loose mode"] = ", ".join(loose)
        leftovers = self._leftovers(slot, job)
        if leftovers:
            flags["leftover"] = ", ".join(sorted(leftovers))[:200]
        if slot.database is not None and job.before is not None:
            after = slot.database.counts()
            if after != job.before:
                if code != 0:
                    changed = [name for name in after if after[name] != job.before.get(name)]
                    flags["partial write"] = "rows changed in " + ", ".join(changed[:6])
                slot.database.after_change()
            elif job.killed and isinstance(slot.database, SqliteSlot):
                slot.database.reset()  # a killed writer may leave a hot journal behind
        return outcome

    def _leftovers(self, slot: Slot, job: _Running) -> list[str]:
        found = []
        expected = job.inputs | {path.name for path in job.invocation.outputs}
        for entry in job.folder.iterdir():
            if entry.name not in expected:
                found.append(f"{entry.name} beside the files")
        run_prefix = f"run-{job.pid}-"
        for entry in slot.tmp.iterdir():
            if entry.name == f"tiphub-{os.getuid()}" and entry.is_dir():
                for run in entry.iterdir():
                    # A killed run cannot clean up after itself; the next run sweeps it.
                    if job.killed is None or not run.name.startswith(run_prefix):
                        found.append(f"{entry.name}/{run.name[:4]}… in the temporary folder")
                    _remove(run)
                continue
            found.append(f"{entry.name[:40]} in the temporary folder")
            _remove(entry)
        for entry in slot.data.iterdir():
            found.append(f"{entry.name[:40]} in the data folder")
            _remove(entry)
        return found


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        # Fuzz inputs include FIFOs and unreadable folders; make them removable first.
        for root, folders, _ in os.walk(path):
            for name in folders:
                with contextlib.suppress(OSError):
                    os.chmod(os.path.join(root, name), 0o700)
        shutil.rmtree(path, ignore_errors=True)
    else:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def _read(path: Path) -> tuple[str, int]:
    try:
        size = path.stat().st_size
        with path.open("rb") as handle:
            data = handle.read(READ_LIMIT)
    except OSError:
        return "", 0
    # Reports may be UTF-16; markers are ASCII, so searching both decodings finds them.
    text = data.decode("utf-8", errors="replace")
    if b"\x00" in data[:4096]:
        text += "\n" + data.decode("utf-16", errors="replace")
    return text, size


def _rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            pages = int(handle.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0
    return pages * (os.sysconf("SC_PAGE_SIZE") // 1024)


def _self_rss_mb() -> float:
    return _rss_kb(os.getpid()) / 1024


def _looks_like_traceback(text: str) -> bool:
    return any(pattern.search(text) for pattern in _TRACEBACK_PATTERNS)


def _error_line(text: str, marker_kind: str | None = None) -> str:
    """The most telling line of an error output, markers scrubbed, at most 160 characters."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    chosen = None
    if marker_kind is not None:
        chosen = next((line for line in lines if find_marker(line)), None)
    if chosen is None:
        # The exception line of a traceback says more than its first line.
        chosen = next(
            (
                line
                for line in reversed(lines)
                if re.match(r"^[\w.]+(?:Error|Exception|Exit|Interrupt)\b", line)
            ),
            None,
        )
    if chosen is None:
        chosen = next(
            (line for line in lines if not re.match(r"^[\s╭╰│─┌└├┬┴┼]*$", line)), ""
        )
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in scrub(chosen))
    return cleaned[:160]


# ---------------------------------------------------------------------------------- figures


COLUMNS = (
    "tried",
    "accepted",
    "clean refusal",
    "long refusal",
    *FAILURES,
    "max peak MB",
    "seconds",
)


def tally(outcomes: Iterable[Outcome]) -> dict[str, dict[str, float]]:
    """Per group: the counts of each column."""
    table: dict[str, dict[str, float]] = {}
    for outcome in outcomes:
        row = table.setdefault(outcome.group, dict.fromkeys(COLUMNS, 0))
        row["tried"] += 1
        row["accepted"] += outcome.accepted
        row["clean refusal"] += outcome.clean_refusal
        row["long refusal"] += outcome.long_refusal
        for name in outcome.flags:
            row[name] += 1
        row["max peak MB"] = max(row["max peak MB"], round(outcome.peak_mb))
        row["seconds"] = round(row["seconds"] + outcome.seconds, 1)
    return table


def failure_count(outcomes: Iterable[Outcome]) -> int:
    return sum(1 for outcome in outcomes if outcome.flags)


def failure_kinds(outcomes: Iterable[Outcome]) -> list[tuple[str, str, str, int]]:
    """Distinct failures: (class, example mutation, first line, how many), most frequent first."""
    kinds: dict[tuple[str, str], list[Any]] = {}
    for outcome in outcomes:
        for name, line in outcome.flags.items():
            key = (name, _shape(outcome.group, line))
            entry = kinds.setdefault(key, [f"{outcome.group}: {outcome.mutation}", line, 0])
            entry[2] += 1
    rows = [(name, example, line, count) for (name, _), (example, line, count) in kinds.items()]
    return sorted(rows, key=lambda row: (-row[3], row[0]))


def _shape(group: str, line: str) -> str:
    """A failure line with its particulars (numbers, quoted values) blanked, to group alike."""
    line = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", line)
    line = re.sub(r"\d+", "#", line)
    return f"{group.split('-')[0]}|{line[:80]}"
