"""The import's memory of fingerprints answers like a dict, across its merges."""

from __future__ import annotations

import random

import pytest

from tiphub.exchange import seen
from tiphub.exchange.seen import FingerprintMap


def test_the_map_answers_like_a_dict_across_merges(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(seen, "BUFFER", 97)  # many merges, at a prime stride
    rng = random.Random(5)
    keys = [rng.randrange(-(2**63), 2**63) for _ in range(3_000)]
    keys += [-(2**63), 2**63 - 1, 0]
    reference: dict[int, int] = {}
    fingerprints = FingerprintMap()
    for key in keys + keys[:500]:  # the second pass hits stored keys only
        value = rng.randrange(2**60)
        assert fingerprints.setdefault(key, value) == reference.setdefault(key, value)
    assert len(fingerprints) == len(reference)
    for key, value in reference.items():
        assert key in fingerprints and fingerprints.get(key) == value
    absent = [rng.randrange(-(2**63), 2**63) for _ in range(500)]
    assert not any(key in fingerprints for key in absent if key not in reference)
    assert all(fingerprints.get(key) is None for key in absent if key not in reference)
