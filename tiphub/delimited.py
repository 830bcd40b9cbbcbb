"""Which separator a "CSV" file really uses: agencies send commas, semicolons and tabs.

Spreadsheets in locales with a decimal comma (most of Europe, Latin America) save CSV with
semicolons, and KoboToolbox exports with semicolons by default; database tools write tabs.
A vertical bar is not a separator: HTCDS uses it inside cells for multi-select values.
Every CSV reader in tiphub asks here, so a file is read the same way by every command.

A separator is chosen on the first lines of the file: the one that splits the header into
the most columns while every complete line that follows splits into the same number.
Quoted cells are honoured, so a comma inside a quoted narrative does not count.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import IO

SEPARATORS = (",", ";", "\t")
SEPARATOR_NAMES = {",": "comma", ";": "semicolon", "\t": "tab"}
# Enough lines to see that the separator holds beyond the header.
SAMPLE_LINES = 50
SAMPLE_CHARS = 64 * 1024


@dataclass(frozen=True)
class Layout:
    """How a delimited text file is laid out."""

    separator: str = ","
    quoted: bool = False  # whether any cell of the sample was in double quotes

    def describe(self) -> str:
        quoting = ", with quoted cells" if self.quoted else ""
        return f"{SEPARATOR_NAMES[self.separator]}-separated{quoting}"


def _complete_lines(sample: str) -> list[str]:
    """The sample's lines minus the last one, which a fixed-size read may have cut."""
    lines = sample.splitlines(keepends=True)
    if len(lines) > 1 and not lines[-1].endswith(("\n", "\r")):
        lines = lines[:-1]
    return lines[:SAMPLE_LINES]


def _widths(lines: list[str], separator: str) -> list[int] | None:
    try:
        reader = csv.reader(io.StringIO("".join(lines), newline=""), delimiter=separator)
        return [len(row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error:
        return None


def detect_layout(sample: str) -> Layout:
    """The layout of a file from its first characters (a few kilobytes are plenty)."""
    lines = _complete_lines(sample.lstrip("\ufeff"))
    if not lines:
        return Layout()
    scores: dict[str, tuple[int, int, int]] = {}
    for rank, separator in enumerate(SEPARATORS):
        widths = _widths(lines, separator)
        if not widths or widths[0] < 2:
            continue
        consistent = sum(width == widths[0] for width in widths[1:])
        # Consistency first (a separator that also occurs inside unquoted text gives ragged
        # rows), then width; on a tie the earlier separator, comma first.
        scores[separator] = (consistent, widths[0], -rank)
    separator = max(scores, key=scores.__getitem__) if scores else ","
    quoted = any('"' in line for line in lines)
    return Layout(separator, quoted)


def detect_in(handle: IO[str]) -> Layout:
    """The layout of an open text file, which is left at its start again."""
    start = handle.tell()
    sample = handle.read(SAMPLE_CHARS)
    handle.seek(start)
    return detect_layout(sample)
