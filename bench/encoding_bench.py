"""Benchmark of the hardened Bloom-filter encodings. Prints its figures.

    .venv/bin/python bench/encoding_bench.py [--synthetic 50000] [--no-variants]

Targets (2 cores): encoding ≥ 5,000 records/s (aim 20,000+), a full 5,000 × 5,000 Dice
comparison under 1 s, FEBRL 4 linked on encodings with F1 ≥ 0.999 in under 5 s in total.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import TypeVar

import numpy as np
import pandas as pd

from tiphub.linkage.datasets import demo_person_records, febrl_records
from tiphub.linkage.encoding import (
    LSH_BANDS,
    LSH_ROWS,
    EncodingConfig,
    dice_pairs,
    dice_pairs_lsh,
    dice_pairs_within,
    encode,
    greedy_one_to_one,
)

T = TypeVar("T")
SECRET = b"benchmark secret, not for real use"
FEBRL_THRESHOLD = 0.55


def _entity(record_ids: list[str]) -> np.ndarray:
    entity: np.ndarray = pd.Series(record_ids).str.extract(r"rec-(\d+)-", expand=False).to_numpy()
    return entity


def febrl_link(
    left: pd.DataFrame, right: pd.DataFrame, config: EncodingConfig
) -> tuple[float, float, float, float]:
    """(precision, recall, F1, seconds) of encode + compare + greedy one-to-one."""
    start = time.perf_counter()
    left_encoded, right_encoded = encode(left, SECRET, config), encode(right, SECRET, config)
    pairs = dice_pairs(left_encoded.bits, right_encoded.bits, FEBRL_THRESHOLD)
    left_index, right_index, _ = greedy_one_to_one(*pairs)
    seconds = time.perf_counter() - start
    left_entity = _entity(left_encoded.record_ids)[left_index]
    right_entity = _entity(right_encoded.record_ids)[right_index]
    true_positives = int((left_entity == right_entity).sum())
    precision = true_positives / max(len(left_index), 1)
    recall = true_positives / len(left)
    f1 = 2 * precision * recall / (precision + recall) if true_positives else 0.0
    return precision, recall, f1, seconds


def _best_of(runs: int, work: Callable[[], T]) -> tuple[float, T]:
    """Fastest of several runs: this shared 2-core machine has noisy neighbours."""
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def encoding_rate(frame: pd.DataFrame) -> float:
    start = time.perf_counter()
    encode(frame, SECRET)
    return len(frame) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", type=int, default=50_000, help="synthetic records")
    parser.add_argument("--no-variants", action="store_true", help="skip the hardening table")
    args = parser.parse_args()

    left, right = febrl_records("febrl4")
    both = pd.concat([left, right], ignore_index=True)
    # Compile the numba kernels (cached on disk after the first run) outside the timings.
    warm = encode(both.head(200), SECRET)
    dice_pairs(warm.bits, warm.bits, 0.9)
    dice_pairs_lsh(warm.bits, None, 0.9)

    print(f"encoding FEBRL 4 ({len(both):,} records): {encoding_rate(both):,.0f} records/s")
    synthetic, _ = demo_person_records(args.synthetic)
    print(
        f"encoding synthetic demo records ({len(synthetic):,}): "
        f"{encoding_rate(synthetic):,.0f} records/s"
    )

    left_bits = encode(left, SECRET).bits
    right_bits = encode(right, SECRET).bits
    for threshold in (FEBRL_THRESHOLD, 0.7):
        seconds, found = _best_of(3, partial(dice_pairs, left_bits, right_bits, threshold))
        print(
            f"full Dice comparison {len(left_bits):,} x {len(right_bits):,} "
            f"({left_bits.shape[1] * 64} bits): {seconds:.3f} s (best of 3), "
            f"{len(found[0]):,} pairs ≥ {threshold}"
        )

    precision, recall, f1, seconds = febrl_link(left, right, EncodingConfig())
    print(
        f"FEBRL 4 on default encodings, threshold {FEBRL_THRESHOLD} + greedy 1:1: "
        f"precision {precision:.4f} recall {recall:.4f} F1 {f1:.4f}, total {seconds:.2f} s"
    )

    _lsh_figures(synthetic)
    if not args.no_variants:
        _variants(left, right)


def _lsh_figures(synthetic: pd.DataFrame) -> None:
    bits = encode(synthetic, SECRET).bits
    threshold = 0.8
    start = time.perf_counter()
    lsh = dice_pairs_lsh(bits, None, threshold)
    lsh_seconds = time.perf_counter() - start
    start = time.perf_counter()
    exact = dice_pairs_within(bits, threshold)
    exact_seconds = time.perf_counter() - start
    n_right = len(bits)
    recall = np.isin(exact[0] * n_right + exact[1], lsh[0] * n_right + lsh[1]).mean()
    print(
        f"deduplicating {len(bits):,} synthetic records at Dice ≥ {threshold}: "
        f"exact {exact_seconds:.1f} s ({len(exact[0]):,} pairs); LSH {LSH_BANDS}x{LSH_ROWS} "
        f"{lsh_seconds:.1f} s, recall of the exact pairs {recall:.4f}"
    )


def _variants(left: pd.DataFrame, right: pd.DataFrame) -> None:
    default = EncodingConfig()
    variants = {
        "no hardening (unkeyed, no diffusion, unbalanced)": EncodingConfig(
            keyed=False, diffusion_taps=0, balance=False
        ),
        "keyed + balanced, no diffusion": replace(default, diffusion_taps=0),
        "default (keyed, diffusion t=3, balanced)": default,
        "default + salt year_of_birth": replace(default, salt_field="year_of_birth"),
        "diffusion t=2": replace(default, diffusion_taps=2),
        "diffusion t=4": replace(default, diffusion_taps=4),
        "default + XOR folding": replace(default, fold=True),
    }
    print("FEBRL 4 by hardening, best threshold (0.50-0.95) with greedy 1:1:")
    for label, config in variants.items():
        threshold, precision, recall, f1 = _best_threshold(left, right, config)
        print(f"  {label:50} t {threshold:.2f} P {precision:.4f} R {recall:.4f} F1 {f1:.4f}")


def _best_threshold(
    left: pd.DataFrame, right: pd.DataFrame, config: EncodingConfig
) -> tuple[float, float, float, float]:
    left_encoded, right_encoded = encode(left, SECRET, config), encode(right, SECRET, config)
    # Greedy assignment takes pairs best first, so a higher threshold keeps a prefix of it.
    kept = greedy_one_to_one(*dice_pairs(left_encoded.bits, right_encoded.bits, 0.5))
    same = _entity(left_encoded.record_ids)[kept[0]] == _entity(right_encoded.record_ids)[kept[1]]
    best = (0.0, 0.0, 0.0, -1.0)
    for threshold in np.arange(0.5, 0.951, 0.025):
        linked = kept[2] >= threshold
        true_positives = int(same[linked].sum())
        precision = true_positives / max(int(linked.sum()), 1)
        recall = true_positives / len(left)
        f1 = 2 * precision * recall / (precision + recall) if true_positives else 0.0
        if f1 > best[3]:
            best = (float(threshold), precision, recall, f1)
    return best


if __name__ == "__main__":
    main()
