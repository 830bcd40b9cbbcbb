"""The synthetic templated-ad generator: deterministic, fictional contacts, sound truth, and
the scoring of predicted clusters against it."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

from tiphub.online.generator import generate_ads, score_clusters, write_csv, write_truth_csv


def test_same_seed_same_ads_other_seed_other_ads() -> None:
    first = generate_ads(120, seed=101)
    again = generate_ads(120, seed=101)
    other = generate_ads(120, seed=102)
    assert [ad.text for ad in first.ads] == [ad.text for ad in again.ads]
    assert first.truth == again.truth
    assert [ad.text for ad in first.ads] != [ad.text for ad in other.ads]


def test_counts_share_and_truth() -> None:
    generated = generate_ads(400, seed=103, template_share=0.5)
    assert len(generated.ads) == len(generated.truth) == 400
    assert len({ad.ad_id for ad in generated.ads}) == 400
    templated = [item for item in generated.truth if item.template_id is not None]
    assert len(templated) == 200
    assert all(item.network_id is not None for item in templated)
    sizes = Counter(item.template_id for item in templated)
    assert min(sizes.values()) >= 2
    assert set(sizes) <= set(generated.templates)


def test_languages_are_respected() -> None:
    generated = generate_ads(200, seed=104, languages=("ro", "ru"))
    assert {item.language for item in generated.truth} <= {"ro", "ru"}
    assert all(item.template_id is None or item.template_id.endswith(("-ro", "-ru")) for item in generated.truth)


def test_contacts_are_fictional_and_reused_within_networks() -> None:
    generated = generate_ads(600, seed=105, noise=0.0)
    by_network: dict[str, set[str]] = {}
    for ad, truth in zip(generated.ads, generated.truth, strict=True):
        if ad.contact is None:
            continue
        phone = re.fullmatch(r"\+44 7700 900\d{3}|\+1 \d{3} 555 01\d{2}", ad.contact)
        mail = re.fullmatch(r"[\w.]+@(example\.(com|org)|\w+\.test)", ad.contact)
        handle = re.fullmatch(r"@\w+ \(Telegram\)", ad.contact)
        assert phone or mail or handle
        if truth.network_id is not None:
            by_network.setdefault(truth.network_id, set()).add(ad.contact)
    network_sizes = Counter(item.network_id for item in generated.truth if item.network_id)
    # A network has at most three contacts however many ads it posts.
    assert all(len(contacts) <= 3 for contacts in by_network.values())
    assert max(network_sizes.values()) > 3


def test_csv_layout_and_truth(tmp_path: Path) -> None:
    generated = generate_ads(50, seed=106)
    ads_path, truth_path = tmp_path / "ads.csv", tmp_path / "truth.csv"
    write_csv(generated.ads, ads_path)
    write_truth_csv(generated, truth_path)
    with ads_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["ad_id", "title", "text", "location", "salary", "contact", "url", "seen_at"]
    assert [row["text"] for row in rows] == [ad.text for ad in generated.ads]
    with truth_path.open(encoding="utf-8", newline="") as handle:
        truth_rows = list(csv.DictReader(handle))
    assert [row["template_id"] or None for row in truth_rows] == [item.template_id for item in generated.truth]


def test_score_clusters_definitions() -> None:
    truth = {"a1": "A", "a2": "A", "a3": "A", "a4": "A", "a5": "A", "b1": "B", "b2": "B", "x": None}
    perfect = score_clusters([["a1", "a2", "a3", "a4", "a5"], ["b1", "b2"]], truth)
    assert perfect.template_recall == 1.0 and perfect.cluster_precision == 1.0
    # 4 of 5 A ads together is 80%: recalled; B split in two: not recalled.
    partial = score_clusters([["a1", "a2", "a3", "a4"], ["b1"], ["b2"]], truth)
    assert partial.template_recall == 0.5
    # A background ad in a cluster is an error; a merged B is wrong in the A-majority cluster.
    merged = score_clusters([["a1", "a2", "a3", "a4", "a5", "b1", "b2", "x"]], truth)
    assert merged.template_recall == 1.0
    assert merged.cluster_precision == 5 / 8
    assert score_clusters([], truth).template_recall == 0.0
