"""Private files: everything tiphub writes may hold a survivor's identity.

Every file tiphub writes is created 0600 and every folder it creates 0700, whatever the
user's umask. Temporary files of one run (export staging, openpyxl's spool files, DuckDB
spills, Spark checkpoints and warehouse) live in one private folder per run,
``$TMPDIR/tiphub-<uid>/run-<pid>-<token>``, removed when the process exits; folders left by
runs that were killed are removed by the next run that asks for its own.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import os
import secrets
import shutil
import stat
import tempfile
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import IO, Any

PRIVATE_FILE = 0o600
PRIVATE_DIR = 0o700
_RUN_PREFIX = "run-"


def make_private_dir(path: Path) -> Path:
    """Create ``path`` (and missing parents) as 0700 folders; an existing folder is left as it is."""
    path = Path(path)
    missing = []
    probe = path
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=PRIVATE_DIR)
        os.chmod(folder, PRIVATE_DIR)
    return path


def make_private(path: Path) -> None:
    """Restrict an existing file to its owner."""
    with contextlib.suppress(FileNotFoundError):
        os.chmod(path, PRIVATE_FILE)


def open_private(path: Path, mode: str = "w", **kwargs: Any) -> IO[Any]:
    """``open`` that creates the file 0600 (and its missing folders 0700) before any byte lands."""
    path = Path(path)
    make_private_dir(path.parent)
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if "a" in mode else os.O_TRUNC)
    descriptor = os.open(path, flags, PRIVATE_FILE)
    try:
        os.fchmod(descriptor, PRIVATE_FILE)  # an existing file keeps its old mode otherwise
    except BaseException:
        os.close(descriptor)
        raise
    return open(descriptor, mode, **kwargs)


def write_private_text(path: Path, text: str) -> None:
    with open_private(path, "w", encoding="utf-8", newline="") as handle:
        handle.write(text)


def write_private_bytes(path: Path, data: bytes) -> None:
    with open_private(path, "wb") as handle:
        handle.write(data)


def _base_folder() -> Path:
    return Path(tempfile.gettempdir() if _original_tempdir is None else _original_tempdir) / (
        f"tiphub-{os.getuid()}"
    )


_original_tempdir: str | None = None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep_leftovers(base: Path | None = None) -> int:
    """Remove run folders whose process is gone (killed runs); the number removed."""
    base = base or _base_folder()
    removed = 0
    if not base.is_dir():
        return removed
    for entry in base.iterdir():
        if not entry.name.startswith(_RUN_PREFIX):
            continue
        pid_text = entry.name[len(_RUN_PREFIX) :].split("-", 1)[0]
        if pid_text.isdigit() and int(pid_text) != os.getpid() and not _alive(int(pid_text)):
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
    return removed


@cache
def run_temp_dir() -> Path:
    """This process's private temporary folder, created on first use and removed at exit.

    Python's own ``tempfile`` (and so openpyxl) is pointed into it as well.
    """
    global _original_tempdir
    _original_tempdir = tempfile.gettempdir()
    base = _base_folder()
    make_private_dir(base)
    info = os.lstat(base)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise RuntimeError(f"{base} is not a folder owned by this user; refusing to use it")
    os.chmod(base, PRIVATE_DIR)
    sweep_leftovers(base)
    folder = base / f"{_RUN_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
    folder.mkdir(mode=PRIVATE_DIR)
    atexit.register(_remove, folder, os.getpid())
    tempfile.tempdir = str(folder)
    return folder


def _remove(folder: Path, owner_pid: int) -> None:
    # A forked child inherits the atexit hook; only the process that made the folder removes it.
    if os.getpid() == owner_pid:
        shutil.rmtree(folder, ignore_errors=True)


def private_subdir(name: str) -> Path:
    """A named 0700 folder inside this run's temporary folder (e.g. ``duckdb``, ``spark``)."""
    folder = run_temp_dir() / name
    make_private_dir(folder)
    return folder


@contextlib.contextmanager
def staged_file(destination: Path) -> Iterator[Path]:
    """A 0600 staging path for ``destination`` that replaces it only if the block succeeds.

    Staged in this run's private folder when it is on the destination's file system (so a
    killed run leaves nothing beside the destination), else beside the destination under a
    name the next run sweeps.
    """
    destination = Path(destination)
    make_private_dir(destination.parent)
    staging_root = run_temp_dir()
    if os.stat(staging_root).st_dev != os.stat(destination.parent).st_dev:
        staging_root = destination.parent
        _sweep_staged(destination.parent)
    descriptor, name = tempfile.mkstemp(
        prefix=f".tiphub-staged-{os.getpid()}-", suffix=".part", dir=staging_root
    )
    os.close(descriptor)
    staged = Path(name)
    try:
        yield staged
        os.chmod(staged, PRIVATE_FILE)
        os.replace(staged, destination)
    finally:
        staged.unlink(missing_ok=True)


def _sweep_staged(folder: Path) -> None:
    for entry in folder.glob(".tiphub-staged-*.part"):
        pid_text = entry.name.removeprefix(".tiphub-staged-").split("-", 1)[0]
        if pid_text.isdigit() and not _alive(int(pid_text)):
            entry.unlink(missing_ok=True)


class UnreadableFileError(ValueError):
    """An input that is missing, unreadable or not a regular file; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


def check_regular_file(path: Path) -> None:
    """Refuse what is not a regular file before opening it: a FIFO or a device never ends."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise UnreadableFileError("file not found") from None
    except OSError as error:
        raise UnreadableFileError(_cannot_read(error)) from None
    if stat.S_ISDIR(info.st_mode):
        raise UnreadableFileError("is a folder, not a file")
    if not stat.S_ISREG(info.st_mode):
        raise UnreadableFileError("not a regular file (a pipe, socket or device): give a file")
    if not os.access(path, os.R_OK):
        raise UnreadableFileError("cannot read the file (permission denied)")


def open_regular_file(path: Path) -> io.BufferedReader:
    """The file opened for reading in binary, refused unless it is a regular file.

    Opened non-blocking and checked again on what was opened, so that a path swapped for a
    pipe after the check cannot hang the open.
    """
    check_regular_file(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise UnreadableFileError("file not found") from None
    except OSError as error:
        raise UnreadableFileError(_cannot_read(error)) from None
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise UnreadableFileError("not a regular file (a pipe, socket or device): give a file")
        os.set_blocking(descriptor, True)
        return open(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise


def _cannot_read(error: OSError) -> str:
    return f"cannot read the file ({error.strerror or type(error).__name__})"
