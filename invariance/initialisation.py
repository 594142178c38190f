"""The initialisation test: is the law of what g acts on invariant under g?

The coupled test transports the initialisation (W1 -> W1 g⁻¹), so it sees the
update rule only; an algorithm in Abbe & Boix-Adsera's sense includes its
initialisation, and torch's default ``nn.Linear`` draw (i.i.d. uniform entries:
a cube) is not rotation invariant. Predictions after training carry that
asymmetry too weakly for the distributional test to see (measured: p = 0.66,
0.29, 0.19), but the parameters themselves carry it fully, and drawing them
costs nothing: nothing is trained.

Test, per group: N initialisations θ₀ from seeds (seed, "init", "S", k) against
N others from (seed, G, "init", "gS", k) moved by g (element 0 of the group, as
in the distributional test). g acts on one block of parameters, arranged as a
matrix M whose *columns* g moves:

* input groups: the first layer W1 (h × d), M' = W1 g⁻¹ (what
  :func:`invariance.algorithms.transport_model` does);
* output groups (label permutations): the last layer and its bias as
  M = [W_Lᵀ; b_Lᵀ] ((h+1) × C), M' = M with permuted columns.

H0: M' has the law of M. Each draw is summarised by features that a
non-invariant law moves: the quantiles of M's entries (the shape of the entry
distribution: uniform against the near-Gaussian of a rotated cube, or a
non-centred draw under sign flips), the columns' means and mean squares (a
column singled out, under permutations and sign flips), and the columns'
normalised Gram entries (correlations between inputs). Each feature is
standardised by its pooled standard deviation and each of the four blocks
weighted by 1/√(its size), so that no block drowns the others; features
constant over the pooled sample are dropped (zero biases). The statistic is
the energy distance with the Euclidean and the ℓ1 norm, combined by min-p,
with a permutation p-value (:func:`invariance.two_sample.energy_test`): draws
are i.i.d. across seeds and the standardisation is symmetric in the two
samples, so the test is exact at any N, whatever the dependence inside a
draw (an orthogonal initialisation's rows are dependent).

Power (tests/test_checker_initialisation.py): torch-default under rotations
gives the smallest attainable p-value (1/(P+1)) at N = 64 already; Gaussian and
orthogonal draws under rotations, and all three under signed permutations,
give uniform p-values.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from invariance.algorithms import Algorithm, Task
from invariance.coupled import element
from symbench.seeding import derive_seed as derive
from invariance.two_sample import TwoSampleResult, energy_test

N_QUANTILES = 16
#: spreads at or below √ε (float64) times a block's scale are rounding, not randomness
ROUNDING = float(np.sqrt(np.finfo(np.float64).eps))


def init_seeds(seed: int, draws: int, group: str | None = None, side: str = "S", retest: bool = False) -> list[int]:
    """Seeds of the N initialisations of one side ("S": unmoved, shared by the groups
    except on a retest; "gS": moved by g)."""
    if side == "S" and not retest:
        path = ("init", "S")
    else:
        path = (group, "init", *(("retest",) if retest else ()), side)
    return [derive(seed, *path, k) for k in range(draws)]


def features(M: np.ndarray) -> list[tuple[np.ndarray, float]]:
    """Per-draw feature blocks of matrices M (N, r, c), g acting on the columns,
    each with its reference scale (for the rounding test of :func:`standardised`)."""
    N, r, c = M.shape
    entry_scale = float(np.sqrt(np.mean(M ** 2)))
    levels = (np.arange(N_QUANTILES) + 0.5) / N_QUANTILES
    quantiles = np.quantile(M.reshape(N, -1), levels, axis=1).T
    means = M.mean(axis=1)
    squares = (M ** 2).mean(axis=1)
    blocks = [(quantiles, entry_scale), (means, entry_scale), (squares, entry_scale ** 2)]
    if c > 1:
        gram = np.einsum("nrc,nrd->ncd", M, M) / r
        upper = np.triu_indices(c, 1)
        blocks.append((gram[:, upper[0], upper[1]], entry_scale ** 2))
    return blocks


def standardised(a_blocks: Sequence[tuple[np.ndarray, float]], b_blocks: Sequence[tuple[np.ndarray, float]]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Both samples' features, standardised by pooled statistics, blocks weighted 1/√size.

    A feature whose pooled spread is at rounding level (≤ √ε times its block's
    scale: the column norms and Gram entries of an orthogonal draw are constant
    in exact arithmetic) is dropped: standardising it would turn the rounding
    of g itself into a "difference"."""
    a_out, b_out = [], []
    for (a, scale), (b, _) in zip(a_blocks, b_blocks):
        pooled = np.vstack([a, b])
        sd = pooled.std(axis=0)
        keep = sd > ROUNDING * max(scale, np.finfo(np.float64).tiny)
        if not keep.any():
            continue
        centre = pooled.mean(axis=0)[keep]
        weight = 1.0 / (sd[keep] * np.sqrt(keep.sum()))
        a_out.append((a[:, keep] - centre) * weight)
        b_out.append((b[:, keep] - centre) * weight)
    if not a_out:
        return np.zeros((len(a_blocks[0][0]), 1)), np.zeros((len(b_blocks[0][0]), 1))
    return np.hstack(a_out), np.hstack(b_out)


def moved_block(alg: Algorithm, task: Task, g, seeds: Sequence[int]) -> np.ndarray:
    """The block g acts on, for initialisations from ``seeds``, moved by g."""
    M = alg.initial_block(task.d, task.n_classes, seeds, g.acts_on)
    if g.acts_on == "inputs":
        return np.stack([np.asarray(g.transport_first_layer(W), dtype=np.float64) for W in M])
    return np.asarray(g.apply(M), dtype=np.float64)


def initialisation_test(alg: Algorithm, task: Task, group: str, *, draws: int = 256, seed: int = 0,
                        n_permutations: int = 999, retest: bool = False,
                        base_blocks: dict | None = None) -> TwoSampleResult:
    """N unmoved initialisations against N moved by g = element 0 of ``group``.
    ``base_blocks`` caches the unmoved draws per (acts_on, draws) across groups."""
    g = element(group, task, 0, seed)
    cache = {} if base_blocks is None else base_blocks
    if retest:
        a = alg.initial_block(task.d, task.n_classes, init_seeds(seed, draws, group, "S", retest=True), g.acts_on)
    else:
        key = (g.acts_on, draws)
        if key not in cache:
            cache[key] = alg.initial_block(task.d, task.n_classes, init_seeds(seed, draws), g.acts_on)
        a = cache[key]
    b = moved_block(alg, task, g, init_seeds(seed, draws, group, "gS", retest))
    fa, fb = standardised(features(a), features(b))
    path = (group, "init", "retest", "permutations") if retest else (group, "init", "permutations")
    return energy_test(fa, fb, n_permutations=n_permutations, seed=derive(seed, *path))
