"""Opening the files the linkage commands read: regular files only, read within bounds.

A path given on the command line may name a folder, a named pipe, a terminal or a device
such as ``/dev/zero``: opening a pipe blocks until a writer appears and a device never
ends, so every reader first checks what the path is and refuses anything but a regular
file. Errors name the file and never quote its content.
"""

from __future__ import annotations

import contextlib
import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from tiphub.errors import LocatedError
from tiphub.files import UnreadableFileError, open_regular_file

# Longest CSV cell read (the csv module's default). A longer "cell" is a binary file or a
# quote never closed swallowing the rest of the file. Other readers in the process may
# raise the module-wide limit, so the linkage readers set it while they read.
MAX_CSV_CELL = 131_072


def _refuse(error: type[LocatedError], source: str, reason: str) -> LocatedError:
    return error(reason, source=source)


def _open_regular(path: Path, error: type[LocatedError], source: str) -> IO[bytes]:
    try:
        return open_regular_file(path)
    except UnreadableFileError as problem:
        raise _refuse(error, source, problem.reason) from None


@contextlib.contextmanager
def open_text(
    path: Path, error: type[LocatedError], source: str | None = None
) -> Iterator[IO[str]]:
    """A regular file opened as UTF-8 text (an initial BOM skipped) for ``csv.reader``."""
    source = source or str(path)
    with io.TextIOWrapper(
        _open_regular(path, error, source), encoding="utf-8-sig", newline=""
    ) as handle:
        yield handle


@contextlib.contextmanager
def open_binary(
    path: Path, error: type[LocatedError], source: str | None = None
) -> Iterator[IO[bytes]]:
    """A regular file opened for reading bytes (for readers such as pandas)."""
    source = source or str(path)
    with _open_regular(path, error, source) as handle:
        yield handle


def read_bytes(
    path: Path, error: type[LocatedError], *, limit: int, source: str | None = None
) -> bytes:
    """The whole of a small regular file; refused when it holds more than ``limit`` bytes."""
    source = source or str(path)
    with open_binary(path, error, source) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise _refuse(error, source, f"the file is larger than {limit:,} bytes")
    return data


def not_utf8(path: Path, error: type[LocatedError], source: str | None = None) -> LocatedError:
    """The error for a file that is not UTF-8, naming the line of its first bad byte.

    The decoder works on blocks of kilobytes, so the row being read when it failed need not
    hold the byte; the file is scanned again, line by line, to find it.
    """
    source = source or str(path)
    line_number = 0
    try:
        with open_binary(path, error, source) as handle:
            for line in handle:
                line_number += 1
                line.decode("utf-8")
    except UnicodeDecodeError:
        return error(f"the file is not UTF-8 text (line {line_number} is not)", source=source)
    except (OSError, LocatedError):
        pass
    return error("the file is not UTF-8 text", source=source)


@contextlib.contextmanager
def csv_cell_limit(limit: int = MAX_CSV_CELL) -> Iterator[None]:
    """Hold the csv module's cell limit at ``limit`` while reading, then restore it."""
    previous = csv.field_size_limit(limit)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def csv_problem(problem: csv.Error) -> str:
    """The csv module's complaint in words that quote nothing from the file."""
    text = str(problem)
    if "field larger than field limit" in text:
        return (
            f"a cell is longer than {csv.field_size_limit():,} characters "
            "(a binary file, or a quote that is never closed?)"
        )
    if "NUL" in text:
        return "the file holds NUL bytes (a binary file?)"
    if "new-line character seen in unquoted field" in text:
        return "a line break inside an unquoted cell"
    return "not a readable CSV file"
