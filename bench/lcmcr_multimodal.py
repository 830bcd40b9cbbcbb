"""Where LCMCR chains land on simulated five-list tables with multimodal posteriors.

    .venv/bin/python bench/lcmcr_multimodal.py [--table 124] [--chains 12]
        [--burnin 20000] [--samples 500] [--thinning 20]

Each table is drawn from a latent-class population (2–4 classes, capture probabilities
log-uniform on 0.002–0.6 per list, population sized for about 8,000 observed), the design
picked by ``--table`` as a random seed. Prints every chain's median, the split-R̂ over
the chains and whether ``tiphub estimate`` would say that they disagree.

Found by a scan of designs 100–135 with short chains. Table 124 (8,040 observed; truth
18,903): chains from the previous start (99.6% of the weight in one class) landed at
N ≈ 67,000–98,000 in 2 of 3 chains at burn-in 10,000 and 2 of 12 at burn-in 20,000; chains
from R's start (this sampler) landed at 25,800–31,700 in 12 of 12. At the reference settings
(burn-in 100,000, 1,000 × 100) both reach ≈ 27,000. Table 131 (7,834 observed; truth 70,726)
is the other way round: R's start left one chain of four at ≈ 18,700 for all 200,000 sweeps
while the other three and all of the previous start's chains gave ≈ 36,000–38,000 (split-R̂
1.58), which is what the several-chains check is for.
"""

from __future__ import annotations

import argparse

import numpy as np
import numpy.typing as npt

from tiphub.estimate.lcmcr import RHAT_LIMIT, lcmcr_chains

LISTS = 5
TARGET_OBSERVED = 8_000


def simulated_table(
    design: int,
) -> tuple[int, npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """(population size, capture histories, counts) of the simulated table ``design``."""
    rng = np.random.default_rng(design)
    classes = int(rng.integers(2, 5))
    weights = rng.dirichlet(np.ones(classes) * 0.7)
    capture = np.exp(rng.uniform(np.log(0.002), np.log(0.6), size=(classes, LISTS)))
    seen_share = float((weights * (1.0 - np.prod(1.0 - capture, axis=1))).sum())
    size = int(TARGET_OBSERVED / seen_share)
    member = rng.choice(classes, size=size, p=weights)
    on = rng.random((size, LISTS)) < capture[member]
    seen = on[on.any(axis=1)].astype(np.int64)
    histories, counts = np.unique(seen, axis=0, return_counts=True)
    return size, histories, counts.astype(np.int64)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", type=int, default=124, help="design seed (124, 131, …)")
    parser.add_argument("--chains", type=int, default=12)
    parser.add_argument("--burnin", type=int, default=20_000)
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument("--thinning", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    size, histories, counts = simulated_table(args.table)
    print(f"table {args.table}: {int(counts.sum()):,} observed, true population {size:,}")
    run = lcmcr_chains(
        histories, counts, chains=args.chains, burnin=args.burnin, samples=args.samples,
        thinning=args.thinning, seed=args.seed,
    )  # fmt: skip
    print("chain medians:", ", ".join(f"{m:,.0f}" for m in run.chain_medians()))
    rhat = run.split_rhat()
    verdict = "disagree" if rhat > RHAT_LIMIT else "agree"
    print(f"pooled median {run.median():,.0f}; split-R̂ {rhat:.3f}: the chains {verdict}")


if __name__ == "__main__":
    main()
