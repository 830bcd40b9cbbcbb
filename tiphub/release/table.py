"""The table a release is made from: CTDC rows coded against the release codebook.

Values are held as small integer codes, one column per codebook column (0 = empty, ``i + 1``
= the column's ``domain[i]``), so counting every combination of a million rows is array
work. Reading is all or nothing: the first cell outside its declared domain stops the read
with the file, row and column (never the value, which could identify someone).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np

from tiphub.errors import LocatedError
from tiphub.release.codebook import Column, codebook, column_index

Combination = tuple[tuple[int, int], ...]
"""A combination of attribute values: ``(column position, code)`` pairs, by position."""


class ReleaseInputError(LocatedError):
    """The input cannot be released as it stands; nothing was written."""


class ReleaseRefusedError(ValueError):
    """The release cannot be made as asked (bad parameters, too little data, no budget left);
    nothing was written."""


@dataclass(frozen=True)
class ReleaseTable:
    columns: tuple[Column, ...]
    codes: np.ndarray  # (rows, columns), int16; 0 = empty
    source: str = "input"

    @property
    def n_rows(self) -> int:
        return int(self.codes.shape[0])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def value(self, position: int, code: int) -> str:
        return "" if code == 0 else self.columns[position].domain[code - 1]

    def code(self, position: int, value: str) -> int:
        return 0 if value == "" else self.columns[position].domain.index(value) + 1

    def text(self, combination: Combination) -> str:
        """``column=value`` pairs joined by ``;`` in the table's column order."""
        return ";".join(
            f"{self.columns[position].name}={self.value(position, code)}"
            for position, code in sorted(combination)
        )

    def parse(self, text: str) -> Combination:
        """The inverse of :meth:`text` (an empty text is the empty combination)."""
        if not text:
            return ()
        positions = {name: position for position, name in enumerate(self.names)}
        pairs = []
        for part in text.split(";"):
            name, _, value = part.partition("=")
            position = positions[name]
            pairs.append((position, self.code(position, value)))
        return tuple(sorted(pairs))

    def rows(self) -> list[dict[str, str]]:
        lookups = [("", *column.domain) for column in self.columns]
        return [
            {
                column.name: lookups[j][code]
                for j, (column, code) in enumerate(zip(self.columns, row, strict=True))
            }
            for row in self.codes.tolist()
        ]

    def with_codes(self, codes: np.ndarray) -> ReleaseTable:
        return ReleaseTable(self.columns, codes.astype(np.int16, copy=False), self.source)


def resolve_columns(names: Sequence[str], source: str = "input") -> tuple[Column, ...]:
    known = column_index()
    columns = []
    seen = set()
    for name in names:
        if name not in known:
            raise ReleaseInputError(
                "is not in the release codebook (the CTDC Global Synthetic Dataset columns; "
                "see: tiphub release codebook)",
                source=source,
                column=name,
            )
        if name in seen:
            raise ReleaseInputError("appears twice in the header", source=source, column=name)
        seen.add(name)
        columns.append(known[name])
    if not columns:
        raise ReleaseInputError("has no columns to release", source=source)
    return tuple(columns)


def table_from_rows(
    rows: Iterable[dict[str, str]],
    names: Sequence[str] | None = None,
    *,
    source: str = "input",
    first_row: int = 2,
) -> ReleaseTable:
    """Code rows against the codebook; ``first_row`` is the file row of the first record."""
    columns = resolve_columns(
        list(names) if names is not None else [c.name for c in codebook()], source
    )
    lookups = [
        {value: index + 1 for index, value in enumerate(column.domain)} for column in columns
    ]
    coded: list[list[int]] = []
    for offset, row in enumerate(rows):
        line = []
        for column, lookup in zip(columns, lookups, strict=True):
            value = (row.get(column.name) or "").strip()
            if value == "":
                line.append(0)
                continue
            code = lookup.get(value)
            if code is None:
                raise ReleaseInputError(
                    f"value outside the declared domain ({column.describe_domain()})",
                    source=source,
                    row=first_row + offset,
                    column=column.name,
                )
            line.append(code)
        coded.append(line)
    codes = np.array(coded, dtype=np.int16).reshape(len(coded), len(columns))
    return ReleaseTable(columns, codes, source)


def read_ctdc_csv(path: Path) -> ReleaseTable:
    """A CSV as ``tiphub export --format ctdc`` writes it (any subset of its columns)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ReleaseInputError("no such file", source=str(path)) from None
    except UnicodeDecodeError:
        raise ReleaseInputError("is not UTF-8 text", source=str(path)) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip() for name in (reader.fieldnames or [])]
    if not header:
        raise ReleaseInputError(
            "is empty: a header row of CTDC columns is needed", source=str(path)
        )
    reader.fieldnames = header
    rows = []
    for row in reader:
        if None in row:
            raise ReleaseInputError(
                "has more cells than the header", source=str(path), row=reader.line_num
            )
        if None in row.values():
            # A row cut short (an interrupted download or copy) is refused, never read as
            # a row of empty cells.
            raise ReleaseInputError(
                "has fewer cells than the header (is the file cut short?)",
                source=str(path),
                row=reader.line_num,
            )
        rows.append(row)
    return table_from_rows(rows, header, source=str(path))


def count_combinations(table: ReleaseTable, max_length: int) -> dict[Combination, int]:
    """How many rows hold each combination of up to ``max_length`` non-empty values.

    The empty combination () counts every row.
    """
    counts: dict[Combination, int] = {(): table.n_rows}
    for combination, count, _ in combination_groups(table, max_length):
        counts[combination] = count
    return counts


def combination_groups(
    table: ReleaseTable, max_length: int, weights: np.ndarray | None = None
) -> Iterator[tuple[Combination, int, float]]:
    """Every combination of 1..max_length non-empty values with its row count and the sum
    of its rows' ``weights`` (0.0 without weights), one column subset at a time."""
    # Categorical rows repeat: work on the distinct rows, each with its multiplicity and
    # the sum of its copies' weights (a million rows are often tens of thousands).
    if table.n_rows == 0:
        return
    codes, inverse = np.unique(table.codes, axis=0, return_inverse=True)
    inverse = inverse.reshape(-1)
    multiplicity = np.bincount(inverse, minlength=codes.shape[0])
    row_weights = (
        np.bincount(inverse, weights=weights, minlength=codes.shape[0])
        if weights is not None
        else None
    )
    present = codes > 0
    radix = [len(column.domain) + 1 for column in table.columns]
    for length in range(1, max_length + 1):
        for positions in combinations(range(codes.shape[1]), length):
            chosen = list(positions)
            mask = present[:, chosen].all(axis=1)
            if not mask.any():
                continue
            sub = codes[mask][:, chosen].astype(np.int64)
            packed = sub[:, 0].copy()
            for j in range(1, length):
                packed = packed * radix[chosen[j]] + sub[:, j]
            _, first, group = np.unique(packed, return_index=True, return_inverse=True)
            counts = np.bincount(group, weights=multiplicity[mask], minlength=len(first))
            sums = (
                np.bincount(group, weights=row_weights[mask], minlength=len(first)).tolist()
                if row_weights is not None
                else [0.0] * len(first)
            )
            for column_codes, count, weight in zip(
                sub[first].tolist(), counts.astype(np.int64).tolist(), sums, strict=True
            ):
                yield tuple(zip(chosen, column_codes, strict=True)), count, weight
