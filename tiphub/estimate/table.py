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
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tiphub.errors import LocatedError

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
                f"at least 2 lists are needed, found {self.n_lists}", source=self.source
            )
        if self.n_lists > MAX_LISTS:
            raise CaptureTableError(
                f"at most {MAX_LISTS} lists are supported, found {self.n_lists}", source=self.source
            )
        if self.observed == 0:
            raise CaptureTableError("the table has no one in it (all counts are zero)", source=self.source)
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
        if len(names) < 2:
            raise CaptureTableError("a merge needs at least two lists, e.g. A+B", source=self.source)
        merged_mask = self.mask_of(names)
        keep = [i for i in range(self.n_lists) if not merged_mask >> i & 1]
        first = min(self.lists.index(name) for name in names)
        # The merged list takes the place of the first of its parts, keeping column order.
        order: list[int | None] = []  # None marks the merged list
        for i in range(self.n_lists):
            if i == first:
                order.append(None)
            elif i in keep:
                order.append(i)
        new_lists = tuple(new_name or "".join(names) if i is None else self.lists[i] for i in order)
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


def _safe_value(text: str) -> str:
    """Quote numbers only: a stray text column may hold a name, which must not reach a log."""
    try:
        float(text)
    except ValueError:
        return "text (not shown)"
    return repr(text[:20])


def _parse_binary(value: str, *, source: str, row: int, column: str) -> int:
    text = value.strip()
    if text in ("0", "1"):
        return int(text)
    if text in ("0.0", "1.0"):
        return int(float(text))
    shown = _safe_value(text)
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
    try:
        number = float(text)
    except ValueError:
        raise CaptureTableError(
            f"the count must be a whole number, found {_safe_value(text)}",
            source=source,
            row=row,
            column=COUNT_COLUMN,
        ) from None
    if number < 0:
        raise CaptureTableError(
            f"the count must not be negative, found {text}", source=source, row=row, column=COUNT_COLUMN
        )
    if not number.is_integer():
        raise CaptureTableError(
            f"the count must be a whole number, found {text}", source=source, row=row, column=COUNT_COLUMN
        )
    return int(number)


def read_capture_csv(
    path: str | Path,
    *,
    strata: Sequence[str] = (),
    text: str | None = None,
) -> dict[tuple[str, ...], CaptureTable]:
    """Read a capture-history CSV into one table per stratum (key ``()`` without strata).

    Either ``path`` is read, or ``text`` is parsed with ``path`` used in messages only.
    Tables are validated: every list must have someone on it, in each stratum too.
    """
    source = Path(path).name
    if text is None:
        try:
            raw = Path(path).read_bytes()
        except OSError as error:
            raise CaptureTableError(f"cannot read the file ({error.strerror})", source=source) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CaptureTableError("the file is not UTF-8 text", source=source) from None
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or not any(cell.strip() for cell in header):
        raise CaptureTableError("the file is empty; expected a header row", source=source)
    header = [cell.strip() for cell in header]
    seen: set[str] = set()
    for column in header:
        if not column:
            raise CaptureTableError("a header cell is empty", source=source, row=1)
        if column in seen:
            raise CaptureTableError("the column name is repeated", source=source, row=1, column=column)
        seen.add(column)
    for column in strata:
        if column not in header:
            raise CaptureTableError(
                f"stratum column {column!r} is not in the file", source=source, column=column
            )
    has_count = COUNT_COLUMN in header
    list_columns = [c for c in header if c != COUNT_COLUMN and c not in strata]
    if len(list_columns) < 2:
        raise CaptureTableError(
            f"at least 2 list columns are needed, found {len(list_columns)}", source=source
        )
    if len(list_columns) > MAX_LISTS:
        raise CaptureTableError(
            f"at most {MAX_LISTS} lists are supported, found {len(list_columns)}", source=source
        )
    index = {column: i for i, column in enumerate(header)}
    grouped: dict[tuple[str, ...], np.ndarray] = {}
    data_rows = 0
    for row_number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise CaptureTableError(
                f"expected {len(header)} cells, found {len(row)}", source=source, row=row_number
            )
        data_rows += 1
        history = [
            _parse_binary(row[index[c]], source=source, row=row_number, column=c) for c in list_columns
        ]
        count = _parse_count(row[index[COUNT_COLUMN]], source=source, row=row_number) if has_count else 1
        mask = history_mask(history)
        if mask == 0:
            raise CaptureTableError(
                "an all-zero history (on no list) cannot be observed; remove the row",
                source=source,
                row=row_number,
            )
        key = tuple(row[index[c]].strip() for c in strata)
        counts = grouped.setdefault(key, np.zeros(1 << len(list_columns), dtype=np.int64))
        counts[mask] += count
    if data_rows == 0:
        raise CaptureTableError("the file has a header but no data rows", source=source)
    tables = {
        key: CaptureTable(tuple(list_columns), counts, source) for key, counts in sorted(grouped.items())
    }
    if not strata:
        tables[()].validate()
    else:
        total = CaptureTable(tuple(list_columns), np.sum(list(grouped.values()), axis=0), source)
        total.validate()
    return tables


def read_capture_table(path: str | Path, *, text: str | None = None) -> CaptureTable:
    """Read an unstratified capture-history CSV."""
    return read_capture_csv(path, text=text)[()]
