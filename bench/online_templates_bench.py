"""Template clustering benchmark: recall, precision, time and memory on generated ads.

    .venv/bin/python bench/online_templates_bench.py [--sizes 1000,10000,100000] [--seed 9001]

For each size, generates that many ads (half from network templates, half unrelated; seeds
never used while tuning the clustering), clusters them with
``tiphub.online.templates.cluster_templates`` and prints template recall and cluster precision
(definitions in ``tiphub.online.generator.score_clusters``), the seconds spent clustering (the
generation is not timed) and the process's peak memory. Targets (issue 16): template recall
>= 0.95 and cluster precision >= 0.95; 100,000 ads in under 60 s.
"""

from __future__ import annotations

import argparse
import resource
import time

from tiphub.online.generator import generate_ads, score_clusters
from tiphub.online.templates import cluster_templates


def _run(size: int, seed: int) -> None:
    generated = generate_ads(size, seed=seed)
    ad_ids = [ad.ad_id for ad in generated.ads]
    texts = [ad.full_text for ad in generated.ads]
    started = time.perf_counter()
    clusters = cluster_templates(ad_ids, texts)
    seconds = time.perf_counter() - started
    scores = score_clusters([cluster.ad_ids for cluster in clusters], generated.template_of())
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"ads {size:>9,}  templates {scores.true_templates:>6,}  clusters {scores.predicted_clusters:>6,}  "
        f"template recall {scores.template_recall:.4f}  cluster precision {scores.cluster_precision:.4f}  "
        f"{seconds:7.1f} s  peak {peak_mb:,.0f} MB",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated numbers of ads")
    parser.add_argument("--seed", type=int, default=9001, help="generator seed (default 9001)")
    arguments = parser.parse_args()
    for size in (int(part) for part in arguments.sizes.split(",") if part.strip()):
        _run(size, arguments.seed)


if __name__ == "__main__":
    main()
