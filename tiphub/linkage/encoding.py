"""Privacy-preserving linkage on hardened Bloom-filter encodings (CLKs).

DOCSTRING-PLACEHOLDER
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import hmac
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from numba import njit, prange
from unidecode import unidecode

from tiphub.linkage.normalise import (
    normalise_identifier,
    normalise_name,
    parse_partial_date,
    phonetic,
    skeleton,
    split_full_name,
)

Bits = npt.NDArray[np.uint64]
Index = npt.NDArray[np.int64]
Scores = npt.NDArray[np.float64]

SCHEME = "tiphub-clk"
SCHEME_VERSION = 1
ENCODED_COLUMNS: tuple[str, ...] = ("record_id", "list", "scheme", "encoding")
MIN_SECRET_BYTES = 16

# The encoded identity fields, in the order they are hashed into the filter.
FIELDS: tuple[str, ...] = (
    "given_name",
    "family_name",
    "sex",
    "date_of_birth",
    "nationality",
    "place_of_birth",
    "identifier",
    "address",
    "postcode",
    "city",
)

# Hash functions per token of each field: the field's weight in the Dice score.
DEFAULT_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        "given_name": 12,
        "family_name": 12,
        "sex": 8,
        "date_of_birth": 12,
        "nationality": 8,
        "place_of_birth": 6,
        "identifier": 10,
        "address": 6,
        "postcode": 8,
        "city": 6,
    }
)

# Salt name -> the input field it is derived from (that field itself is not salted).
SALT_FIELDS: Mapping[str, str] = MappingProxyType(
    {"year_of_birth": "date_of_birth", "sex": "sex", "nationality": "nationality"}
)

_MAX_WEIGHT = 64
_CHUNK_RECORDS = 16_384
_PAIR_BLOCK_CELLS = 1 << 22


class EncodingError(ValueError):
    """A problem with an encoding input or file, located by file, row (1 = header), column.

    Messages never quote values: encoded files stand in for survivors' identities.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        where = [part for part in (source,) if part]
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column '{column}'")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)
        self.source = source
        self.row = row
        self.column = column


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class EncodingConfig:
    """How records become bit vectors. Every party of a linkage must use the same one.

    * ``bits``: length of the record-level Bloom filter before folding or balancing.
    * ``weights``: hash functions per token for each field; 0 or absent leaves it out.
    * ``keyed``: positions from HMAC-SHA256 under a key derived from the secret. Off only to
      demonstrate attacks: then anyone can recompute every position.
    * ``salt_field``: ``"year_of_birth"``, ``"sex"``, ``"nationality"`` or ``None``; mixed
      into every other field's HMAC input, so a salt typo means the record cannot link.
    * ``diffusion_taps``: each output bit is the XOR of this many input bits, chosen by
      key-seeded permutations (0 = no diffusion).
    * ``fold``: XOR the two halves (halves the length).
    * ``balance``: append the complement, so every filter has exactly half its bits set.
    """

    bits: int = 1024
    weights: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    keyed: bool = True
    salt_field: str | None = None
    diffusion_taps: int = 3
    fold: bool = False
    balance: bool = True

    def __post_init__(self) -> None:
        unit = 128 if self.fold else 64
        if self.bits < unit or self.bits % unit:
            raise EncodingError(f"bits must be a positive multiple of {unit}")
        unknown = sorted(set(self.weights) - set(FIELDS))
        if unknown:
            raise EncodingError(f"unknown fields in weights: {', '.join(unknown)}")
        for name, weight in self.weights.items():
            if not isinstance(weight, int) or not 0 <= weight <= _MAX_WEIGHT:
                raise EncodingError(f"weight of {name} must be an integer in 0..{_MAX_WEIGHT}")
        if not any(self.weights.values()):
            raise EncodingError("at least one field needs a positive weight")
        if self.salt_field is not None and self.salt_field not in SALT_FIELDS:
            raise EncodingError(f"salt_field must be one of {', '.join(SALT_FIELDS)} or None")
        if not 0 <= self.diffusion_taps <= 16:
            raise EncodingError("diffusion_taps must be in 0..16")
        # A private copy: a caller mutating its dict must not change a scheme in use.
        object.__setattr__(self, "weights", MappingProxyType(dict(self.weights)))

    @property
    def output_bits(self) -> int:
        length = self.bits // 2 if self.fold else self.bits
        return length * 2 if self.balance else length

    def as_dict(self) -> dict[str, Any]:
        return {
            "scheme": SCHEME,
            "version": SCHEME_VERSION,
            "bits": self.bits,
            "weights": {name: self.weights[name] for name in FIELDS if name in self.weights},
            "keyed": self.keyed,
            "salt_field": self.salt_field,
            "diffusion_taps": self.diffusion_taps,
            "fold": self.fold,
            "balance": self.balance,
            "output_bits": self.output_bits,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EncodingConfig:
        if data.get("scheme") != SCHEME or data.get("version") != SCHEME_VERSION:
            raise EncodingError(f"not a {SCHEME} version {SCHEME_VERSION} configuration")
        try:
            return cls(
                bits=int(data["bits"]),
                weights={str(k): int(v) for k, v in dict(data["weights"]).items()},
                keyed=bool(data["keyed"]),
                salt_field=data["salt_field"],
                diffusion_taps=int(data["diffusion_taps"]),
                fold=bool(data["fold"]),
                balance=bool(data["balance"]),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise EncodingError(f"incomplete or invalid configuration ({error})") from None


def _derive(secret: bytes, label: str) -> bytes:
    return hmac.new(secret, f"{SCHEME}/{SCHEME_VERSION} {label}".encode(), "sha256").digest()


def key_check(secret: bytes) -> str:
    """A short public value that tells whether two parties hold the same secret.

    It also lets anyone test guesses of the secret offline, hence the random-secret rule.
    """
    return _derive(secret, "key check")[:8].hex()


def _scheme_dict(config: EncodingConfig, secret: bytes) -> dict[str, Any]:
    data = config.as_dict()
    data["key_check"] = key_check(secret) if config.keyed else None
    return data


def scheme_id(config_dict: Mapping[str, Any]) -> str:
    """The identifier written on every encoded row: a digest of the full configuration."""
    canonical = json.dumps(dict(config_dict), sort_keys=True, separators=(",", ":"))
    return f"{SCHEME}{SCHEME_VERSION}-{hashlib.sha256(canonical.encode()).hexdigest()[:16]}"


# --------------------------------------------------------------------------------------------
# Field values and their tokens

_SEX = {"m": "m", "male": "m", "man": "m", "masculine": "m"}
_SEX |= {"f": "f", "female": "f", "woman": "f", "feminine": "f"}
_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def _text(value: object) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _canon_sex(text: str) -> str | None:
    return _SEX.get(text.lower(), "x")


def _canon_upper(text: str) -> str | None:
    return text.strip().upper() or None


def _canon_place(text: str) -> str | None:
    return skeleton(normalise_name(text))


def _canon_address(text: str) -> str | None:
    # Unlike names, house numbers matter in an address.
    cleaned = _NOT_ALNUM.sub(" ", unidecode(text).lower()).split()
    return " ".join(cleaned) or None


def _canon_date(text: str) -> str | None:
    parsed = parse_partial_date(text)
    if parsed is None:
        raise ValueError("not an ISO date")
    year, month, day = parsed
    if year is None:
        return None
    return f"{year}-{month or ''}-{day or ''}"


def _qgrams(text: str, q: int = 2) -> list[str]:
    padded = f"_{text.replace(' ', '_')}_"
    return [padded[i : i + q] for i in range(len(padded) - q + 1)]


def _name_tokens(name: str) -> list[str]:
    # Skeleton and phonetic code as whole tokens pull transliterations together even when
    # their bigrams differ (Kowalenko / Kovalenko).
    tokens = _qgrams(name)
    for tag, extra in (("~s", skeleton(name)), ("~p", phonetic(name))):
        if extra:
            tokens.append(tag + extra)
    return tokens


def _date_tokens(canonical: str) -> list[str]:
    year, month, day = canonical.split("-")
    tokens = [f"y{year}"]
    if month:
        tokens += [f"m{month}", f"ym{year}-{month}"]
    if day:
        tokens.append(f"d{day}")
    if month and day:
        # Unordered month/day: a swapped day and month still share this token.
        low, high = sorted((int(month), int(day)))
        tokens.append(f"md{low}-{high}")
    return tokens


def _single_token(canonical: str) -> list[str]:
    return [canonical]


@dataclass(frozen=True)
class _FieldRule:
    canonical: Any  # Callable[[str], str | None]; Any keeps lru_cache'd helpers acceptable.
    tokens: Any  # Callable[[str], list[str]]


_RULES: Mapping[str, _FieldRule] = MappingProxyType(
    {
        "given_name": _FieldRule(normalise_name, _name_tokens),
        "family_name": _FieldRule(normalise_name, _name_tokens),
        "sex": _FieldRule(_canon_sex, _single_token),
        "date_of_birth": _FieldRule(_canon_date, _date_tokens),
        "nationality": _FieldRule(_canon_upper, _single_token),
        "place_of_birth": _FieldRule(_canon_place, _qgrams),
        "identifier": _FieldRule(normalise_identifier, _qgrams),
        "address": _FieldRule(_canon_address, _qgrams),
        "postcode": _FieldRule(normalise_identifier, _qgrams),
        "city": _FieldRule(_canon_place, _qgrams),
    }
)


def _canonical_column(frame: pd.DataFrame, name: str, row_offset: int) -> npt.NDArray[Any]:
    """Canonical value per record (object array, None = missing), computed once per value."""
    if name not in frame.columns:
        return np.full(len(frame), None, dtype=object)
    codes, uniques = pd.factorize(frame[name], use_na_sentinel=True)
    rule = _RULES[name]
    canonical: list[str | None] = []
    for value in uniques:
        text = _text(value)
        try:
            canonical.append(rule.canonical(text) if text else None)
        except ValueError:
            row = int(np.flatnonzero(codes == len(canonical))[0]) + row_offset
            raise EncodingError("the value is not valid", row=row, column=name) from None
    lookup = np.array([*canonical, None], dtype=object)
    return lookup[codes]


def _canonical_values(frame: pd.DataFrame, row_offset: int) -> dict[str, npt.NDArray[Any]]:
    values = {name: _canonical_column(frame, name, row_offset) for name in FIELDS}
    if "full_name" in frame.columns:
        full = _canonical_column_as_name(frame["full_name"])
        for slot, name in enumerate(("given_name", "family_name")):
            missing = np.array([value is None for value in values[name]], dtype=bool)
            fill = missing & np.array([value is not None for value in full], dtype=bool)
            for position in np.flatnonzero(fill):
                values[name][position] = split_full_name(full[position])[slot]
    return values


def _canonical_column_as_name(column: pd.Series) -> npt.NDArray[Any]:
    codes, uniques = pd.factorize(column, use_na_sentinel=True)
    lookup = np.array([*(normalise_name(_text(value)) for value in uniques), None], dtype=object)
    return lookup[codes]


def _salt_values(values: Mapping[str, npt.NDArray[Any]], salt_field: str | None) -> list[str]:
    n_records = len(values["given_name"])
    if salt_field is None:
        return [""] * n_records
    source = values[SALT_FIELDS[salt_field]]
    if salt_field == "year_of_birth":
        return [value.split("-")[0] if value else "" for value in source]
    return [value or "" for value in source]


# --------------------------------------------------------------------------------------------
# Hashing tokens to bit positions


class _FieldHasher:
    """Bit positions of one field's tokens, hashed once per distinct (salt, token)."""

    def __init__(self, secret: bytes, name: str, config: EncodingConfig) -> None:
        self.weight = config.weights.get(name, 0)
        self._bits = config.bits
        self._blocks = -(-self.weight // 8)  # a SHA-256 digest gives eight 32-bit positions
        label = f"field {name}"
        self._mac = hmac.new(_derive(secret, label), digestmod="sha256") if config.keyed else None
        self._prefix = f"{SCHEME}/{SCHEME_VERSION} {label}\x1f".encode()
        self._ids: dict[str, int] = {}
        self._table = np.empty((0, self.weight), dtype=np.int64)

    @property
    def table(self) -> Index:
        return self._table

    def _digest(self, message: bytes) -> bytes:
        if self._mac is None:
            return hashlib.sha256(self._prefix + message).digest()
        mac = self._mac.copy()
        mac.update(message)
        return mac.digest()

    def ids(self, messages: list[str]) -> Index:
        """Row of each message in ``table``, hashing the ones not seen before."""
        fresh = [message for message in dict.fromkeys(messages) if message not in self._ids]
        if fresh:
            chunks = bytearray()
            for message in fresh:
                raw = message.encode()
                chunks += self._digest(raw)
                for block in range(1, self._blocks):
                    chunks += self._digest(raw + bytes((0x1F, block)))
            words = np.frombuffer(bytes(chunks), dtype="<u4").reshape(len(fresh), -1)
            positions = (words[:, : self.weight] % np.uint32(self._bits)).astype(np.int64)
            start = len(self._table)
            self._table = np.concatenate([self._table, positions])
            self._ids.update((message, start + i) for i, message in enumerate(fresh))
        return np.fromiter((self._ids[m] for m in messages), dtype=np.int64, count=len(messages))


def _set_field_bits(
    matrix: npt.NDArray[np.bool_],
    canonical: npt.NDArray[Any],
    salts: list[str],
    hasher: _FieldHasher,
    tokenise: Any,
) -> None:
    """Set every record's bits for one field, tokenising each distinct (salt, value) once."""
    present = np.flatnonzero(np.array([value is not None for value in canonical], dtype=bool))
    if not len(present):
        return
    keys = [f"{salts[i]}\x1f{canonical[i]}" for i in present]
    codes, distinct = pd.factorize(pd.Series(keys, dtype=object))
    token_lists: list[list[str]] = []
    for key in distinct:
        salt, value = key.split("\x1f", 1)
        token_lists.append([f"{salt}\x1f{token}" for token in tokenise(value)])
    lengths = np.array([len(tokens) for tokens in token_lists], dtype=np.int64)
    token_ids = hasher.ids([token for tokens in token_lists for token in tokens])
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    record_lengths = lengths[codes]
    rows = np.repeat(present, record_lengths)
    # Position of each record's k-th token inside the flat token list of its distinct value.
    within = np.arange(len(rows)) - np.repeat(
        np.cumsum(record_lengths) - record_lengths, record_lengths
    )
    flat = token_ids[np.repeat(starts[codes], record_lengths) + within]
    positions = hasher.table[flat]
    matrix[rows[:, None], positions] = True


# --------------------------------------------------------------------------------------------
# Hardening transforms on the unpacked filter


def _diffusion_taps(secret: bytes, config: EncodingConfig) -> Index:
    """(taps, bits) input positions: output bit j = XOR of input bits taps[:, j].

    Each round is a permutation, so every input bit feeds exactly ``taps`` outputs; an output
    never draws the same input twice (a repeated tap would cancel itself in the XOR).
    """
    label = "diffusion"
    seed_bytes = _derive(secret, label) if config.keyed else hashlib.sha256(label.encode()).digest()
    rng = np.random.Generator(np.random.PCG64(int.from_bytes(seed_bytes[:16], "little")))
    rounds = [rng.permutation(config.bits).astype(np.int64)]
    for _ in range(1, config.diffusion_taps):
        rounds.append(_permutation_avoiding(rng, config.bits, np.stack(rounds)))
    return np.stack(rounds)


def _permutation_avoiding(rng: np.random.Generator, bits: int, previous: Index) -> Index:
    candidate = rng.permutation(bits).astype(np.int64)
    for _ in range(1000):
        clash = np.flatnonzero((previous == candidate).any(axis=0))
        if not len(clash):
            return candidate
        partners = rng.integers(0, bits, size=len(clash))
        candidate[clash], candidate[partners] = candidate[partners], candidate[clash].copy()
    raise EncodingError("could not draw diffusion taps; lower diffusion_taps")


def _pack(matrix: npt.NDArray[np.bool_]) -> Bits:
    packed = np.packbits(matrix, axis=1, bitorder="little")
    return packed.view("<u8").astype(np.uint64, copy=False)


def _harden(matrix: npt.NDArray[np.bool_], taps: Index | None, config: EncodingConfig) -> Bits:
    empty = ~matrix.any(axis=1)
    if taps is not None:
        diffused = matrix[:, taps[0]]
        for tap in taps[1:]:
            diffused ^= matrix[:, tap]
        matrix = diffused
    words = _pack(matrix)
    if config.fold:
        half = words.shape[1] // 2
        words = words[:, :half] ^ words[:, half:]
    if config.balance:
        words = np.concatenate([words, ~words], axis=1)
    # A record without any identity value must not look like every other such record.
    words[empty] = 0
    return np.ascontiguousarray(words)


# --------------------------------------------------------------------------------------------
# Encoding


@dataclass(frozen=True)
class EncodedRecords:
    """Encoded records: ``bits`` is (n, words) uint64, bit p in word p // 64 at p % 64."""

    record_ids: list[str]
    lists: list[str]
    bits: Bits
    config: dict[str, Any]

    def __len__(self) -> int:
        return len(self.record_ids)

    @property
    def scheme(self) -> str:
        return scheme_id(self.config)

    def write_csv(self, path: Path | str) -> None:
        """Write ``PATH`` (record_id, list, scheme, encoding) and the scheme in ``PATH.json``."""
        path = Path(path)
        scheme = self.scheme
        little = self.bits.astype("<u8", copy=False)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(ENCODED_COLUMNS)
            for record_id, list_name, row in zip(self.record_ids, self.lists, little, strict=True):
                writer.writerow(
                    (record_id, list_name, scheme, base64.b64encode(row.tobytes()).decode())
                )
        sidecar = {"scheme_id": scheme, "records": len(self), "config": self.config}
        metadata_path(path).write_text(json.dumps(sidecar, indent=2) + "\n", encoding="utf-8")


def metadata_path(path: Path | str) -> Path:
    """The sidecar that carries an encoded file's scheme: ``PATH.json``."""
    path = Path(path)
    return path.with_name(path.name + ".json")


def encode(
    frame: pd.DataFrame, secret: bytes, config: EncodingConfig | None = None
) -> EncodedRecords:
    """Encode each row of ``frame`` (``record_id``, ``list`` and identity columns)."""
    config = config or EncodingConfig()
    _check_frame(frame, secret)
    hashers = {
        name: _FieldHasher(secret, name, config) for name in FIELDS if config.weights.get(name)
    }
    taps = _diffusion_taps(secret, config) if config.diffusion_taps else None
    blocks = [
        _encode_chunk(frame.iloc[start : start + _CHUNK_RECORDS], start, hashers, taps, config)
        for start in range(0, len(frame), _CHUNK_RECORDS)
    ]
    words = config.output_bits // 64
    bits = np.concatenate(blocks) if blocks else np.zeros((0, words), dtype=np.uint64)
    return EncodedRecords(
        record_ids=[str(value) for value in frame["record_id"].tolist()],
        lists=[str(value) for value in frame["list"].tolist()],
        bits=bits,
        config=_scheme_dict(config, secret),
    )


def _check_frame(frame: pd.DataFrame, secret: bytes) -> None:
    if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
        raise EncodingError(
            f"the secret must be at least {MIN_SECRET_BYTES} random bytes "
            "(for example secrets.token_bytes(32))"
        )
    for name in ("record_id", "list"):
        if name not in frame.columns:
            raise EncodingError(f"the required column '{name}' is missing", column=name)
        missing = np.flatnonzero(frame[name].isna().to_numpy())
        if len(missing):
            raise EncodingError("the value is empty", row=int(missing[0]) + 2, column=name)


def _encode_chunk(
    chunk: pd.DataFrame,
    start: int,
    hashers: Mapping[str, _FieldHasher],
    taps: Index | None,
    config: EncodingConfig,
) -> Bits:
    # Row numbers in errors count the header as row 1, as in a CSV file.
    values = _canonical_values(chunk, row_offset=start + 2)
    salts = _salt_values(values, config.salt_field)
    salted = SALT_FIELDS.get(config.salt_field or "")
    unsalted = [""] * len(chunk)
    matrix = np.zeros((len(chunk), config.bits), dtype=np.bool_)
    for name, hasher in hashers.items():
        field_salts = unsalted if name == salted else salts
        _set_field_bits(matrix, values[name], field_salts, hasher, _RULES[name].tokens)
    return _harden(matrix, taps, config)


# --------------------------------------------------------------------------------------------
# Reading encoded files


def read_encoded(path: Path | str) -> EncodedRecords:
    """Read a file written by ``EncodedRecords.write_csv``, checking every row."""
    path = Path(path)
    config = _read_metadata(path)
    expected_scheme = scheme_id(config)
    n_bytes = int(config["output_bits"]) // 8
    source = str(path)
    record_ids: list[str] = []
    lists: list[str] = []
    raw = bytearray()
    seen: set[str] = set()
    for row_number, row in _csv_rows(path):
        record_id, list_name, scheme, encoding = row
        for column, value in (("record_id", record_id), ("list", list_name)):
            if not value:
                raise EncodingError(
                    "the value is empty", source=source, row=row_number, column=column
                )
        if record_id in seen:
            raise EncodingError(
                "record_id is not unique", source=source, row=row_number, column="record_id"
            )
        seen.add(record_id)
        if scheme != expected_scheme:
            raise EncodingError(
                "the row's scheme differs from the file's metadata (mixed schemes or secrets)",
                source=source,
                row=row_number,
                column="scheme",
            )
        raw += _decode_row(encoding, n_bytes, source, row_number)
        record_ids.append(record_id)
        lists.append(list_name)
    bits = np.frombuffer(bytes(raw), dtype="<u8").astype(np.uint64).reshape(-1, n_bytes // 8)
    return EncodedRecords(record_ids, lists, bits, config)


def _decode_row(text: str, n_bytes: int, source: str, row: int) -> bytes:
    try:
        decoded = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise EncodingError("not valid base64", source=source, row=row, column="encoding") from None
    if len(decoded) != n_bytes:
        raise EncodingError(
            f"wrong length: {len(decoded) * 8} bits where the scheme has {n_bytes * 8}",
            source=source,
            row=row,
            column="encoding",
        )
    return decoded


def _read_metadata(path: Path) -> dict[str, Any]:
    sidecar = metadata_path(path)
    try:
        document = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise EncodingError(
            "the metadata file is missing (it is written next to the data as PATH.json)",
            source=str(sidecar),
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise EncodingError("the metadata file is not valid JSON", source=str(sidecar)) from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise EncodingError("the metadata file has no 'config' object", source=str(sidecar))
    config: dict[str, Any] = document["config"]
    try:
        checked = EncodingConfig.from_dict(config)
    except EncodingError as error:
        raise EncodingError(str(error), source=str(sidecar)) from None
    if config.get("output_bits") != checked.output_bits:
        raise EncodingError("output_bits contradicts the configuration", source=str(sidecar))
    if document.get("scheme_id") != scheme_id(config):
        raise EncodingError("scheme_id does not match the configuration", source=str(sidecar))
    return config


def _csv_rows(path: Path) -> list[tuple[int, list[str]]]:
    source = str(path)
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
    except FileNotFoundError:
        raise EncodingError("file not found", source=source) from None
    except UnicodeDecodeError:
        raise EncodingError("the file is not UTF-8 text", source=source) from None
    except csv.Error as error:
        raise EncodingError(f"not a readable CSV file ({error})", source=source) from None
    if not rows:
        raise EncodingError("the file is empty", source=source)
    header = [name.strip() for name in rows[0]]
    if tuple(header) != ENCODED_COLUMNS:
        raise EncodingError("the header must be " + ",".join(ENCODED_COLUMNS), source=source, row=1)
    numbered = []
    for position, row in enumerate(rows[1:]):
        if len(row) != len(ENCODED_COLUMNS):
            raise EncodingError(
                f"the row has {len(row)} cells but the header has {len(ENCODED_COLUMNS)}",
                source=source,
                row=position + 2,
            )
        numbered.append((position + 2, [cell.strip() for cell in row]))
    return numbered


# --------------------------------------------------------------------------------------------
# Dice comparison


@njit(inline="always")
def _popcount(x: np.uint64) -> np.uint64:
    # The SWAR idiom, which LLVM compiles to a single popcnt instruction.
    x = x - ((x >> np.uint64(1)) & np.uint64(0x5555555555555555))
    x = (x & np.uint64(0x3333333333333333)) + ((x >> np.uint64(2)) & np.uint64(0x3333333333333333))
    x = (x + (x >> np.uint64(4))) & np.uint64(0x0F0F0F0F0F0F0F0F)
    return (x * np.uint64(0x0101010101010101)) >> np.uint64(56)


@njit(parallel=True, cache=True)
def _dice_block(
    left: Bits,
    right: Bits,
    left_pop: Index,
    right_pop: Index,
    first_row: int,
    upper_only: bool,
    out: Scores,
) -> None:
    rows, words = left.shape
    for i in prange(rows):
        start = first_row + i + 1 if upper_only else 0
        for j in range(out.shape[1]):
            if j < start:
                out[i, j] = -1.0
                continue
            total = left_pop[i] + right_pop[j]
            if total == 0:
                out[i, j] = 0.0
                continue
            common = np.uint64(0)
            for k in range(words):
                common += _popcount(left[i, k] & right[j, k])
            out[i, j] = 2.0 * common / total


@njit(parallel=True, cache=True)
def _dice_of_pairs(
    left: Bits, right: Bits, left_index: Index, right_index: Index, out: Scores
) -> None:
    words = left.shape[1]
    for p in prange(len(left_index)):
        a = left_index[p]
        b = right_index[p]
        common = np.uint64(0)
        total = np.uint64(0)
        for k in range(words):
            common += _popcount(left[a, k] & right[b, k])
            total += _popcount(left[a, k]) + _popcount(right[b, k])
        out[p] = 2.0 * common / total if total else 0.0


def popcounts(bits: Bits) -> Index:
    return np.bitwise_count(bits).sum(axis=1, dtype=np.int64)


def _as_bits(bits: npt.ArrayLike, name: str) -> Bits:
    array = np.ascontiguousarray(bits)
    if array.dtype != np.uint64 or array.ndim != 2:
        raise EncodingError(f"{name} must be a 2-d uint64 array")
    return array


def _checked_pair(left: npt.ArrayLike, right: npt.ArrayLike) -> tuple[Bits, Bits]:
    left_bits, right_bits = _as_bits(left, "left_bits"), _as_bits(right, "right_bits")
    if left_bits.shape[1] != right_bits.shape[1]:
        raise EncodingError("the two encodings have different lengths")
    return left_bits, right_bits


def _threshold_pairs(
    left: Bits, right: Bits, threshold: float, upper_only: bool
) -> tuple[Index, Index, Scores]:
    left_pop, right_pop = popcounts(left), popcounts(right)
    block_rows = max(1, _PAIR_BLOCK_CELLS // max(1, len(right)))
    found: list[tuple[Index, Index, Scores]] = []
    for first in range(0, len(left), block_rows):
        block = left[first : first + block_rows]
        scores = np.empty((len(block), len(right)), dtype=np.float64)
        _dice_block(block, right, left_pop[first:], right_pop, first, upper_only, scores)
        rows, cols = np.nonzero(scores >= threshold)
        found.append((rows.astype(np.int64) + first, cols.astype(np.int64), scores[rows, cols]))
    return _concat_pairs(found)


def _concat_pairs(found: list[tuple[Index, Index, Scores]]) -> tuple[Index, Index, Scores]:
    if not found:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float64)
    return (
        np.concatenate([part[0] for part in found]),
        np.concatenate([part[1] for part in found]),
        np.concatenate([part[2] for part in found]),
    )


def dice_pairs(left_bits: Bits, right_bits: Bits, threshold: float) -> tuple[Index, Index, Scores]:
    """All (left, right) pairs with Dice ≥ threshold, by full comparison; row-major order."""
    left, right = _checked_pair(left_bits, right_bits)
    return _threshold_pairs(left, right, threshold, upper_only=False)


def dice_pairs_within(bits: Bits, threshold: float) -> tuple[Index, Index, Scores]:
    """All pairs i < j of one set with Dice ≥ threshold (deduplication)."""
    array = _as_bits(bits, "bits")
    return _threshold_pairs(array, array, threshold, upper_only=True)


def dice_of_pairs(
    left_bits: Bits, right_bits: Bits, left_index: Index, right_index: Index
) -> Scores:
    """Dice of the given (left_index[p], right_index[p]) pairs."""
    left, right = _checked_pair(left_bits, right_bits)
    left_index = np.ascontiguousarray(left_index, dtype=np.int64)
    right_index = np.ascontiguousarray(right_index, dtype=np.int64)
    out = np.empty(len(left_index), dtype=np.float64)
    _dice_of_pairs(left, right, left_index, right_index, out)
    return out


# --------------------------------------------------------------------------------------------
# Candidate reduction for large inputs: Hamming LSH

LSH_BANDS = 64
LSH_ROWS = 20
LSH_MAX_BUCKET_PAIRS = 1_000_000


def lsh_candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that a pair agreeing on a fraction ``similarity`` of bits becomes a candidate.

    For balanced encodings the Hamming similarity equals the Dice coefficient.
    """
    return float(1.0 - (1.0 - similarity**rows) ** bands)


def _band_signatures(bits: Bits, positions: Index) -> npt.NDArray[np.uint64]:
    signature = np.zeros(len(bits), dtype=np.uint64)
    for shift, position in enumerate(positions):
        bit = (bits[:, position >> 6] >> np.uint64(position & 63)) & np.uint64(1)
        signature |= bit << np.uint64(shift)
    return signature


def _bucket_join(
    left_signature: npt.NDArray[np.uint64],
    right_signature: npt.NDArray[np.uint64] | None,
    max_bucket_pairs: int,
) -> tuple[Index, Index]:
    left = pd.DataFrame({"s": left_signature, "i": np.arange(len(left_signature))})
    right = (
        left
        if right_signature is None
        else pd.DataFrame({"s": right_signature, "i": np.arange(len(right_signature))})
    )
    sizes = left["s"].value_counts().mul(right["s"].value_counts(), fill_value=0)
    # An overfull bucket (e.g. all-zero samples of near-empty records) would swamp the join.
    keep = sizes.index[(sizes > 0) & (sizes <= max_bucket_pairs)]
    joined = left[left["s"].isin(keep)].merge(right[right["s"].isin(keep)], on="s")
    left_index = joined["i_x"].to_numpy(np.int64)
    right_index = joined["i_y"].to_numpy(np.int64)
    if right_signature is None:
        wanted = left_index < right_index
        return left_index[wanted], right_index[wanted]
    return left_index, right_index


def lsh_candidates(
    left_bits: Bits,
    right_bits: Bits | None = None,
    *,
    bands: int = LSH_BANDS,
    rows: int = LSH_ROWS,
    seed: int = 0,
    max_bucket_pairs: int = LSH_MAX_BUCKET_PAIRS,
) -> tuple[Index, Index]:
    """Distinct candidate pairs that agree on all ``rows`` sampled bits of at least one band.

    Without ``right_bits`` the pairs are i < j within ``left_bits``.
    """
    left = _as_bits(left_bits, "left_bits")
    right = None if right_bits is None else _checked_pair(left, right_bits)[1]
    if not 1 <= rows <= 64:
        raise EncodingError("rows must be in 1..64")
    rng = np.random.default_rng(seed)
    n_right = len(left) if right is None else len(right)
    keys: list[Index] = []
    for _ in range(bands):
        positions = rng.choice(left.shape[1] * 64, size=rows, replace=False).astype(np.int64)
        left_index, right_index = _bucket_join(
            _band_signatures(left, positions),
            None if right is None else _band_signatures(right, positions),
            max_bucket_pairs,
        )
        keys.append(np.unique(left_index * n_right + right_index))
    merged = np.unique(np.concatenate(keys)) if keys else np.zeros(0, np.int64)
    return merged // max(n_right, 1), merged % max(n_right, 1)


def dice_pairs_lsh(
    left_bits: Bits,
    right_bits: Bits | None,
    threshold: float,
    *,
    bands: int = LSH_BANDS,
    rows: int = LSH_ROWS,
    seed: int = 0,
    max_bucket_pairs: int = LSH_MAX_BUCKET_PAIRS,
) -> tuple[Index, Index, Scores]:
    """Like ``dice_pairs`` (or ``dice_pairs_within`` if ``right_bits`` is None) on LSH
    candidates only: a pair with Hamming similarity s is found with probability
    ``lsh_candidate_probability(s, bands, rows)``.
    """
    left_index, right_index = lsh_candidates(
        left_bits,
        right_bits,
        bands=bands,
        rows=rows,
        seed=seed,
        max_bucket_pairs=max_bucket_pairs,
    )
    right = left_bits if right_bits is None else right_bits
    scores = dice_of_pairs(left_bits, right, left_index, right_index)
    keep = scores >= threshold
    return left_index[keep], right_index[keep], scores[keep]


# --------------------------------------------------------------------------------------------
# One-to-one assignment and linkage of two encoded sets


@njit(cache=True)
def _greedy(order: Index, left: Index, right: Index, n_left: int, n_right: int) -> Index:
    used_left = np.zeros(n_left, dtype=np.bool_)
    used_right = np.zeros(n_right, dtype=np.bool_)
    kept = np.empty(len(order), dtype=np.int64)
    count = 0
    for p in order:
        a = left[p]
        b = right[p]
        if used_left[a] or used_right[b]:
            continue
        used_left[a] = True
        used_right[b] = True
        kept[count] = p
        count += 1
    return kept[:count]


def greedy_one_to_one(
    left_index: Index, right_index: Index, dice: Scores
) -> tuple[Index, Index, Scores]:
    """Best scores first, each record used at most once; ties broken by index for stability."""
    left_index = np.asarray(left_index, dtype=np.int64)
    right_index = np.asarray(right_index, dtype=np.int64)
    if not len(left_index):
        return left_index, right_index, np.asarray(dice, dtype=np.float64)
    order = np.lexsort((right_index, left_index, -np.asarray(dice))).astype(np.int64)
    n_left = int(left_index.max()) + 1
    n_right = int(right_index.max()) + 1
    kept = _greedy(order, left_index, right_index, n_left, n_right)
    return left_index[kept], right_index[kept], np.asarray(dice, dtype=np.float64)[kept]


def link_encoded(
    left: EncodedRecords, right: EncodedRecords, threshold: float, *, one_to_one: bool = True
) -> pd.DataFrame:
    """Linked pairs ``left_id, right_id, dice`` of two encoded sets of the same scheme."""
    if left.scheme != right.scheme:
        raise EncodingError(
            "the two encoded sets use different schemes or secrets; they cannot be compared"
        )
    found = dice_pairs(left.bits, right.bits, threshold)
    if one_to_one:
        found = greedy_one_to_one(*found)
    left_ids = np.asarray(left.record_ids, dtype=object)
    right_ids = np.asarray(right.record_ids, dtype=object)
    return pd.DataFrame(
        {"left_id": left_ids[found[0]], "right_id": right_ids[found[1]], "dice": found[2]}
    )
