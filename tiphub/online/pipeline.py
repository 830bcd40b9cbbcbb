"""Screening of the stored ads: indicators, the calibrated classifier, the licence register
and template clustering, combined into one decision per ad and stored.

An ad is flagged when a register check fails, when its indicators weigh enough on their
own (``FLAG_WEIGHT``: two strong ones, or a strong one and two medium ones…), or when the
classifier's probability at the real prevalence reaches its threshold and at least one
indicator backs it (``CLASSIFIER_BACKING``). The classifier alone never flags: it learned
employment scams from English ads of one platform (EMSCAD), and on other ads its score
measures partly how unlike that platform's honest ads they are (a short honest ad scores
high). Every flag is explained: each indicator carries the words that triggered it, and a
classifier flag also carries the words that pushed the score up (indicator ``classifier``). Clusters are found within
each organisation's ads, since an organisation sees only its own.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from tiphub.cases.access import Principal
from tiphub.online.ads import Contact, IndicatorHit, RawAd
from tiphub.online.hub import AdResult, StoredAd, StoredCluster

DEFAULT_PREVALENCE = 0.05
CLASSIFIER_INDICATOR = "classifier"
STRENGTH_WEIGHTS = {"strong": 2.0, "medium": 1.0, "weak": 0.5}
FLAG_WEIGHT = 4.0
CLASSIFIER_BACKING = 1.0
REGISTER_PREFIX = "agency-"
MODELS = ("tfidf", "embeddings")
# A contact is evidence of one network when it recurs across a cluster's ads.
RECURRING_CONTACT_ADS = 2

Progress = Callable[[str], None]
# An ad is known by its organisation and its own ID (IDs are unique within an organisation).
AdKey = tuple[str, str]


@dataclass(frozen=True)
class ScreenedAd:
    ad: StoredAd
    result: AdResult

    def to_dict(self) -> dict[str, Any]:
        return {
            "ad_id": self.ad.ad_id,
            "organisation": self.ad.organisation,
            "score": None if self.result.score is None else round(self.result.score, 4),
            "flagged": self.result.flagged,
            "indicators": [hit.to_dict() for hit in self.result.indicators],
            "cluster_id": self.result.cluster_id,
            "sector": self.result.sector,
            "destination_country": self.result.destination_country,
        }


@dataclass
class ScreenRun:
    """What one screening run decided, with the figures a reader needs to judge it."""

    ads: list[ScreenedAd] = field(default_factory=list)
    clusters: list[StoredCluster] = field(default_factory=list)
    prevalence: float = DEFAULT_PREVALENCE
    threshold: float = 0.5
    register_used: bool = False
    model: str = "tfidf"

    @property
    def flagged(self) -> int:
        return sum(1 for item in self.ads if item.result.flagged)

    def indicator_counts(self) -> Counter[str]:
        return Counter(
            hit.id for item in self.ads if item.result.flagged for hit in item.result.indicators
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ads": [item.to_dict() for item in self.ads],
            "prevalence": self.prevalence,
            "threshold": round(self.threshold, 4),
            "register_used": self.register_used,
            "model": self.model,
            "flagged": self.flagged,
        }


def _as_raw(ad: StoredAd) -> RawAd:
    return RawAd(
        ad_id=ad.ad_id,
        text=ad.text,
        title=ad.title,
        location=ad.location,
        salary=ad.salary,
        seen_at=ad.seen_at,
        source=ad.source,
        kind=ad.kind,
    )


def _contact_kinds(ad: StoredAd) -> list[Contact]:
    """The ad's contacts as the indicator rules read them: by kind only, since stored
    contacts are keyed hashes (the value here is the hash, never the contact)."""
    return [Contact(kind=kind, value=digest) for kind, digest in ad.contact_hashes]


def flag_weight(hits: Sequence[IndicatorHit], strengths: dict[str, str]) -> float:
    return sum(STRENGTH_WEIGHTS.get(strengths.get(hit.id, "weak"), 0.5) for hit in hits)


def _register_hits(
    engine: Engine, principal: Principal, ads: Sequence[StoredAd]
) -> tuple[list[list[IndicatorHit]], bool]:
    """Each ad checked against its own organisation's licence register, where it has one."""
    from tiphub.online.hub import stored_register
    from tiphub.online.register import check_register_hashed

    hits: list[list[IndicatorHit]] = [[] for _ in ads]
    by_organisation: dict[str, list[int]] = defaultdict(list)
    for position, ad in enumerate(ads):
        by_organisation[ad.organisation].append(position)
    used = False
    for organisation, positions in by_organisation.items():
        register = stored_register(engine, principal, organisation=organisation)
        if register is None:
            continue
        used = True
        members = [ads[position] for position in positions]
        found = check_register_hashed(
            register, [_as_raw(ad) for ad in members], [ad.contact_hashes for ad in members]
        )
        for position, ad_hits in zip(positions, found, strict=True):
            hits[position] = list(ad_hits)
    return hits, used


def _clusters(
    ads: Sequence[StoredAd],
) -> tuple[dict[AdKey, str], list[StoredCluster]]:
    from tiphub.online.templates import cluster_templates

    by_organisation: dict[str, list[StoredAd]] = defaultdict(list)
    for ad in ads:
        by_organisation[ad.organisation].append(ad)
    membership: dict[AdKey, str] = {}
    clusters: list[StoredCluster] = []
    for organisation, members in sorted(by_organisation.items()):
        by_ad_id = {ad.ad_id: ad for ad in members}
        found = cluster_templates([ad.ad_id for ad in members], [_text(ad) for ad in members])
        for cluster in found:
            seen: Counter[str] = Counter()
            for ad_id in cluster.ad_ids:
                ad = by_ad_id[ad_id]
                membership[(organisation, ad_id)] = cluster.id
                seen.update({digest for _kind, digest in ad.contact_hashes})
            recurring = tuple(sorted(d for d, n in seen.items() if n >= RECURRING_CONTACT_ADS))
            clusters.append(
                StoredCluster(
                    id=cluster.id,
                    organisation=organisation,
                    template=cluster.template,
                    ad_ids=tuple(cluster.ad_ids),
                    contacts=recurring,
                )
            )
    return membership, clusters


def _text(ad: StoredAd) -> str:
    return "\n".join(part for part in (ad.title, ad.text) if part)


def screen_stored(
    engine: Engine,
    principal: Principal,
    *,
    prevalence: float = DEFAULT_PREVALENCE,
    threshold: float | None = None,
    progress: Progress | None = None,
    save: bool = True,
    model_name: str = "tfidf",
) -> ScreenRun:
    """Screen every stored ad in the principal's scope and store the decisions.
    ``model_name`` chooses the classifier: ``tfidf`` or ``embeddings``
    (``tiphub.online.classifier.classifier_for``)."""
    from tiphub.online.classifier import classifier_for
    from tiphub.online.hub import save_results, stored_ads
    from tiphub.online.indicators import (
        detect_destination,
        detect_sector,
        find_indicators,
        indicator_catalogue,
    )

    if not 0.0 < prevalence < 1.0:
        raise ValueError("--prevalence: a share between 0 and 1 (about 0.05 for job ads)")
    if threshold is not None and not 0.0 <= threshold <= 1.0:
        raise ValueError("--threshold: a probability between 0 and 1")
    say = progress or (lambda _message: None)
    ads = stored_ads(engine, principal)
    run = ScreenRun(prevalence=prevalence, model=model_name)
    if model_name not in MODELS:
        raise ValueError(f"--model: one of {', '.join(MODELS)}, not {model_name!r}")
    if not ads:
        return run
    raw = [_as_raw(ad) for ad in ads]
    say(f"indicator rules on {len(ads):,} ads")
    rule_hits = find_indicators(raw, [_contact_kinds(ad) for ad in ads])
    strengths = {rule.id: rule.strength for rule in indicator_catalogue()}
    say("register check")
    register_hits, run.register_used = _register_hits(engine, principal, ads)
    say("classifier")
    model = classifier_for(model_name, prevalence=prevalence)
    run.threshold = model.threshold if threshold is None else threshold
    texts = [_text(ad) for ad in ads]
    scores = [float(score) for score in model.predict_proba(texts)]
    say("template clustering")
    membership, run.clusters = _clusters(ads)
    results: list[AdResult] = []
    for ad, text, score, hits, checks in zip(
        ads, texts, scores, rule_hits, register_hits, strict=True
    ):
        indicators = list(hits) + list(checks)
        weight = flag_weight(hits, strengths)
        by_model = score >= run.threshold and weight >= CLASSIFIER_BACKING
        if by_model:
            indicators.append(IndicatorHit(CLASSIFIER_INDICATOR, tuple(model.explain(text))))
        flagged = by_model or bool(checks) or weight >= FLAG_WEIGHT
        raw_ad = _as_raw(ad)
        result = AdResult(
            row_id=ad.row_id,
            score=score,
            flagged=flagged,
            indicators=tuple(indicators),
            cluster_id=membership.get((ad.organisation, ad.ad_id)),
            sector=detect_sector(raw_ad),
            destination_country=detect_destination(raw_ad),
        )
        run.ads.append(ScreenedAd(ad, result))
        results.append(result)
    if save:
        say("storing the results")
        save_results(engine, principal, results, run.clusters)
    return run


def bundle_signing_key() -> bytes:
    """The key that signs this hub's evidence bundles: derived from its blind-index key, so
    a bundle verifies as this hub's wherever that key is, and nowhere else."""
    from tiphub.store.crypto import keyring

    return bytes.fromhex(keyring().blind_index("online.evidence-bundle", "signing key"))
