"""Union-find over integer nodes, compiled: linkage clusters records with it and the
estimate's linkage-error bootstrap redraws clusters with it."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def find_root(parent: np.ndarray, node: int) -> int:
    """The root of ``node``'s set, compressing the path to it on the way."""
    root = node
    while parent[root] != root:
        root = parent[root]
    while parent[node] != root:
        parent[node], node = root, parent[node]
    return root
