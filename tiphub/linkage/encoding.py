"""Privacy-preserving linkage on hardened Bloom-filter encodings (CLKs).

Agencies that may not exchange names exchange encodings instead: each record becomes one
bit vector from which names cannot be read back, yet whose Dice coefficient with another
record's vector tracks how alike the two identities are. Every party encodes with the same
secret and the same ``EncodingConfig``; whoever compares the encodings must NOT hold the
secret.

Encoding
--------
Each field is normalised with ``tiphub.linkage.normalise`` (so Cyrillic and Latin spellings
agree) and cut into tokens:

* names: bigrams of the padded normalised name, plus its skeleton and phonetic code as two
  extra tokens; given and family names share one key, so swapped name order still agrees;
  a lone ``full_name`` is split with ``split_full_name``;
* date of birth (``1998``, ``1998-07`` or ``1998-07-03``): year, month, day, year-month and
  the unordered month/day pair, so partial and day/month-swapped dates keep shared bits;
* sex and nationality: one token; place of birth and city: bigrams of the skeleton;
  identifier and postcode: bigrams of ``normalise_identifier``; address: bigrams of the
  lower-cased letters and digits (house numbers count).

Every token sets ``weights[field]`` bits of a ``bits``-long filter at positions taken from
HMAC-SHA256 under a per-field key derived from the secret (each digest gives eight 32-bit
positions; one HMAC per distinct token, cached). Missing fields set nothing; a record
without any identity value encodes as all zeros and links to nothing.

Hardening (each switchable in ``EncodingConfig``) and what it protects against
---------------------------------------------------------------------------------
The tests in ``tests/linkage/test_encoding.py`` measure each claim on a synthetic
population with a skewed (Zipf) name distribution.

(a) Keyed HMAC (``keyed``). Without the secret nobody can recompute bit positions, so the
    dictionary attack (encode every candidate name and birth date, look for equal vectors)
    fails: it re-identifies 100 % of records on unkeyed encodings, 0 % without the key.
    Encodings under different secrets agree only at chance level.
(b) Salting (``salt_field``: ``year_of_birth``, ``sex`` or ``nationality``). The salt value
    enters every other field's HMAC input, so one name with two salts sets unrelated bits.
    Against a frequency attack on single-field name encodings (match the most frequent
    vectors to the most frequent names) success falls from 62 % of records to 0.6 %; keys,
    diffusion and balancing alone leave it at 62 %, as they are deterministic.
    Cost: a pair whose salt differs (typo, missing value) can never link. On FEBRL 4, 8 %
    of true pairs differ in birth year and F1 falls from 1.000 to 0.957, so salting is
    OFF by default. Use it only for a salt that is recorded reliably by all parties.
(c) Balancing (``balance``): the complement is appended, so every vector has exactly half
    its bits set. The Hamming weight then no longer reveals how many tokens a record has:
    its correlation with name length is 0.81 unhardened, 0.80 with diffusion alone, 0 when
    balanced. For balanced vectors Dice equals the share of agreeing bits.
    XOR folding (``fold``) halves the vector by XORing its halves; it costs accuracy on top
    of diffusion (FEBRL 4 F1 0.988) and is off by default.
(d) Diffusion (``diffusion_taps`` = t; Armknecht et al. 2023, "Strengthening
    privacy-preserving record linkage using diffusion"): output bit j is the XOR of t filter
    bits chosen by t key-seeded permutations (each input feeds exactly t outputs, no output
    draws one input twice). No output bit is then tied to a q-gram: pattern-mining attacks
    (Christen et al. 2018, Vidanage et al. 2019), which look for bits set in every record
    holding a frequent q-gram, find ~9 such bits per frequent bigram without diffusion and
    none with it. A statistical correlation remains, weaker as the filter fills up and t
    grows: the strongest bit-bigram correlation falls from 0.78 to 0.64 (t=3) on the sparse
    synthetic records (16 % of bits set), to 0.33 with doubled weights and t=4, and from
    0.63 to 0.35-0.40 on FEBRL 4 (21 % set). With few fields, raise the weights until a
    quarter to a third of the bits are set before diffusion. The price of diffusion is a
    compressed score range: unrelated records score about 0.5-0.6 instead of 0.1-0.4.

Not protected against:

* anyone who holds the secret (every encoding agency): they can run the dictionary attack.
  Encode at the agencies, compare at a party that never sees the secret;
* attacks on the similarity graph (graph matching, Culnane et al. 2017; Vidanage et al.
  2020): Dice similarities are preserved by design, and an attacker with a plaintext copy
  of an overlapping population can align the two similarity graphs;
* frequency attacks on whole records that repeat exactly (encoding is deterministic), and
  on frequent (value, salt) combinations by an attacker who knows their joint distribution;
* a weak secret: ``key_check`` (written with every file so that parties can tell a wrong
  secret from no matches) lets anyone test guesses offline. Use ``secrets.token_bytes(32)``;
* what stays in clear text: ``record_id`` (must be an opaque ID), ``list``, the number of
  records, and which records have no identity value at all (all-zero vectors).

Defaults, chosen on FEBRL 4 (see ``bench/encoding_bench.py``)
------------------------------------------------------------
1,024-bit filter, weights ``DEFAULT_WEIGHTS`` (21 % of bits set on FEBRL 4), keyed,
diffusion t=3, balanced (2,048 bits = 256 bytes per record), no salt, no folding. FEBRL 4
without ``soc_sec_id`` (names, birth date, street address, postcode, suburb as ``city``),
Dice ≥ 0.55 and greedy one-to-one: precision 1.0000, recall 0.9998-1.0000 (by secret).
Unhardened filters do no better (F1 0.9995). t=4 gives F1 0.9994-0.9998 by secret, t=2
keeps more bit-q-gram correlation. Scores of non-matching FEBRL pairs: median 0.53, 99th
percentile 0.58, 99.99th 0.63 (unhardened: 0.27 / 0.39 / 0.52). The low threshold suits
FEBRL 4, where every record has a partner; with unmatched records choose it from the
score distribution of the data at hand.

File format
-----------
``write_csv(PATH)`` writes a UTF-8 CSV ``record_id,list,scheme,encoding``: ``encoding`` is
the base64 of the bit vector (little-endian 64-bit words; bit p is bit p % 64 of word
p // 64), ``scheme`` is ``tiphub-clk1-`` plus a digest of the full configuration
(including ``key_check``). ``PATH.json`` holds that configuration, never the secret.
``read_encoded`` checks every row (empty or repeated ID, scheme, base64, length) and raises
``EncodingError`` naming the file, row and column, never a value.

Comparison
----------
``dice_pairs`` compares everything (numba, hardware popcount; ~200 million pairs/s on two
cores: 5,000 x 5,000 in 0.12-0.27 s, 100,000 records deduplicated in 23 s).
``dice_pairs_lsh`` cuts the work with Hamming LSH: each of ``bands`` bands samples ``rows``
bit positions of the first half (the rest of a balanced vector is its complement);
records agreeing on all of them are scored at once and kept above the threshold, so
memory follows the links, not the candidates. A pair with Dice s (for balanced vectors,
its share of agreeing bits) becomes a candidate with probability 1 - (1 - s^rows)^bands:
with the default 128 x 14, 0.997 at s = 0.8, 0.90 at 0.75, 0.58 at 0.7. Measured: 0.9994
of the exact pairs at Dice ≥ 0.8 among 100,000 synthetic records in 9 s (exact: 23 s),
and every FEBRL 4 true pair with Dice ≥ 0.8 (0.97 of all true pairs). Diffusion pushes
unrelated scores up towards 0.5-0.6, which limits what LSH can save; for thresholds below
about 0.75 use the exact search.
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
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
from numba import njit, prange
from unidecode import unidecode

from tiphub.errors import LocatedError
from tiphub.exchange.spreadsheet import is_dangerous
from tiphub.files import open_private, staged_file, write_private_text
from tiphub.linkage.inputs import csv_cell_limit, csv_problem, not_utf8, open_text, read_bytes
from tiphub.linkage.normalise import (
    is_date_shaped,
    normalise_identifier,
    normalise_name,
    parse_lenient_date,
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

# Hash functions per token of each field: the field's weight in the Dice score. Chosen on
# FEBRL 4, where they set about 21 % of the 1,024 bits before diffusion (module docstring).
DEFAULT_WEIGHTS: Mapping[str, int] = MappingProxyType(
    {
        "given_name": 6,
        "family_name": 6,
        "sex": 4,
        "date_of_birth": 6,
        "nationality": 4,
        "place_of_birth": 3,
        "identifier": 5,
        "address": 3,
        "postcode": 4,
        "city": 3,
    }
)

# Salt name -> the input field it is derived from (that field itself is not salted).
SALT_FIELDS: Mapping[str, str] = MappingProxyType(
    {"year_of_birth": "date_of_birth", "sex": "sex", "nationality": "nationality"}
)

# Fields hashed under one key: a given and a family name swapped (family-name-first
# cultures, officials who guess) still set the same bits.
_KEY_GROUPS: Mapping[str, str] = MappingProxyType({"given_name": "name", "family_name": "name"})

_MAX_WEIGHT = 64
# Longest filter accepted (bits per record before balancing): far above any useful length,
# it keeps a hostile metadata file from asking for gigabytes per record.
MAX_BITS = 1 << 16
_CHUNK_RECORDS = 16_384
_PAIR_BLOCK_CELLS = 1 << 22


class EncodingError(LocatedError):
    """A problem with an encoding input or file, located by file, row (1 = header), column.

    Messages never quote values: encoded files stand in for survivors' identities.
    """


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class EncodingConfig:
    """How records become bit vectors. Every party of a linkage must use the same one.

    * ``bits``: length of the record-level Bloom filter before folding or balancing.
    * ``weights``: hash functions per token for each field; 0 or absent leaves it out.
      Given and family names share one key, so give them the same weight.
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
        if self.bits < unit or self.bits % unit or self.bits > MAX_BITS:
            raise EncodingError(f"bits must be a positive multiple of {unit}, at most {MAX_BITS}")
        unknown = set(self.weights) - set(FIELDS)
        if unknown:
            # The names are not repeated: a hostile metadata file could put anything there.
            raise EncodingError(
                f"unknown fields in weights ({len(unknown)}); known: {', '.join(FIELDS)}"
            )
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
        except EncodingError:
            raise
        except KeyError as error:
            raise EncodingError(f"incomplete configuration (no {error.args[0]!r})") from None
        except (TypeError, ValueError, AttributeError):
            # The value itself is not quoted: it came from a file that may be hostile.
            raise EncodingError("invalid configuration (a setting has the wrong type)") from None


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

_SEX: dict[str, str | None] = {"m": "m", "male": "m", "man": "m", "masculine": "m"}
_SEX |= {"f": "f", "female": "f", "woman": "f", "feminine": "f"}
# "Unknown" is a missing value, not a shared trait: two unknowns must not score as agreeing.
_SEX |= dict.fromkeys(("u", "unknown", "not known", "not stated", "?"))
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
    # As in plain linkage, a date typed impossibly (2086-21-01) keeps what of it is
    # possible; text that is no date at all is refused.
    if not is_date_shaped(text):
        raise ValueError("not an ISO date")
    year, month, day = parse_lenient_date(text)
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
    """How one field's raw text becomes a canonical value, and that value its tokens."""

    canonical: Callable[[str], str | None]
    tokens: Callable[[str], list[str]]


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
    result: npt.NDArray[Any] = lookup[codes]
    return result


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
    result: npt.NDArray[Any] = lookup[codes]
    return result


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
    """Bit positions of one key group's tokens, hashed once per distinct (salt, token)."""

    def __init__(self, secret: bytes, group: str, config: EncodingConfig) -> None:
        self.weight = max(
            config.weights.get(name, 0) for name in FIELDS if _KEY_GROUPS.get(name, name) == group
        )
        self._bits = config.bits
        self._blocks = -(-self.weight // 8)  # a SHA-256 digest gives eight 32-bit positions
        label = f"field {group}"
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
    weight: int,
    tokenise: Callable[[str], list[str]],
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
    positions = hasher.table[flat, :weight]
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


@njit(parallel=True, cache=True)
def _diffuse_pack(matrix: npt.NDArray[np.bool_], taps: Index) -> Bits:
    """Pack bits into little-endian words; output bit j = XOR of matrix[:, taps[:, j]]."""
    n_records, n_bits = matrix.shape
    out = np.zeros((n_records, n_bits // 64), dtype=np.uint64)
    for i in prange(n_records):
        for j in range(n_bits):
            bit = False
            for r in range(taps.shape[0]):
                bit ^= matrix[i, taps[r, j]]
            if bit:
                out[i, j >> 6] |= np.uint64(1) << np.uint64(j & 63)
    return out


def _harden(matrix: npt.NDArray[np.bool_], taps: Index, config: EncodingConfig) -> Bits:
    empty = ~matrix.any(axis=1)
    words = _diffuse_pack(matrix, taps)
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
        """Write ``PATH`` (record_id, list, scheme, encoding) and the scheme in ``PATH.json``.

        Both are 0600 and staged: the sidecar lands first, then the data, so a reader never
        finds data without its scheme.
        """
        path = Path(path)
        scheme = self.scheme
        little = self.bits.astype("<u8", copy=False)
        sidecar = {"scheme_id": scheme, "records": len(self), "config": self.config}
        with staged_file(path) as staged_data, staged_file(metadata_path(path)) as staged_meta:
            with open_private(staged_data, "w", encoding="utf-8", newline="") as handle:
                writer = csv.writer(handle)
                writer.writerow(ENCODED_COLUMNS)
                for record_id, list_name, row in zip(
                    self.record_ids, self.lists, little, strict=True
                ):
                    writer.writerow(
                        (record_id, list_name, scheme, base64.b64encode(row.tobytes()).decode())
                    )
            write_private_text(staged_meta, json.dumps(sidecar, indent=2) + "\n")


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
    groups = {_KEY_GROUPS.get(name, name) for name in FIELDS if config.weights.get(name)}
    hashers = {group: _FieldHasher(secret, group, config) for group in groups}
    # Without diffusion the identity "tap" just packs the bits.
    taps = (
        _diffusion_taps(secret, config)
        if config.diffusion_taps
        else np.arange(config.bits, dtype=np.int64)[None, :]
    )
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
    repeated = np.flatnonzero(frame["record_id"].astype(str).duplicated().to_numpy())
    if len(repeated):
        raise EncodingError("record_id is not unique", row=int(repeated[0]) + 2, column="record_id")


def _encode_chunk(
    chunk: pd.DataFrame,
    start: int,
    hashers: Mapping[str, _FieldHasher],
    taps: Index,
    config: EncodingConfig,
) -> Bits:
    # Row numbers in errors count the header as row 1, as in a CSV file.
    values = _canonical_values(chunk, row_offset=start + 2)
    salts = _salt_values(values, config.salt_field)
    salted = SALT_FIELDS.get(config.salt_field or "")
    unsalted = [""] * len(chunk)
    matrix = np.zeros((len(chunk), config.bits), dtype=np.bool_)
    for name in FIELDS:
        weight = config.weights.get(name, 0)
        if not weight:
            continue
        field_salts = unsalted if name == salted else salts
        hasher = hashers[_KEY_GROUPS.get(name, name)]
        _set_field_bits(matrix, values[name], field_salts, hasher, weight, _RULES[name].tokens)
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
            if is_dangerous(value):
                # These are copied into tiphub's CSV outputs, where a spreadsheet would run them.
                raise EncodingError(
                    "the value starts with =, +, - or @, which a spreadsheet would run as a "
                    "formula",
                    source=source,
                    row=row_number,
                    column=column,
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
    if len(text) > 4 * (n_bytes // 3 + 1):
        # Checked before decoding: a megabyte of base64 in one cell is not an encoding.
        raise EncodingError(
            "not an encoding of this scheme (too long)", source=source, row=row, column="encoding"
        )
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


# A sidecar holds a few hundred bytes of settings.
_MAX_METADATA_BYTES = 1_000_000


def _read_metadata(path: Path) -> dict[str, Any]:
    sidecar = metadata_path(path)
    if not sidecar.exists() and not sidecar.is_symlink():
        raise EncodingError(
            "the metadata file is missing (it is written next to the data as PATH.json)",
            source=str(sidecar),
        )
    data = read_bytes(sidecar, EncodingError, limit=_MAX_METADATA_BYTES)
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise EncodingError("the metadata file is not valid JSON", source=str(sidecar)) from None
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise EncodingError("the metadata file has no 'config' object", source=str(sidecar))
    config: dict[str, Any] = document["config"]
    try:
        checked = EncodingConfig.from_dict(config)
    except EncodingError as error:
        raise EncodingError(error.reason, source=str(sidecar)) from None
    if config.get("output_bits") != checked.output_bits:
        raise EncodingError("output_bits contradicts the configuration", source=str(sidecar))
    if document.get("scheme_id") != scheme_id(config):
        raise EncodingError("scheme_id does not match the configuration", source=str(sidecar))
    return config


def _csv_rows(path: Path) -> Iterator[tuple[int, list[str]]]:
    """The data rows of an encoded file, numbered as in the file (header = 1)."""
    source = str(path)
    row_number = 1
    with open_text(path, EncodingError, source) as handle, csv_cell_limit():
        reader = csv.reader(handle)
        try:
            header = next(reader, None)
            if header is None:
                raise EncodingError("the file is empty", source=source)
            if tuple(name.strip() for name in header) != ENCODED_COLUMNS:
                raise EncodingError(
                    "the header must be " + ",".join(ENCODED_COLUMNS), source=source, row=1
                )
            for row in reader:
                row_number += 1
                if len(row) != len(ENCODED_COLUMNS):
                    raise EncodingError(
                        f"the row has {len(row)} cells but the header has {len(ENCODED_COLUMNS)}",
                        source=source,
                        row=row_number,
                    )
                yield row_number, [cell.strip() for cell in row]
        except UnicodeDecodeError:
            raise not_utf8(path, EncodingError, source) from None
        except csv.Error as error:
            raise EncodingError(csv_problem(error), source=source, row=row_number + 1) from None


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
    threshold: float,
    hit_columns: Index,
    hit_scores: Scores,
    counts: Index,
) -> None:
    """Each row's pairs with Dice ≥ threshold, packed at the start of its row of hits."""
    rows, words = left.shape
    for i in prange(rows):
        count = 0
        for j in range(first_row + i + 1 if upper_only else 0, right.shape[0]):
            total = left_pop[i] + right_pop[j]
            # Dice can reach at most 2 min / (sum): skip pairs whose weights are too unequal.
            if 2.0 * min(left_pop[i], right_pop[j]) < threshold * total or total == 0:
                if threshold > 0.0:
                    continue
                dice = 0.0
            else:
                common = np.uint64(0)
                for k in range(words):
                    common += _popcount(left[i, k] & right[j, k])
                dice = 2.0 * common / total
                if dice < threshold:
                    continue
            hit_columns[i, count] = j
            hit_scores[i, count] = dice
            count += 1
        counts[i] = count


@njit(cache=True)
def _gather_hits(
    hit_columns: Index,
    hit_scores: Scores,
    counts: Index,
    first_row: int,
    left_out: Index,
    right_out: Index,
    scores_out: Scores,
) -> None:
    slot = 0
    for i in range(len(counts)):
        for c in range(counts[i]):
            left_out[slot] = first_row + i
            right_out[slot] = hit_columns[i, c]
            scores_out[slot] = hit_scores[i, c]
            slot += 1


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
    """Number of set bits of each encoding."""
    counts: Index = np.bitwise_count(bits).sum(axis=1, dtype=np.int64)
    return counts


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
    left: Bits, right: Bits, threshold: float, upper_only: bool, max_pairs: int | None = None
) -> tuple[Index, Index, Scores]:
    left_pop, right_pop = popcounts(left), popcounts(right)
    kept = 0
    block_rows = max(1, _PAIR_BLOCK_CELLS // max(1, len(right)))
    found: list[tuple[Index, Index, Scores]] = []
    for first in range(0, len(left), block_rows):
        block = left[first : first + block_rows]
        # Untouched pages of np.empty cost nothing: memory follows the hits.
        columns = np.empty((len(block), len(right)), dtype=np.int64)
        scores = np.empty((len(block), len(right)), dtype=np.float64)
        counts = np.zeros(len(block), dtype=np.int64)
        _dice_block(
            block,
            right,
            left_pop[first:],
            right_pop,
            first,
            upper_only,
            threshold,
            columns,
            scores,
            counts,
        )
        total = int(counts.sum())
        kept += total
        if max_pairs is not None and kept > max_pairs:
            raise EncodingError(
                f"more than {max_pairs:,} pairs of encodings are alike (Dice at least "
                f"{threshold:.2f}): the same encoding is repeated in many records"
            )
        part = (np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.float64))
        _gather_hits(columns, scores, counts, first, *part)
        found.append(part)
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


def dice_pairs_within(
    bits: Bits, threshold: float, *, max_pairs: int | None = None
) -> tuple[Index, Index, Scores]:
    """All pairs i < j of one set with Dice ≥ threshold (deduplication).

    With ``max_pairs``, more pairs than that raise ``EncodingError`` rather than fill memory.
    """
    array = _as_bits(bits, "bits")
    return _threshold_pairs(array, array, threshold, upper_only=True, max_pairs=max_pairs)


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

LSH_BANDS = 128
LSH_ROWS = 14
LSH_MAX_BUCKET_PAIRS = 1_000_000


def lsh_candidate_probability(similarity: float, bands: int, rows: int) -> float:
    """Chance that a pair agreeing on a fraction ``similarity`` of bits becomes a candidate.

    For balanced encodings the Hamming similarity equals the Dice coefficient.
    """
    return float(1.0 - (1.0 - similarity**rows) ** bands)


def _is_balanced(bits: Bits) -> bool:
    half = bits.shape[1] // 2
    if bits.shape[1] % 2:
        return False
    filled = bits[bits.any(axis=1)]
    return bool(np.array_equal(filled[:, half:], ~filled[:, :half]))


def _band_signatures(bits: Bits, positions: Index) -> npt.NDArray[np.uint64]:
    signature = np.zeros(len(bits), dtype=np.uint64)
    for shift, position in enumerate(positions):
        bit = (bits[:, position >> 6] >> np.uint64(position & 63)) & np.uint64(1)
        signature |= bit << np.uint64(shift)
    return signature


@njit(parallel=True, cache=True)
def _bucket_dice(
    left: Bits,
    right: Bits,
    left_members: Index,
    left_starts: Index,
    left_sizes: Index,
    right_members: Index,
    right_starts: Index,
    right_sizes: Index,
    offsets: Index,
    upper_only: bool,
    out: Scores,
) -> None:
    """Dice of every pair inside each bucket; -1 marks pairs excluded by ``upper_only``."""
    words = left.shape[1]
    for b in prange(len(offsets)):
        width = right_sizes[b]
        for x in range(left_sizes[b]):
            i = left_members[left_starts[b] + x]
            for y in range(width):
                j = right_members[right_starts[b] + y]
                slot = offsets[b] + x * width + y
                if upper_only and j <= i:
                    out[slot] = -1.0
                    continue
                common = np.uint64(0)
                total = np.uint64(0)
                for k in range(words):
                    common += _popcount(left[i, k] & right[j, k])
                    total += _popcount(left[i, k]) + _popcount(right[j, k])
                out[slot] = 2.0 * common / total if total else 0.0


@dataclass(frozen=True)
class _Buckets:
    """Records grouped by band signature: members[starts[b] : starts[b] + sizes[b]]."""

    signatures: npt.NDArray[np.uint64]
    members: Index
    starts: Index
    sizes: Index

    @classmethod
    def of(cls, signature: npt.NDArray[np.uint64]) -> _Buckets:
        members = np.argsort(signature, kind="stable").astype(np.int64)
        distinct, starts, sizes = np.unique(
            signature[members], return_index=True, return_counts=True
        )
        return cls(distinct, members, starts.astype(np.int64), sizes.astype(np.int64))


def _band_links(
    left: Bits,
    right: Bits,
    left_buckets: _Buckets,
    right_buckets: _Buckets,
    threshold: float,
    upper_only: bool,
    max_bucket_pairs: int,
) -> tuple[Index, Index, Scores]:
    """Pairs sharing a bucket with Dice ≥ threshold, scored chunk by chunk to bound memory."""
    _, at_left, at_right = np.intersect1d(
        left_buckets.signatures, right_buckets.signatures, assume_unique=True, return_indices=True
    )
    left_sizes = left_buckets.sizes[at_left]
    right_sizes = right_buckets.sizes[at_right]
    pairs = left_sizes * right_sizes
    # An overfull bucket (e.g. near-empty records whose samples are all zero) is skipped.
    usable = pairs <= max_bucket_pairs
    at_left, at_right, pairs = at_left[usable], at_right[usable], pairs[usable]
    found: list[tuple[Index, Index, Scores]] = []
    for chunk in _chunks_by_total(pairs, _PAIR_BLOCK_CELLS):
        sizes = pairs[chunk]
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        out = np.empty(int(sizes.sum()), dtype=np.float64)
        lefts, rights = at_left[chunk], at_right[chunk]
        widths = right_buckets.sizes[rights]
        _bucket_dice(
            left,
            right,
            left_buckets.members,
            left_buckets.starts[lefts],
            left_buckets.sizes[lefts],
            right_buckets.members,
            right_buckets.starts[rights],
            widths,
            offsets,
            upper_only,
            out,
        )
        hits = np.flatnonzero(out >= threshold)
        bucket = np.searchsorted(offsets, hits, side="right") - 1
        x, y = np.divmod(hits - offsets[bucket], widths[bucket])
        found.append(
            (
                left_buckets.members[left_buckets.starts[lefts][bucket] + x],
                right_buckets.members[right_buckets.starts[rights][bucket] + y],
                out[hits],
            )
        )
    return _concat_pairs(found)


def _chunks_by_total(sizes: Index, limit: int) -> Iterator[Index]:
    """Consecutive index ranges whose sizes add up to about ``limit`` (at least one each)."""
    ends = np.cumsum(sizes)
    start = 0
    while start < len(sizes):
        base = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, base + limit, side="right")))
        yield np.arange(start, stop)
        start = stop


def _lsh_links(
    left: Bits,
    right: Bits | None,
    threshold: float,
    bands: int,
    rows: int,
    seed: int,
    max_bucket_pairs: int,
) -> tuple[Index, Index, Scores]:
    if not 1 <= rows <= 64:
        raise EncodingError("rows must be in 1..64")
    if bands < 1:
        raise EncodingError("bands must be positive")
    rng = np.random.default_rng(seed)
    # The complement half of a balanced encoding repeats the first half's information.
    sampled_bits = left.shape[1] * 64 // (2 if _is_balanced(left) else 1)
    other = left if right is None else right
    links = _LinkSet(max(1, len(other)))
    for _ in range(bands):
        positions = rng.choice(sampled_bits, size=rows, replace=False).astype(np.int64)
        left_buckets = _Buckets.of(_band_signatures(left, positions))
        right_buckets = (
            left_buckets if right is None else _Buckets.of(_band_signatures(right, positions))
        )
        links.add(
            *_band_links(
                left,
                other,
                left_buckets,
                right_buckets,
                threshold,
                right is None,
                max_bucket_pairs,
            )
        )
    return links.result()


class _LinkSet:
    """Distinct scored pairs, gathered band by band.

    The same pair recurs in many bands; compacting whenever the pile doubles keeps memory
    proportional to the distinct links at an amortised O(log) cost per pair.
    """

    def __init__(self, n_right: int) -> None:
        self._n_right = n_right
        self._parts: list[tuple[Index, Scores]] = []
        self._pending = 0
        self._distinct = 0

    def add(self, left_index: Index, right_index: Index, scores: Scores) -> None:
        self._parts.append((left_index * self._n_right + right_index, scores))
        self._pending += len(left_index)
        if self._pending > max(1 << 20, 2 * self._distinct):
            self._compact()

    def _compact(self) -> None:
        keys = np.concatenate([part[0] for part in self._parts])
        scores = np.concatenate([part[1] for part in self._parts])
        distinct, first = np.unique(keys, return_index=True)
        self._parts = [(distinct, scores[first])]
        self._pending = self._distinct = len(distinct)

    def result(self) -> tuple[Index, Index, Scores]:
        if not self._parts:
            return _concat_pairs([])
        self._compact()
        keys, scores = self._parts[0]
        return keys // self._n_right, keys % self._n_right, scores


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

    Without ``right_bits`` the pairs are i < j within ``left_bits``. Every candidate is held
    in memory: for large inputs use ``dice_pairs_lsh``, which keeps only the links.
    """
    left = _as_bits(left_bits, "left_bits")
    right = None if right_bits is None else _checked_pair(left, right_bits)[1]
    left_index, right_index, _ = _lsh_links(left, right, 0.0, bands, rows, seed, max_bucket_pairs)
    return left_index, right_index


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
    """Like ``dice_pairs`` (``dice_pairs_within`` if ``right_bits`` is None) on LSH candidates.

    A pair with Hamming similarity s is found with probability
    ``lsh_candidate_probability(s, bands, rows)``. Candidates are scored inside their bucket
    and dropped below the threshold at once, so memory follows the links, not the candidates.
    Pairs come in (left, right) order.
    """
    left = _as_bits(left_bits, "left_bits")
    right = None if right_bits is None else _checked_pair(left, right_bits)[1]
    return _lsh_links(left, right, threshold, bands, rows, seed, max_bucket_pairs)


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
    n_left = int(left_index.max()) + 1
    n_right = int(right_index.max()) + 1
    scores = np.asarray(dice, dtype=np.float64)
    # Ties go to the lowest (left, right): put pairs in that order (they usually come so),
    # then a stable sort by score keeps it among equal scores.
    keys = left_index * n_right + right_index
    in_order = bool(np.all(keys[1:] > keys[:-1]))
    by_pair = np.arange(len(keys)) if in_order else np.argsort(keys, kind="stable")
    order = by_pair[np.argsort(-scores[by_pair], kind="stable")].astype(np.int64)
    kept = _greedy(order, left_index, right_index, n_left, n_right)
    return left_index[kept], right_index[kept], scores[kept]


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
