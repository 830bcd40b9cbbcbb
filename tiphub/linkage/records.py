"""Person records to link: reading and checking the input files, and the derived keys.

The input contract (``tiphub link PATH...``): a CSV with ``record_id`` (unique per file),
``list`` (the agency or source) and any of the identity columns below; other columns pass
through; empty cells are missing values. Errors name the file, the row and the column, never
the value, because the values are names of trafficking survivors.
"""

from __future__ import annotations

import csv
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pycountry

from tiphub.errors import LocatedError
from tiphub.linkage.normalise import (
    normalise_identifier,
    normalise_name,
    parse_partial_date,
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


@dataclass(frozen=True)
class RecordSet:
    """Checked input records: one row per record, in input order, identity columns as text."""

    frame: pd.DataFrame
    sources: tuple[str, ...]

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


def read_records(paths: Sequence[Path]) -> RecordSet:
    """Read and check every input file; all-or-nothing: the first problem raises."""
    frames = []
    seen_ids: dict[str, tuple[str, int]] = {}
    for path in paths:
        frame = _read_one(path)
        for position, record_id in enumerate(frame["record_id"].tolist()):
            row = position + 2
            if record_id in seen_ids:
                other_source, other_row = seen_ids[record_id]
                raise LinkageInputError(
                    f"record_id is not unique: the same ID is on {other_source}, row {other_row}",
                    source=str(path),
                    row=row,
                    column="record_id",
                )
            seen_ids[record_id] = (str(path), row)
        frames.append(frame)
    if not frames:
        raise LinkageInputError("no input files were given", source="<input>")
    combined = pd.concat(frames, ignore_index=True)
    return RecordSet(combined, tuple(str(path) for path in paths))


def _read_one(path: Path) -> pd.DataFrame:
    source = str(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            rows = list(reader)
    except FileNotFoundError:
        raise LinkageInputError("file not found", source=source) from None
    except UnicodeDecodeError:
        raise LinkageInputError("the file is not UTF-8 text", source=source) from None
    except csv.Error as error:
        raise LinkageInputError(f"not a readable CSV file ({error})", source=source) from None
    if header is None:
        raise LinkageInputError("the file is empty", source=source)
    header = [name.strip() for name in header]
    for name in KEY_COLUMNS:
        if name not in header:
            raise LinkageInputError(f"the required column '{name}' is missing", source=source)
    if len(set(header)) != len(header):
        raise LinkageInputError("a column name appears twice in the header", source=source)
    if not any(name in header for name in IDENTITY_COLUMNS):
        raise LinkageInputError(
            "no identity column: give at least one of " + ", ".join(IDENTITY_COLUMNS),
            source=source,
        )
    for position, row in enumerate(rows):
        if len(row) != len(header):
            raise LinkageInputError(
                f"the row has {len(row)} cells but the header has {len(header)}",
                source=source,
                row=position + 2,
            )
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    frame = frame.apply(lambda column: column.str.strip())
    frame = frame.replace("", None)
    for name in IDENTITY_COLUMNS:
        if name not in frame.columns:
            frame[name] = None
    _check_values(frame, source)
    frame["source_file"] = source
    return frame


def _check_values(frame: pd.DataFrame, source: str) -> None:
    for name in KEY_COLUMNS:
        missing = frame[name].isna().to_numpy().nonzero()[0]
        if len(missing):
            raise LinkageInputError(
                "the value is empty", source=source, row=int(missing[0]) + 2, column=name
            )
    duplicated = frame["record_id"].duplicated(keep="first").to_numpy().nonzero()[0]
    if len(duplicated):
        row = int(duplicated[0])
        first = int((frame["record_id"] == frame["record_id"].iloc[row]).to_numpy().argmax())
        raise LinkageInputError(
            f"record_id is not unique in this file (first seen on row {first + 2})",
            source=source,
            row=row + 2,
            column="record_id",
        )
    for position, value in enumerate(frame["date_of_birth"].tolist()):
        if value is not None and parse_partial_date(value) is None:
            raise LinkageInputError(
                "not an ISO date (YYYY, YYYY-MM or YYYY-MM-DD)",
                source=source,
                row=position + 2,
                column="date_of_birth",
            )
    codes = _nationality_codes()
    for position, value in enumerate(frame["nationality"].tolist()):
        if value is not None and value.upper() not in codes:
            raise LinkageInputError(
                "not an ISO 3166-1 alpha-3 country code",
                source=source,
                row=position + 2,
                column="nationality",
            )


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

    dates = _mapped(frame["date_of_birth"], parse_partial_date)
    for index, name in enumerate(("dob_year", "dob_month", "dob_day")):
        parts = dates.map(lambda value, i=index: value[i] if value else None)
        prepared[name] = pd.array(parts.tolist(), dtype="Int64")
    prepared["dob"] = frame["date_of_birth"].map(_full_date).to_numpy()

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
    bands = minhash_bands(_name_signature_text(prepared))
    for band in range(bands.shape[1]):
        keys = bands[:, band]
        _, inverse, counts = np.unique(keys, return_inverse=True, return_counts=True)
        column = pd.array(keys, dtype="Int64")
        column[(keys == 0) | (counts[inverse] > LSH_MAX_BUCKET)] = pd.NA
        prepared[f"lsh_{band}"] = column
    return prepared


def _full_date(text: str | None) -> str | None:
    parsed = parse_partial_date(text)
    if not parsed or None in parsed:
        return None
    year, month, day = parsed
    return f"{year:04d}-{month:02d}-{day:02d}"


def _name_signature_text(prepared: pd.DataFrame) -> list[str | None]:
    """Both name parts' skeleton tokens, sorted, so that swapped given/family still agree."""
    texts: list[str | None] = []
    for given, family in zip(
        prepared["given_std"].tolist(), prepared["family_std"].tolist(), strict=True
    ):
        tokens = sorted(skeleton(token) or "" for token in f"{given or ''} {family or ''}".split())
        text = " ".join(token for token in tokens if token)
        texts.append(text if len(text) >= 3 else None)
    return texts


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
    index_of = {value: i for i, value in enumerate(distinct)}
    for position, maybe_text in enumerate(text_list):
        if maybe_text:
            out[position] = band_keys[index_of[maybe_text]]
    return out
