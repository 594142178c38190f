"""Two-sample tests for the distributional equivariance test.

Given K predictions of algorithm A trained on S (rows of ``a``) and K of A
trained on g(S) evaluated at the transformed points (rows of ``b``), test
H0: both samples come from the same distribution.

Statistic: the energy distance (Székely & Rizzo 2004)

    E = 2 E|A − B| − E|A − A'| − E|B − B'|,

which is zero iff the two distributions are equal, with a permutation test for
its p-value (exact under H0 for exchangeable samples, no asymptotics at
K = 32). The effect size is Székely's homogeneity coefficient
H = E / (2 E|A − B|) ∈ [0, 1]: the share of the between-sample distance not
explained by the within-sample spread.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TwoSampleResult:
    statistic: float       # the energy distance E
    p_value: float         # permutation p-value, (1 + #{E_perm ≥ E}) / (1 + n_perm)
    effect_size: float     # H = E / (2 E|A − B|), 0 when the samples coincide
    spread: float          # mean within-sample distance: 0 for a deterministic algorithm
    between: float         # mean between-sample distance E|A − B|


def _pairwise(z: np.ndarray) -> np.ndarray:
    # direct differences, not |a|²+|b|²−2a·b: identical draws must be at distance
    # exactly 0, so that a deterministic algorithm is recognised as such
    diff = z[:, None, :] - z[None, :, :]
    return np.sqrt(np.einsum("ijk,ijk->ij", diff, diff))


def _energy(dist: np.ndarray, in_a: np.ndarray) -> tuple[float, float, float, float]:
    """E, E|A−B|, E|A−A'|, E|B−B'| from a pooled distance matrix and a membership mask.
    Within-sample means are V-statistics (the diagonal counts), as in scipy/dcor."""
    ab = dist[np.ix_(in_a, ~in_a)].mean()
    aa = dist[np.ix_(in_a, in_a)].mean()
    bb = dist[np.ix_(~in_a, ~in_a)].mean()
    return 2 * ab - aa - bb, ab, aa, bb


def energy_test(a: np.ndarray, b: np.ndarray, n_permutations: int = 999, seed: int = 0) -> TwoSampleResult:
    """Energy-distance permutation test between samples ``a`` (K, p) and ``b`` (L, p)."""
    a = np.asarray(a, dtype=np.float64).reshape(len(a), -1)
    b = np.asarray(b, dtype=np.float64).reshape(len(b), -1)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"samples have different dimensions: {a.shape[1]} and {b.shape[1]}")
    if len(a) < 2 or len(b) < 2:
        raise ValueError(f"need at least 2 draws per sample, got {len(a)} and {len(b)}")
    pooled = np.vstack([a, b])
    dist = _pairwise(pooled)
    in_a = np.zeros(len(pooled), dtype=bool)
    in_a[: len(a)] = True
    stat, ab, aa, bb = _energy(dist, in_a)
    rng = np.random.default_rng(seed)
    exceed = 0
    for _ in range(n_permutations):
        perm = rng.permutation(in_a)
        if _energy(dist, perm)[0] >= stat - 1e-12 * max(ab, 1e-300):
            exceed += 1
    effect = float(stat / (2 * ab)) if ab > 0 else 0.0
    return TwoSampleResult(float(stat), (1 + exceed) / (1 + n_permutations), effect, float((aa + bb) / 2), float(ab))
