"""Template clustering: recovers generated templates (seeds not used in tuning), keeps every
ad in at most one cluster, shows the constant words and the slot values."""

from __future__ import annotations

import random

import pytest

from tiphub.online.generator import generate_ads, score_clusters
from tiphub.online.templates import TemplateCluster, cluster_templates


def _cluster(ads_texts: list[tuple[str, str]]) -> list[TemplateCluster]:
    return cluster_templates([ad_id for ad_id, _ in ads_texts], [text for _, text in ads_texts])


@pytest.mark.parametrize("seed", [301, 302, 303])
def test_generated_templates_are_recovered(seed: int) -> None:
    generated = generate_ads(800, seed=seed)
    clusters = cluster_templates([ad.ad_id for ad in generated.ads], [ad.full_text for ad in generated.ads])
    scores = score_clusters([cluster.ad_ids for cluster in clusters], generated.template_of())
    assert scores.true_templates >= 10
    assert scores.template_recall >= 0.95
    assert scores.cluster_precision >= 0.95


def test_every_ad_in_at_most_one_cluster_and_no_singletons() -> None:
    generated = generate_ads(500, seed=204, noise=0.6)
    clusters = cluster_templates([ad.ad_id for ad in generated.ads], [ad.full_text for ad in generated.ads])
    placed = [ad_id for cluster in clusters for ad_id in cluster.ad_ids]
    assert len(placed) == len(set(placed))
    assert set(placed) <= {ad.ad_id for ad in generated.ads}
    assert all(len(cluster.ad_ids) >= 2 for cluster in clusters)
    assert len({cluster.id for cluster in clusters}) == len(clusters)


def test_cluster_ids_are_stable_for_the_same_members() -> None:
    generated = generate_ads(300, seed=205)
    ids = [ad.ad_id for ad in generated.ads]
    texts = [ad.full_text for ad in generated.ads]
    first = cluster_templates(ids, texts)
    # Input order must not change which clusters are found, nor their ids.
    order = list(range(len(ids)))
    random.Random(1).shuffle(order)
    second = cluster_templates([ids[i] for i in order], [texts[i] for i in order])
    assert {cluster.id: cluster.ad_ids for cluster in first} == {cluster.id: cluster.ad_ids for cluster in second}
    assert all(cluster.id.startswith("t-") for cluster in first)


ENGLISH = (
    "Urgent! Wonderful Horizons Staffing needs a {job} in {city}. Salary {pay} euro per month, "
    "flight and room paid by us. No experience needed. Call {name} on {phone} today."
)
FRENCH = (
    "Urgent ! Wonderful Horizons Staffing cherche un {job} à {city}. Salaire {pay} euros par mois, "
    "vol et chambre payés par nous. Sans expérience. Appelez {name} au {phone} aujourd'hui."
)


def _planted(template: str, prefix: str, count: int, rng: random.Random) -> list[tuple[str, str]]:
    jobs = ("cleaner", "driver", "cook", "waiter", "nanny", "packer")
    cities = ("Lisbon", "Porto", "Milan", "Vienna", "Oslo", "Riga", "Sofia")
    names = ("Ana", "Ioan", "Maria", "Pavel", "Lena", "Tomas")
    return [
        (
            f"{prefix}-{number}",
            template.format(
                job=rng.choice(jobs), city=rng.choice(cities), pay=rng.randrange(15, 40) * 100,
                name=rng.choice(names), phone=f"+44 7700 900{rng.randrange(1000):03d}",
            ),
        )
        for number in range(count)
    ]


def test_planted_template_in_two_languages() -> None:
    rng = random.Random(206)
    english = _planted(ENGLISH, "en", 12, rng)
    french = _planted(FRENCH, "fr", 9, rng)
    background = generate_ads(150, seed=206, template_share=0.0)
    ads = english + french + [(ad.ad_id, ad.full_text) for ad in background.ads]
    rng.shuffle(ads)
    clusters = _cluster(ads)
    by_members = {frozenset(cluster.ad_ids): cluster for cluster in clusters}
    english_cluster = by_members[frozenset(ad_id for ad_id, _ in english)]
    french_cluster = by_members[frozenset(ad_id for ad_id, _ in french)]
    assert len(clusters) == 2
    for word in ("Wonderful Horizons Staffing", "per month", "No experience needed", "Call"):
        assert word in english_cluster.template
    for word in ("Wonderful Horizons Staffing", "par mois", "Sans expérience", "Appelez"):
        assert word in french_cluster.template
    assert "{slot" in english_cluster.template
    slot_values = {value for values in english_cluster.slots.values() for value in values}
    assert {"Lisbon", "Porto"} & slot_values
    # The constant words are never shown as slot values, and contacts are never shown at all.
    assert "Staffing" not in " ".join(slot_values)
    for cluster in clusters:
        shown = cluster.template + " ".join(value for values in cluster.slots.values() for value in values)
        assert "7700" not in shown
        assert "[contact]" in cluster.template


def test_empty_and_tiny_inputs() -> None:
    assert cluster_templates([], []) == []
    assert cluster_templates(["only"], ["Work abroad, salary 2000 euro, call now."]) == []
    assert cluster_templates(["a", "b"], ["", ""]) == []
    assert cluster_templates(["a", "b"], ["short", "words"]) == []


def test_identical_ads_form_one_cluster() -> None:
    text = "Hotel staff wanted in Dubai, free visa and flight, salary 3000 dollars, write now."
    clusters = cluster_templates(["x1", "x2", "x3"], [text, text, text])
    assert [cluster.ad_ids for cluster in clusters] == [("x1", "x2", "x3")]
    assert "free visa and flight" in clusters[0].template


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        cluster_templates(["a"], ["one", "two"])
    with pytest.raises(ValueError):
        cluster_templates(["a", "a"], ["one", "two"])
