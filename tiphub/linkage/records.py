"""Person records to link: reading and checking the input files, and the derived keys.

The input contract (``tiphub link PATH...``): a CSV with ``record_id`` (unique per file),
``list`` (the agency or source) and any of the identity columns below; other columns pass
through; empty cells are missing values. Errors name the file, the row and the column, never
the value, because the values are names of trafficking survivors.
"""

from __future__ import annotations

import csv
import zlib
from array import array
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pycountry

from tiphub.delimited import detect_in
from tiphub.errors import LocatedError
from tiphub.exchange.spreadsheet import is_dangerous
from tiphub.linkage.inputs import csv_cell_limit, csv_problem, not_utf8, open_text
from tiphub.linkage.normalise import (
    is_date_shaped,
    is_possible_date,
    normalise_identifier,
    normalise_name,
    parse_lenient_date,
    phonetic,
    skeleton,
    split_full_name,
)

IDENTITY_COLUMNS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "full_name",
    "sex",
    "date_of_birth",
    "nationality",
    "place_of_birth",
    "identifier",
    "address",
    "postcode",
    "city",
)
KEY_COLUMNS: tuple[str, ...] = ("record_id", "list")
# Added by the reader: where each record came from.
INTERNAL_COLUMNS: tuple[str, ...] = ("source_file", "source_row")

# Bands x rows of the MinHash index over name bigrams: a pair whose name bigram sets have
# Jaccard similarity s shares at least one band with probability 1 - (1 - s^rows)^bands.
LSH_BANDS = 8
LSH_ROWS = 4
# A band bucket holding more records than this is dropped: it gathers namesakes by the
# thousand (common surnames share all their bigrams), costs quadratic time and finds
# nothing that the name rules do not.
LSH_MAX_BUCKET = 50


class LinkageInputError(LocatedError):
    """A problem in an input file, located by file, row (1 = header) and column."""


class LinkageDataError(ValueError):
    """Valid records that cannot be linked as they are: too few, too alike, or empty.

    Messages give counts and column names, never a value.
    """


@dataclass(frozen=True)
class RecordSet:
    """Checked input records: one row per record, in input order, identity columns as text.

    ``given_columns`` are the identity columns the inputs had (empty: not known).
    """

    frame: pd.DataFrame
    sources: tuple[str, ...]
    given_columns: tuple[str, ...] = ()

    @property
    def lists(self) -> list[str]:
        return sorted(self.frame["list"].unique().tolist())


_SEX_CODES = {
    "m": "m",
    "male": "m",
    "man": "m",
    "masculine": "m",
    "f": "f",
    "female": "f",
    "woman": "f",
    "feminine": "f",
}


_GENDER_TO_SEX = {
    "Masculine": "M",
    "Feminine": "F",
    "TransgenderMasculine": "M",
    "TransgenderFeminine": "F",
}


def sex_from_gender(gender: str | None) -> str | None:
    """The linkage ``sex`` of an HTCDS gender code (``None`` for other or missing codes)."""
    return _GENDER_TO_SEX.get(gender or "")


@lru_cache(maxsize=512)
def alpha3_from_alpha2(code: str | None) -> str | None:
    """The ISO alpha-3 code of a stored alpha-2 country (``None`` if unknown)."""
    if not code:
        return None
    country = pycountry.countries.get(alpha_2=code)
    return country.alpha_3 if country else None


def _nationality_codes() -> frozenset[str]:
    return frozenset(country.alpha_3 for country in pycountry.countries)


# Longest identity value accepted: no name, date or address comes near it, while a cell of
# megabytes would make every string comparison of its candidate pairs crawl.
MAX_IDENTITY_CHARS = 1_000
# The review queue's column sizes (tiphub.store.models), checked here rather than after an
# hour of linking.
MAX_RECORD_ID_CHARS = 300
MAX_LIST_CHARS = 200
_MAX_CHARS = {
    "record_id": MAX_RECORD_ID_CHARS,
    "list": MAX_LIST_CHARS,
    **{name: MAX_IDENTITY_CHARS for name in IDENTITY_COLUMNS},
}
# Distinct cell values remembered per column, so that repeated values (list names, sexes,
# countries, common names) are held once; bounded, since a column of distinct values
# would only grow the table.
_SHARED_VALUES = 100_000
_FORMULA_STARTS = frozenset("=+-@")


def read_records(paths: Sequence[Path]) -> RecordSet:
    """Read and check every input file; all-or-nothing: the first problem raises."""
    if not paths:
        raise LinkageInputError("no input files were given", source="<input>")
    frames = [_read_one(path) for path in paths]
    combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    repeated = np.flatnonzero(combined["record_id"].duplicated(keep="first").to_numpy())
    if len(repeated):
        position = int(repeated[0])
        first = int(
            (combined["record_id"] == combined["record_id"].iloc[position]).to_numpy().argmax()
        )
        raise LinkageInputError(
            "record_id is not unique: the same ID is on "
            f"{combined['source_file'].iloc[first]}, row {_row_in_file(combined, first)}",
            source=str(combined["source_file"].iloc[position]),
            row=_row_in_file(combined, position),
            column="record_id",
        )
    given = tuple(
        name for name in IDENTITY_COLUMNS if any(name in frame.attrs["given"] for frame in frames)
    )
    return RecordSet(combined, tuple(str(path) for path in paths), given)


def _row_in_file(frame: pd.DataFrame, position: int) -> int:
    return int(frame["source_row"].iloc[position])


def _read_one(path: Path) -> pd.DataFrame:
    source = str(path)
    with open_text(path, LinkageInputError, source) as handle, csv_cell_limit():
        try:
            reader = csv.reader(handle, delimiter=detect_in(handle).separator)
            header = next(reader, None)
        except UnicodeDecodeError:
            raise not_utf8(path, LinkageInputError, source) from None
        except csv.Error as problem:
            raise LinkageInputError(csv_problem(problem), source=source, row=1) from None
        header = _checked_header(header, source)
        try:
            columns, rows = _read_rows(reader, header, source)
        except UnicodeDecodeError:
            raise not_utf8(path, LinkageInputError, source) from None
    given = tuple(name for name in header if name in IDENTITY_COLUMNS)
    for name in IDENTITY_COLUMNS:
        if name not in columns:
            columns[name] = np.full(len(rows), None, dtype=object)
    # copy=False: the arrays were made for this frame; a copy would double the memory.
    frame = pd.DataFrame(columns, copy=False)
    del columns
    frame.attrs["given"] = given
    _check_values(frame, rows, source)
    frame["source_file"] = pd.Categorical.from_codes(
        np.zeros(len(rows), dtype=np.int8), categories=[source]
    )
    frame["source_row"] = rows
    return frame


def _checked_header(header: list[str] | None, source: str) -> list[str]:
    if header is None or not any(cell.strip() for cell in header):
        raise LinkageInputError("the file is empty; expected a header row", source=source)
    # Nothing from the header is quoted: in a file without one, it is a survivor's record.
    header = [name.strip() for name in header]
    if any(name.startswith(("tip_", "prs_", "vic_", "cas_")) for name in header):
        raise LinkageInputError(
            "this is an HTCDS case file, not a file of person records: to link the people "
            "stored in tiphub, import it (tiphub import FILE) and run tiphub link with no "
            "PATH; tiphub link FILE takes CSVs with record_id, list and identity columns "
            "(given_name, family_name, date_of_birth, …)",
            source=source,
            row=1,
        )
    for name in KEY_COLUMNS:
        if name not in header:
            raise LinkageInputError(
                f"the required column '{name}' is missing (is the first line a header?)",
                source=source,
            )
    if len(set(header)) != len(header):
        raise LinkageInputError("a column name appears twice in the header", source=source, row=1)
    if any("\x00" in name for name in header):
        raise LinkageInputError("the header holds NUL bytes (a binary file?)", source=source, row=1)
    if not any(name in header for name in IDENTITY_COLUMNS):
        raise LinkageInputError(
            "no identity column: give at least one of " + ", ".join(IDENTITY_COLUMNS),
            source=source,
        )
    return header


def _column_label(name: str) -> str | None:
    # Only tiphub's own column names are repeated in messages.
    return name if name in _MAX_CHARS else None


def _read_rows(
    reader: Iterator[list[str]], header: list[str], source: str
) -> tuple[dict[str, npt.NDArray[np.object_]], npt.NDArray[np.int64]]:
    """Every data row, cells stripped (empty = ``None``), checked cell by cell as read.

    Held column by column with repeated values shared, so that a million short rows take
    tens, not hundreds, of megabytes.
    """
    width = len(header)
    limits = [_MAX_CHARS.get(name) for name in header]
    cells: list[list[str | None]] = [[] for _ in header]
    shared: list[dict[str, str] | None] = [None if name == "record_id" else {} for name in header]
    # Record IDs and list names are copied into tiphub's CSV outputs, where a spreadsheet
    # would run a formula; they are refused rather than altered, so IDs still match.
    keys = [index for index, name in enumerate(header) if name in KEY_COLUMNS]
    numbers = array("q")
    row_number = 1
    try:
        for row in reader:
            row_number += 1
            if not row:
                continue  # a blank line
            if len(row) != width:
                raise LinkageInputError(
                    f"the row has {len(row)} cells but the header has {width}",
                    source=source,
                    row=row_number,
                )
            for index, raw in enumerate(row):
                value: str | None = raw.strip()
                if not value:
                    value = None
                else:
                    if "\x00" in value:
                        raise LinkageInputError(
                            f"cell {index + 1} holds a NUL byte (a binary file?)",
                            source=source,
                            row=row_number,
                            column=_column_label(header[index]),
                        )
                    limit = limits[index]
                    if limit is not None and len(value) > limit:
                        raise LinkageInputError(
                            f"the value is longer than {limit:,} characters",
                            source=source,
                            row=row_number,
                            column=header[index],
                        )
                    memory = shared[index]
                    if memory is not None:
                        known = memory.get(value)
                        if known is not None:
                            value = known
                        elif len(memory) < _SHARED_VALUES:
                            memory[value] = value
                cells[index].append(value)
            for index in keys:
                value = cells[index][-1]
                if value is not None and value[0] in _FORMULA_STARTS and is_dangerous(value):
                    raise LinkageInputError(
                        "the value starts with =, +, - or @, which a spreadsheet would run "
                        "as a formula when it opens tiphub's output",
                        source=source,
                        row=row_number,
                        column=header[index],
                    )
            numbers.append(row_number)
    except csv.Error as problem:
        raise LinkageInputError(csv_problem(problem), source=source, row=row_number + 1) from None
    columns: dict[str, npt.NDArray[np.object_]] = {}
    for name, values in zip(header, cells, strict=True):
        held = np.empty(len(values), dtype=object)
        held[:] = values
        values.clear()
        columns[name] = held
    return columns, np.frombuffer(numbers, dtype=np.int64).copy()


def _check_values(frame: pd.DataFrame, rows: npt.NDArray[np.int64], source: str) -> None:
    for name in KEY_COLUMNS:
        missing = frame[name].isna().to_numpy().nonzero()[0]
        if len(missing):
            raise LinkageInputError(
                "the value is empty", source=source, row=int(rows[missing[0]]), column=name
            )
    duplicated = frame["record_id"].duplicated(keep="first").to_numpy().nonzero()[0]
    if len(duplicated):
        row = int(duplicated[0])
        first = int((frame["record_id"] == frame["record_id"].iloc[row]).to_numpy().argmax())
        raise LinkageInputError(
            f"record_id is not unique in this file (first seen on row {int(rows[first])})",
            source=source,
            row=int(rows[row]),
            column="record_id",
        )
    # An impossible date written as a date (a typed month of 21) is evidence to weigh, not
    # a reason to refuse the file; text that is no date at all is a misplaced column.
    for position, value in _first_per_value(frame["date_of_birth"]):
        if not is_date_shaped(value):
            raise LinkageInputError(
                "not an ISO date (YYYY, YYYY-MM or YYYY-MM-DD)",
                source=source,
                row=int(rows[position]),
                column="date_of_birth",
            )
    codes = _nationality_codes()
    for position, value in _first_per_value(frame["nationality"]):
        if value.upper() not in codes:
            raise LinkageInputError(
                "not an ISO 3166-1 alpha-3 country code",
                source=source,
                row=int(rows[position]),
                column="nationality",
            )


def _first_per_value(column: pd.Series) -> list[tuple[int, str]]:
    """(first position, value) of each distinct non-missing value, in order of position."""
    present = column.dropna()
    first = present[~present.duplicated(keep="first")]
    return [(int(position), str(value)) for position, value in zip(first.index, first, strict=True)]


# The model is trained on the records themselves (no labels): on fewer records EM has too
# few pairs to learn from, and u-probabilities from random pairs mean nothing.
MIN_RECORDS = 50
# Different combinations of identity values needed: the model learns from how people differ.
MIN_DISTINCT_IDENTITIES = 20
# Candidate pairs that blocking may generate (summed over the rules, an upper bound of
# their union). The demo's million records over five lists need about a third of this;
# above it a run takes hours and tens of gigabytes, and the cause is nearly always a
# placeholder value (one name or date typed into many records) or a record copied many times.
MAX_CANDIDATE_PAIRS = 1_000_000_000
_NAME_COLUMNS = ("given_name", "family_name", "full_name")


def check_linkable(records: RecordSet) -> None:
    """Refuse, with a reason and counts, records that the model cannot be trained on.

    Cheap checks on the raw values, run before anything large is built: enough records,
    names present, enough different identities, no name shared by so many records that
    comparing them would take hours.
    """
    frame = records.frame
    count = len(frame)
    if count < MIN_RECORDS:
        raise LinkageDataError(
            f"too few records to link: {count:,} given, at least {MIN_RECORDS} needed. The "
            "model is trained without labels on the records themselves; link all lists "
            "together in one run, or compare a handful of records by hand."
        )
    given = records.given_columns or IDENTITY_COLUMNS
    filled = [name for name in IDENTITY_COLUMNS if frame[name].notna().any()]
    if not filled:
        raise LinkageDataError(
            "no record holds any identity value: the column"
            + (" " if len(given) == 1 else "s ")
            + ", ".join(given)
            + (" is" if len(given) == 1 else " are")
            + " empty in every row."
        )
    if not any(name in filled for name in _NAME_COLUMNS):
        empty = [name for name in _NAME_COLUMNS if name in given] or list(_NAME_COLUMNS)
        raise LinkageDataError(
            "no record has a name ("
            + ", ".join(empty)
            + " empty or absent in every row): tiphub links people by their names, with "
            "dates of birth and the other columns as support."
        )
    distinct = _distinct_rows(frame, filled, enough=MIN_DISTINCT_IDENTITIES)
    if distinct < MIN_DISTINCT_IDENTITIES:
        raise LinkageDataError(
            f"the {count:,} records hold only {distinct:,} different combination"
            f"{'' if distinct == 1 else 's'} of identity values ({', '.join(filled)}); the "
            "model learns from how people differ and needs at least "
            f"{MIN_DISTINCT_IDENTITIES}. Is one record repeated?"
        )
    names: list[str] = [name for name in ("given_name", "family_name") if name in filled]
    codes = _combined_codes(frame, names or ["full_name"])
    sizes = np.bincount(codes[codes >= 0])
    same_name = int((sizes * (sizes - 1) // 2).sum())
    if same_name > MAX_CANDIDATE_PAIRS:
        raise LinkageDataError(
            f"{int(sizes.max()):,} records have the very same name, which alone makes "
            f"{same_name:,} pairs to compare, more than the limit of {MAX_CANDIDATE_PAIRS:,}. "
            "A placeholder name typed into many records, or one record copied many times, "
            "does this; correct those records or link fewer at once."
        )


def _combined_codes(frame: pd.DataFrame, columns: Sequence[str]) -> npt.NDArray[np.int64]:
    """One code per row for its combination of values in ``columns``; -1 if any is missing.

    Built column by column from integer codes, so that a million rows cost a few arrays of
    integers rather than a copy of the strings.
    """
    combined = np.zeros(len(frame), dtype=np.int64)
    for name in columns:
        codes, uniques = pd.factorize(frame[name])
        missing = (codes < 0) | (combined < 0)
        combined = combined * (len(uniques) + 1) + codes
        combined[missing] = -1
        # Renumbered after each column so that the products stay small; hashing, not
        # sorting, as a sort of a million keys takes several copies of them.
        combined = pd.factorize(combined)[0].astype(np.int64, copy=False)
        combined[missing] = -1
    return combined


def _distinct_rows(frame: pd.DataFrame, columns: Sequence[str], enough: int) -> int:
    """Distinct combinations of values in ``columns`` (a missing value counts as a value);
    counting stops at ``enough`` when one column alone has that many."""
    combined = np.zeros(len(frame), dtype=np.int64)
    for name in columns:
        codes, uniques = pd.factorize(frame[name], use_na_sentinel=False)
        if len(uniques) >= enough:
            return len(uniques)
        combined = combined * (len(uniques) + 1) + codes
        combined = pd.factorize(combined)[0].astype(np.int64, copy=False)
    return int(combined.max()) + 1 if len(combined) else 0


def _mapped(column: pd.Series, function: object) -> pd.Series:
    """Apply a function once per distinct value: names repeat, and this is the hot path."""
    distinct = column.dropna().unique()
    lookup = {value: function(value) for value in distinct}  # type: ignore[operator]
    return column.map(lookup).astype(object).where(column.notna(), None)


def prepare(frame: pd.DataFrame) -> pd.DataFrame:
    """The derived comparison and blocking columns, keyed by ``unique_id`` (row position)."""
    given = _mapped(frame["given_name"], normalise_name)
    family = _mapped(frame["family_name"], normalise_name)
    full = _mapped(frame["full_name"], normalise_name)
    split = full.map(lambda text: split_full_name(text) if text else (None, None))
    given = given.where(given.notna(), split.map(lambda pair: pair[0]))
    family = family.where(family.notna(), split.map(lambda pair: pair[1]))

    prepared = pd.DataFrame({"unique_id": np.arange(len(frame), dtype=np.int64)})
    prepared["given_std"] = given.to_numpy()
    prepared["family_std"] = family.to_numpy()
    prepared["given_sk"] = _mapped(given, skeleton).to_numpy()
    prepared["family_sk"] = _mapped(family, skeleton).to_numpy()
    prepared["given_ph"] = _mapped(given, phonetic).to_numpy()
    prepared["family_ph"] = _mapped(family, phonetic).to_numpy()

    dates = _mapped(frame["date_of_birth"], parse_lenient_date)
    for index, name in enumerate(("dob_year", "dob_month", "dob_day")):
        parts = dates.map(lambda value, i=index: value[i] if value else None)
        prepared[name] = pd.array(parts.tolist(), dtype="Int64")
    prepared["dob"] = _mapped(frame["date_of_birth"], _full_date).to_numpy()

    prepared["sex"] = frame["sex"].map(lambda v: _SEX_CODES.get(v.lower(), "x") if v else None)
    prepared["nationality"] = frame["nationality"].map(lambda v: v.upper() if v else None)
    prepared["place_sk"] = _mapped(_mapped(frame["place_of_birth"], normalise_name), skeleton)
    prepared["identifier"] = _mapped(frame["identifier"], normalise_identifier).to_numpy()
    prepared["address"] = _mapped(frame["address"], normalise_name).to_numpy()
    prepared["postcode"] = _mapped(frame["postcode"], normalise_identifier).to_numpy()
    prepared["city"] = _mapped(_mapped(frame["city"], normalise_name), skeleton).to_numpy()
    prepared["list"] = frame["list"].to_numpy()
    both = prepared["given_sk"].notna() & prepared["family_sk"].notna()
    prepared["name_sk"] = (prepared["given_sk"] + " " + prepared["family_sk"]).where(both, None)

    initials = prepared["given_sk"].str[:1].fillna("") + prepared["family_sk"].str[:1].fillna("")
    year = prepared["dob_year"].astype("string")
    prepared["initials_year"] = (initials + ":" + year).where(
        (initials.str.len() > 0) & year.notna(), None
    )
    signature = _name_signature_text(prepared)
    # Every name part in one field, sorted: "Thi Lan Nguyen" and "Nguyen Thi Lan" agree
    # whichever parts went into the given and the family field.
    prepared["name_tokens"] = np.array(signature, dtype=object)
    # The rarest parts on their own, for "two parts shared": a middle name or a second
    # surname dropped by one agency ("Ana Sophia / Macedo" and "Ana Sophia Maria / Silva
    # Macedo"). Plain columns compared by equality: a list column made scoring a million
    # records twice as slow.
    for position, column in enumerate(rarest_name_parts(signature), start=1):
        prepared[f"name_part_{position}"] = column
    bands = minhash_bands(signature)
    for band in range(bands.shape[1]):
        keys = bands[:, band]
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        column = pd.array(keys, dtype="Int64")
        column[(keys == 0) | (counts[inverse] > LSH_MAX_BUCKET)] = pd.NA
        prepared[f"lsh_{band}"] = column
    for name, columns in EVIDENCE_BLOCKS.items():
        prepared[name] = _capped_block_key(prepared, columns)
    for name, columns in NAME_BLOCKS.items():
        prepared[name] = _refined_block_key(prepared, columns)
    return prepared


# Name blocks larger than this are split by birth year, then month, then sex and
# nationality, and what is still larger is dropped from that rule: "Nguyen Thi Lan" is
# thousands of records in a million, and comparing them all would cost quadratic time and
# memory for pairs that the other rules (dates with nationality, the name index) find.
# Below the size, blocking is exactly the plain rule, so small files are unaffected.
MAX_NAME_BLOCK = 50
NAME_BLOCKS: dict[str, tuple[str, ...]] = {
    "block_names_sound": ("given_ph", "family_ph"),
    "block_family_year": ("family_sk", "dob_year"),
    "block_initials_year": ("initials_year",),
}
_REFINEMENTS: tuple[tuple[str, ...], ...] = (("dob_year",), ("dob_month",), ("sex", "nationality"))


def _refined_block_key(
    prepared: pd.DataFrame, columns: Sequence[str], limit: int = MAX_NAME_BLOCK
) -> pd.Series:
    """A block number per record on ``columns``, oversized blocks split by the refinements.

    Missing where a key value is missing or a block stays above ``limit`` after every split.
    """
    key = np.full(len(prepared), -1, dtype=np.int64)
    pending = np.ones(len(prepared), dtype=bool)
    used: list[str] = []
    next_number = 0
    for added in ((), *_REFINEMENTS):
        used.extend(name for name in (*columns, *added) if name not in used)
        rows = np.flatnonzero(pending)
        if not len(rows):
            break
        groups = prepared.iloc[rows].groupby(used, sort=False, dropna=True).ngroup()
        number = groups.fillna(-1).to_numpy(np.int64)
        sizes = np.bincount(number[number >= 0], minlength=1)
        small = (number >= 0) & (sizes[np.maximum(number, 0)] <= limit)
        key[rows[small]] = number[small] + next_number
        next_number += len(sizes)
        # Rows missing a value of this step's columns cannot be placed by a finer one.
        pending[rows[(number < 0) | small]] = False
    column = pd.array(key, dtype="Int64")
    column[key < 0] = pd.NA
    return pd.Series(column, index=prepared.index)


# Blocks on shared evidence (an identifier, an address, a postcode, a date of birth with a
# nationality, a city with a birth year), each keyed by one integer column. A key shared by
# more records than this is a placeholder ("unknown", a shelter's address) that tells
# nobody apart, and comparing all its pairs would cost quadratic time and memory; such a
# block is dropped, as oversized buckets of the name index are. The names keep their own
# rules. (The demo's million records have no evidence block above a few hundred.)
MAX_EVIDENCE_BLOCK = 1_000
EVIDENCE_BLOCKS: dict[str, tuple[str, ...]] = {
    "block_identifier": ("identifier",),
    "block_dob_nationality": ("dob", "nationality"),
    "block_postcode": ("postcode",),
    "block_address": ("address",),
    "block_city_year": ("city", "dob_year"),
}


def _capped_block_key(prepared: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The group number of each record on ``columns``; missing where any value is missing
    or the group holds more than ``MAX_EVIDENCE_BLOCK`` records."""
    groups = prepared.groupby(list(columns), sort=False, dropna=True).ngroup()
    # Rows with a missing value belong to no group (NaN).
    number = groups.fillna(-1).to_numpy(np.int64)
    sizes = np.bincount(number[number >= 0], minlength=1)
    keep = (number >= 0) & (sizes[np.maximum(number, 0)] <= MAX_EVIDENCE_BLOCK)
    key = pd.array(number, dtype="Int64")
    key[~keep] = pd.NA
    return pd.Series(key, index=prepared.index)


def _full_date(text: str | None) -> str | None:
    year, month, day = parse_lenient_date(text)
    if year is None or month is None or day is None:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def impossible_dates(frame: pd.DataFrame) -> int:
    """Records whose date of birth is written as a date but impossible as one (2086-21-01):
    linked on what of it is possible, and counted in the run's report."""
    possible = _mapped(frame["date_of_birth"], is_possible_date)
    # Missing values map to None: neither possible nor impossible.
    return int(possible.eq(False).sum())


NAME_PARTS_COMPARED = 4


def rarest_name_parts(signatures: Sequence[str | None]) -> list[npt.NDArray[np.object_]]:
    """Each record's :data:`NAME_PARTS_COMPARED` rarest name parts in the file (rarest
    first, ties by spelling), as that many columns; None where a name has fewer parts.

    The rarest, so that "Nguyen" and "Thi", which half a Vietnamese list shares, are the
    parts left out of a long name; but a part no other record has comes last, since it
    cannot be shared (it is often the very middle name another agency dropped).
    """
    # Records repeat names: the parts are counted per record but chosen per distinct name.
    codes, distinct = pd.factorize(pd.Series(signatures, dtype=object), use_na_sentinel=True)
    split = [text.split() for text in distinct]
    records_per_name = np.bincount(codes[codes >= 0], minlength=len(distinct))
    counts: Counter[str] = Counter()
    for parts, records in zip(split, records_per_name.tolist(), strict=True):
        for part in set(parts):
            counts[part] += records

    def order(part: str) -> tuple[bool, int, str]:
        return counts[part] == 1, counts[part], part

    chosen = np.full((len(distinct) + 1, NAME_PARTS_COMPARED), None, dtype=object)
    for index, parts in enumerate(split):
        for position, part in enumerate(sorted(set(parts), key=order)[:NAME_PARTS_COMPARED]):
            chosen[index, position] = part
    # The sentinel -1 picks the last row, which stays empty.
    return [chosen[codes, position] for position in range(NAME_PARTS_COMPARED)]


def _name_signature_text(prepared: pd.DataFrame) -> list[str | None]:
    """Both name parts' skeleton tokens, sorted, so that swapped given/family still agree."""
    names = prepared[["given_std", "family_std"]].astype(object)
    codes, distinct = pd.MultiIndex.from_frame(names.fillna("")).factorize()
    texts: list[str | None] = []
    for given, family in distinct:
        tokens = sorted(skeleton(token) or "" for token in f"{given} {family}".split())
        text = " ".join(token for token in tokens if token)
        texts.append(text if len(text) >= 3 else None)
    by_name = np.array(texts, dtype=object)
    return list(by_name[codes])


def _bigram_ids(text: str) -> list[int]:
    padded = f"_{text}_"
    return [zlib.crc32(padded[i : i + 2].encode()) for i in range(len(padded) - 1)]


_PRIME = (1 << 61) - 1


def minhash_bands(
    texts: Iterable[str | None], bands: int = LSH_BANDS, rows: int = LSH_ROWS, seed: int = 20261123
) -> np.ndarray:
    """MinHash signatures of each text's bigram set, hashed into one key per band.

    Returns an ``(n, bands)`` int64 array; 0 marks a missing text. Computed once per distinct
    text and vectorised over all bigrams, so a million records take seconds.
    """
    text_list = list(texts)
    distinct = sorted({text for text in text_list if text})
    out = np.zeros((len(text_list), bands), dtype=np.int64)
    if not distinct:
        return out
    owners: list[int] = []
    grams: list[int] = []
    for index, text in enumerate(distinct):
        ids = _bigram_ids(text)
        owners.extend([index] * len(ids))
        grams.extend(ids)
    owner_array = np.asarray(owners, dtype=np.int64)
    gram_array = np.asarray(grams, dtype=np.uint64)
    starts = np.flatnonzero(np.r_[True, owner_array[1:] != owner_array[:-1]])
    rng = np.random.default_rng(seed)
    n_hashes = bands * rows
    multipliers = rng.integers(1, 1 << 31, size=n_hashes, dtype=np.uint64)
    offsets = rng.integers(0, 1 << 31, size=n_hashes, dtype=np.uint64)
    signature = np.empty((len(distinct), n_hashes), dtype=np.uint64)
    for h in range(n_hashes):
        # 32-bit inputs times 31-bit multipliers stay below 2^63: no overflow before the mod.
        hashed = (gram_array * multipliers[h] + offsets[h]) % np.uint64(_PRIME)
        signature[:, h] = np.minimum.reduceat(hashed, starts)
    band_keys = np.empty((len(distinct), bands), dtype=np.int64)
    for band in range(bands):
        block = np.ascontiguousarray(signature[:, band * rows : (band + 1) * rows])
        mixed = np.zeros(len(distinct), dtype=np.uint64)
        for column in range(rows):
            mixed = mixed * np.uint64(1_000_003) ^ block[:, column]
        # Keep keys positive and non-zero (0 means missing).
        band_keys[:, band] = (mixed >> np.uint64(2)).astype(np.int64) + 1
    index_of = pd.Series(np.arange(len(distinct)), index=pd.Index(distinct, dtype=object))
    positions = index_of.reindex(pd.Index(text_list, dtype=object)).to_numpy(dtype=float)
    present = ~np.isnan(positions)
    out[present] = band_keys[positions[present].astype(np.int64)]
    return out
