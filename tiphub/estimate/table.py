"""Capture-history tables: the input of Multiple Systems Estimation.

A table records, for each combination of lists (a *capture history*), how many people
appear on exactly those lists. tiphub keeps it as a dense vector indexed by the history's
bit mask (bit ``i`` set = on list ``i``, in the CSV's column order), so that the
``2^t - 1`` observable cells are always present, zero-filled where nobody was seen.

Two CSV layouts are read:

* aggregated: one 0/1 column per list plus ``count``;
* one row per person: one 0/1 column per list and no ``count`` column.

Further columns are allowed only when named as strata.
"""

from __future__ import annotations

import csv
import io
import itertools
import math
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import numpy as np

from tiphub.delimited import SAMPLE_LINES, detect_layout
from tiphub.errors import LocatedError
from tiphub.files import UnreadableFileError, open_regular_file

COUNT_COLUMN = "count"
# (done, total): how long jobs report progress without knowing about the terminal.
ProgressCallback = Callable[[int, int], None]
MAX_LISTS = 16


class CaptureTableError(LocatedError):
    """Bad capture-history input, located by file, row and column."""


def popcount(mask: int) -> int:
    return int(mask).bit_count()


@dataclass(frozen=True)
class CaptureTable:
    """Counts of people by capture history over named lists.

    ``counts[h]`` is the number of people whose history has bit mask ``h``;
    ``counts[0]`` (nobody's list) is always zero — that is the dark figure to estimate.
    """

    lists: tuple[str, ...]
    counts: np.ndarray = field(repr=False)
    source: str | None = None

    def __post_init__(self) -> None:
        counts = np.asarray(self.counts, dtype=np.int64)
        object.__setattr__(self, "counts", counts)
        if counts.shape != (1 << len(self.lists),):
            raise ValueError("counts must have one entry per capture history (2^t)")

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_counts(
        cls, lists: Sequence[str], counts: Mapping[int, int] | np.ndarray, source: str | None = None
    ) -> CaptureTable:
        dense = np.zeros(1 << len(lists), dtype=np.int64)
        if isinstance(counts, np.ndarray):
            dense[:] = counts
        else:
            for mask, count in counts.items():
                dense[mask] += count
        return cls(tuple(lists), dense, source)

    # ------------------------------------------------------------------ properties

    @property
    def n_lists(self) -> int:
        return len(self.lists)

    @property
    def observed(self) -> int:
        return int(self.counts.sum())

    def list_totals(self) -> dict[str, int]:
        masks = np.arange(self.counts.size)
        return {
            name: int(self.counts[(masks >> i) & 1 == 1].sum()) for i, name in enumerate(self.lists)
        }

    def observed_cells(self) -> np.ndarray:
        """Masks of histories with at least one person, in increasing mask order."""
        return np.flatnonzero(self.counts)

    def histories(self) -> np.ndarray:
        """0/1 matrix (observed cells × lists) matching :meth:`observed_cells`."""
        cells = self.observed_cells()
        return ((cells[:, None] >> np.arange(self.n_lists)[None, :]) & 1).astype(np.int64)

    def overlap(self, lists: Iterable[str]) -> int:
        """How many people are on all of ``lists`` (whatever else they are on)."""
        return self.overlap_mask(self.mask_of(lists))

    def overlap_mask(self, mask: int) -> int:
        cells = np.arange(self.counts.size)
        return int(self.counts[(cells & mask) == mask].sum())

    def mask_of(self, lists: Iterable[str]) -> int:
        mask = 0
        for name in lists:
            if name not in self.lists:
                raise CaptureTableError(
                    f"unknown list {name!r}; the lists are {', '.join(self.lists)}",
                    source=self.source,
                )
            mask |= 1 << self.lists.index(name)
        return mask

    def term_name(self, mask: int) -> str:
        return ":".join(name for i, name in enumerate(self.lists) if mask >> i & 1)

    def term_mask(self, name: str) -> int:
        return self.mask_of(part.strip() for part in name.split(":"))

    def to_rows(self, include_zero: bool = False) -> Iterator[tuple[tuple[int, ...], int]]:
        for mask in range(1, self.counts.size):
            if include_zero or self.counts[mask]:
                yield tuple(mask >> i & 1 for i in range(self.n_lists)), int(self.counts[mask])

    def to_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow([*self.lists, COUNT_COLUMN])
        for history, count in self.to_rows():
            writer.writerow([*history, count])
        return buffer.getvalue()

    # ------------------------------------------------------------------ checks

    def validate(self) -> None:
        """Refuse tables no estimate can be made from."""
        if self.n_lists < 2:
            raise CaptureTableError(
                f"at least 2 lists are needed, found {self.n_lists}: an estimate of the missed "
                "comes from people found on more than one list; add a second list that "
                "records the same population",
                source=self.source,
            )
        if self.n_lists > MAX_LISTS:
            raise CaptureTableError(
                f"at most {MAX_LISTS} lists are supported, found {self.n_lists}; merge lists "
                "that record similar people (--merge A+B) or omit small ones (--omit C)",
                source=self.source,
            )
        if (self.counts < 0).any():
            raise CaptureTableError("counts must not be negative", source=self.source)
        # The largest cell first: summing cells near 2^63 would wrap around.
        if int(self.counts.max()) > MAX_COUNT or self.observed > MAX_COUNT:
            raise CaptureTableError(
                f"the table holds more than the maximum of {MAX_COUNT:,} people", source=self.source
            )
        if self.observed == 0:
            raise CaptureTableError(
                "the table has no one in it (all counts are zero)", source=self.source
            )
        for name, total in self.list_totals().items():
            if total == 0:
                raise CaptureTableError(
                    f"nobody is on list {name!r}; omit it (--omit {name}) or check the data",
                    source=self.source,
                    column=name,
                )

    # ------------------------------------------------------------------ list surgery

    def merge(self, names: Sequence[str], new_name: str | None = None) -> CaptureTable:
        """Treat several lists as one: a person is on the merged list if on any of them."""
        if len(set(names)) < 2 or len(set(names)) != len(names):
            raise CaptureTableError(
                "a merge needs two or more different lists, e.g. A+B", source=self.source
            )
        merged_mask = self.mask_of(names)
        merged_name = new_name or "".join(names)
        if any(name == merged_name and name not in names for name in self.lists):
            raise CaptureTableError(
                f"merging {'+'.join(names)} would make a second list named {merged_name!r}",
                source=self.source,
            )
        keep = [i for i in range(self.n_lists) if not merged_mask >> i & 1]
        first = min(self.lists.index(name) for name in names)
        # The merged list takes the place of the first of its parts, keeping column order.
        order: list[int | None] = []  # None marks the merged list
        for i in range(self.n_lists):
            if i == first:
                order.append(None)
            elif i in keep:
                order.append(i)
        new_lists = tuple(merged_name if i is None else self.lists[i] for i in order)
        counts = np.zeros(1 << len(new_lists), dtype=np.int64)
        for mask in np.flatnonzero(self.counts):
            new_mask = 0
            for j, position in enumerate(order):
                on = (mask & merged_mask) != 0 if position is None else bool(mask >> position & 1)
                new_mask |= int(on) << j
            counts[new_mask] += self.counts[mask]
        return CaptureTable(new_lists, counts, self.source)

    def omit(self, name: str) -> CaptureTable:
        """Drop a list; people seen only on it leave the table."""
        index = self.lists.index(name) if name in self.lists else -1
        if index < 0:
            self.mask_of([name])  # raises the helpful error
        new_lists = self.lists[:index] + self.lists[index + 1 :]
        counts = np.zeros(1 << len(new_lists), dtype=np.int64)
        low = (1 << index) - 1
        for mask in np.flatnonzero(self.counts):
            new_mask = (mask & low) | ((mask >> (index + 1)) << index)
            counts[new_mask] += self.counts[mask]
        counts[0] = 0
        return CaptureTable(new_lists, counts, self.source)

    def without_empty_lists(self) -> tuple[CaptureTable, list[str]]:
        """Drop lists nobody is on (as R's glm does by aliasing them); report which."""
        table = self
        dropped = []
        for name, total in self.list_totals().items():
            if total == 0:
                table = table.omit(name)
                dropped.append(name)
        return table, dropped

    def with_counts(self, counts: np.ndarray) -> CaptureTable:
        return CaptureTable(self.lists, counts, self.source)


def history_mask(history: Sequence[int]) -> int:
    mask = 0
    for i, bit in enumerate(history):
        if bit:
            mask |= 1 << i
    return mask


# ---------------------------------------------------------------------- reading CSV

# Limits of what is read, so that no file can exhaust memory or make a run hang:
MAX_COUNT = 1_000_000_000  # per cell and for the whole table (all strata together)
MAX_ROWS = 10_000_000  # data rows; aggregate one-row-per-person files beyond that
MAX_STRATA = 200
MAX_LINE_CHARS = 65_536
MAX_COLUMN_NAME = 100
_COUNT_DIGITS = len(str(MAX_COUNT))
_WHOLE = re.compile(r"[0-9]+(?:\.0*)?")
# Only short numbers are quoted in messages: text could be a name, and a long number a
# phone or document number.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|0[xXoObB][0-9a-fA-F]+")


def _safe_value(text: str, longest: int) -> str:
    """Quote short numbers only: a stray column may hold names or phone numbers, which must
    not reach a terminal or a log."""
    if not text:
        return "an empty cell"
    if not _NUMBER.fullmatch(text):
        return "text (not shown)"
    if len(text) > longest:
        return f"a number of {len(text)} characters (not shown)"
    return repr(text)


def _parse_binary(value: str, *, source: str, row: int, column: str) -> int:
    text = value.strip()
    if text in ("0", "1"):
        return int(text)
    if text in ("0.0", "1.0"):
        return int(float(text))
    shown = _safe_value(text, longest=4)
    raise CaptureTableError(
        f"list columns hold 0 or 1, found {shown} (name it with --strata if it is a stratum)",
        source=source,
        row=row,
        column=column,
    )


def _parse_count(value: str, *, source: str, row: int) -> int:
    text = value.strip()
    if not text:
        raise CaptureTableError("the count is missing", source=source, row=row, column=COUNT_COLUMN)
    if _WHOLE.fullmatch(text):
        digits = text.split(".", 1)[0].lstrip("0") or "0"
        # Compared as text first: int() of a 5,000-digit string is refused by Python itself.
        if len(digits) > _COUNT_DIGITS or int(digits) > MAX_COUNT:
            raise CaptureTableError(
                f"the count is larger than the maximum of {MAX_COUNT:,}, found "
                f"{_safe_value(text, longest=8)}",
                source=source,
                row=row,
                column=COUNT_COLUMN,
            )
        return int(digits)
    reason = "the count must be a whole number written with digits only"
    try:
        number = float(text)
    except ValueError:
        number = None
    if number is not None and not math.isfinite(number):
        reason = "the count must be a finite whole number"
    elif number is not None and number > MAX_COUNT:
        reason = f"the count is larger than the maximum of {MAX_COUNT:,}"
    elif number is not None and number < 0:
        reason = "the count must not be negative"
    elif number is not None and not number.is_integer():
        reason = "the count must be a whole number"
    elif number is not None or text.lower().startswith(("0x", "0o", "0b")):
        # 1e5 or 0x10: refused rather than guessed, since spreadsheets write rounded
        # large numbers in exponent form and a hex count is surely a wrong column.
        reason = "the count must be written as plain digits (no exponent, sign or base prefix)"
    raise CaptureTableError(
        f"{reason}, found {_safe_value(text, longest=8)}",
        source=source,
        row=row,
        column=COUNT_COLUMN,
    )


def _open_csv(path: Path, source: str) -> TextIO:
    """Open a capture-history file as text, refusing anything that is not a regular file.

    Checked before opening, so that a FIFO, a device such as /dev/zero or a folder is
    refused instead of blocking or streaming forever; opened non-blocking and checked
    again, in case the path was swapped in between.
    """
    try:
        binary = open_regular_file(path)
    except UnreadableFileError as error:
        raise CaptureTableError(error.reason, source=source) from None
    try:
        start = binary.peek(4)[:4]
    except OSError as error:
        binary.close()
        raise CaptureTableError(f"cannot read the file ({error.strerror})", source=source) from None
    encoding = "utf-8"
    if start.startswith((b"\xff\xfe", b"\xfe\xff")):
        encoding = "utf-16"
    elif start.startswith(b"\xef\xbb\xbf"):
        encoding = "utf-8-sig"
    return io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")


def _bounded_lines(handle: TextIO, source: str, counter: list[int]) -> Iterator[str]:
    """The file's lines, refusing one longer than :data:`MAX_LINE_CHARS`, so that a file
    without line breaks cannot be read whole into memory; ``counter[0]`` is the line number."""
    while True:
        try:
            line = handle.readline(MAX_LINE_CHARS + 2)
        except UnicodeDecodeError:
            raise CaptureTableError(
                "the file is not UTF-8 (or UTF-16 with a byte-order mark) text",
                source=source,
                row=counter[0] + 1,
            ) from None
        if not line:
            return
        counter[0] += 1
        if len(line.rstrip("\r\n")) > MAX_LINE_CHARS:
            raise CaptureTableError(
                f"the line is longer than {MAX_LINE_CHARS:,} characters; "
                "is this a capture-history CSV?",
                source=source,
                row=counter[0],
            )
        yield line


def _check_header(header: list[str], source: str) -> list[str]:
    if not any(cell.strip() for cell in header):
        raise CaptureTableError("the file is empty; expected a header row", source=source)
    header = [cell.strip() for cell in header]
    seen: set[str] = set()
    for number, column in enumerate(header, start=1):
        if not column:
            raise CaptureTableError(f"header cell {number} is empty", source=source, row=1)
        if len(column) > MAX_COLUMN_NAME or not column.isprintable():
            # Shown nowhere: a first row that is data, not names, may hold a person's details.
            raise CaptureTableError(
                f"header cell {number} is not a column name (longer than {MAX_COLUMN_NAME} "
                "characters or holding control characters); the first row must name the columns",
                source=source,
                row=1,
            )
        if column in seen:
            raise CaptureTableError(
                "the column name is repeated", source=source, row=1, column=column
            )
        seen.add(column)
    return header


# Columns of a file of people or cases, which never name a list of a capture history.
PERSON_FILE_COLUMNS = frozenset(
    {
        "record_id",
        "given_name",
        "family_name",
        "first_name",
        "last_name",
        "date_of_birth",
        "birth_date",
        "tip_caseid",
        "tip_personid",
        "prs_firstname",
        "prs_gender",
    }
)


def _refuse_person_file(header: list[str], source: str) -> None:
    """A file of people handed to the estimator: say which step comes first."""
    found = [column for column in header if column.casefold() in PERSON_FILE_COLUMNS]
    if not found:
        return
    case_file = any(column.casefold().startswith(("tip_", "prs_")) for column in found)
    step = (
        "import it (tiphub import FILE), then run tiphub link --capture-histories TABLE.csv"
        if case_file
        else "run tiphub link FILE --capture-histories TABLE.csv"
    )
    raise CaptureTableError(
        f"this is a file of {'cases' if case_file else 'person records'} (it has a "
        f"{found[0]} column), not a capture-history table of 0/1 list columns and a count: "
        f"{step} and estimate on that table",
        source=source,
        row=1,
    )


def read_capture_csv(
    path: str | Path,
    *,
    strata: Sequence[str] = (),
    text: str | None = None,
) -> dict[tuple[str, ...], CaptureTable]:
    """Read a capture-history CSV into one table per stratum (key ``()`` without strata).

    Either ``path`` is read, or ``text`` is parsed with ``path`` used in messages only.
    Tables are validated: every list must have someone on it, in each stratum too.
    The file must be UTF-8 (a byte-order mark is allowed) or UTF-16 with a byte-order mark,
    separated by commas (or by ';' or tabs when the header has no comma); counts are plain
    whole numbers up to :data:`MAX_COUNT`, which also bounds their sum.
    """
    source = Path(path).name
    handle: TextIO = io.StringIO(text) if text is not None else _open_csv(Path(path), source)
    with handle:
        try:
            return _read_tables(handle, source, strata)
        except OSError as error:
            raise CaptureTableError(
                f"cannot read the file ({error.strerror or type(error).__name__})", source=source
            ) from None
        except csv.Error as error:
            # csv's own messages quote no cell ("line contains NUL", "field larger than …").
            hint = " (a UTF-16 file needs a byte-order mark)" if "NUL" in str(error) else ""
            raise CaptureTableError(
                f"the file is not a readable CSV: {error}{hint}", source=source
            ) from None


def _read_tables(
    handle: TextIO, source: str, strata: Sequence[str]
) -> dict[tuple[str, ...], CaptureTable]:
    counter = [0]
    lines = _bounded_lines(handle, source, counter)
    first = next(lines, None)
    if first is None:
        raise CaptureTableError("the file is empty; expected a header row", source=source)
    if "\x00" in first:
        raise CaptureTableError(
            "the file holds NUL bytes: binary data, or UTF-16 without a byte-order mark "
            "(save it as UTF-8)",
            source=source,
            row=1,
        )
    if not first.strip():
        raise CaptureTableError(
            "the first line is blank; the file must start with a header row", source=source, row=1
        )
    # The separator is judged on the first lines, as for every CSV tiphub reads.
    ahead = list(itertools.islice(lines, SAMPLE_LINES))
    delimiter = detect_layout("".join([first, *ahead])).separator
    reader = csv.reader(itertools.chain([first], ahead, lines), delimiter=delimiter)
    header = _check_header(next(reader, []), source)
    _refuse_person_file(header, source)
    for column in strata:
        if column not in header:
            raise CaptureTableError(
                f"stratum column {column!r} is not in the file", source=source, column=column
            )
    count_column = (
        COUNT_COLUMN
        if COUNT_COLUMN in header
        else next((c for c in header if c.casefold() == COUNT_COLUMN), None)
    )
    list_columns = [c for c in header if c != count_column and c not in strata]
    if len(list_columns) < 2:
        raise CaptureTableError(
            f"at least 2 list columns are needed, found {len(list_columns)}"
            + (
                " (is the file separated by something other than commas?)"
                if len(header) == 1
                else ""
            ),
            source=source,
        )
    if len(list_columns) > MAX_LISTS:
        raise CaptureTableError(
            f"at most {MAX_LISTS} lists are supported, found {len(list_columns)}", source=source
        )
    index = {column: i for i, column in enumerate(header)}
    list_index = [index[c] for c in list_columns]
    count_index = index[count_column] if count_column is not None else None
    strata_index = [index[c] for c in strata]
    width = len(header)
    size = 1 << len(list_columns)
    # Sparse while reading: thousands of strata of 16 lists must not each take 2^16 cells.
    grouped: dict[tuple[str, ...], dict[int, int]] = {}
    masks: dict[tuple[str, ...], int] = {}
    total = 0
    data_rows = 0
    for row in reader:
        row_number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != width:
            raise CaptureTableError(
                f"expected {width} cells, found {len(row)}", source=source, row=row_number
            )
        data_rows += 1
        if data_rows > MAX_ROWS:
            raise CaptureTableError(
                f"more than {MAX_ROWS:,} data rows; aggregate the file into one row per "
                "capture history with a count column",
                source=source,
                row=row_number,
            )
        cells = tuple(row[i] for i in list_index)
        mask = masks.get(cells)
        if mask is None:
            history = [
                _parse_binary(row[i], source=source, row=row_number, column=c)
                for i, c in zip(list_index, list_columns, strict=True)
            ]
            mask = history_mask(history)
            if mask == 0:
                raise CaptureTableError(
                    "an all-zero history (on no list) cannot be observed; remove the row",
                    source=source,
                    row=row_number,
                )
            if len(masks) < 4 * size:  # bounded: spellings such as 1 and 1.0 add a few keys
                masks[cells] = mask
        count = (
            1
            if count_index is None
            else _parse_count(row[count_index], source=source, row=row_number)
        )
        total += count
        if total > MAX_COUNT:
            raise CaptureTableError(
                f"the counts add up to more than the maximum of {MAX_COUNT:,} people",
                source=source,
                row=row_number,
            )
        key = tuple(row[i].strip() for i in strata_index)
        counts = grouped.get(key)
        if counts is None:
            if len(grouped) >= MAX_STRATA:
                raise CaptureTableError(
                    f"more than {MAX_STRATA} strata; estimates per stratum need fewer, larger "
                    "strata (group the values)",
                    source=source,
                    row=row_number,
                    column=strata[0] if len(strata) == 1 else None,
                )
            counts = grouped[key] = {}
        counts[mask] = counts.get(mask, 0) + count
    if data_rows == 0:
        raise CaptureTableError("the file has a header but no data rows", source=source)
    lists = tuple(list_columns)
    tables = {
        key: CaptureTable.from_counts(lists, counts, source)
        for key, counts in sorted(grouped.items())
    }
    if not strata:
        tables[()].validate()
    else:
        merged: dict[int, int] = {}
        for counts in grouped.values():
            for mask, count in counts.items():
                merged[mask] = merged.get(mask, 0) + count
        CaptureTable.from_counts(lists, merged, source).validate()
    return tables


def read_capture_table(path: str | Path, *, text: str | None = None) -> CaptureTable:
    """Read an unstratified capture-history CSV."""
    return read_capture_csv(path, text=text)[()]
