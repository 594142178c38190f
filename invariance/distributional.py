"""The distributional test: the whole algorithm, initialisation included.

K seeds on S and K other seeds on g(S), each run with the algorithm's own
initialisation (nothing transported); scores at fixed probe points x_j and
g x_j; an energy-distance permutation test (both the Euclidean and the ℓ1
norm, combined by min-p: :mod:`invariance.two_sample`) gives a p-value and an
effect size. It uses the first element of each group.

Seeds: the runs on S use (seed, "S", k), shared by every group; those on g(S)
(seed, G, "gS", k). A retest (:mod:`invariance.verdicts`, rule 4) draws both
sides afresh: (seed, G, "retest", "S", k) and (seed, G, "retest", "gS", k).
"""

from __future__ import annotations

import numpy as np

from invariance.algorithms import Algorithm, Task
from invariance.coupled import element
from symbench.seeding import derive_seed as derive
from invariance.two_sample import TwoSampleResult, energy_test


def base_seeds(seed: int, seeds: int, retest_of: str | None = None) -> list[int]:
    """Seeds of the K runs on S (shared by every group; a retest's are its group's own)."""
    path = ("S",) if retest_of is None else (retest_of, "retest", "S")
    return [derive(seed, *path, k) for k in range(seeds)]


def sample_base(alg: Algorithm, task: Task, seeds: int, seed: int = 0, retest_of: str | None = None) -> np.ndarray:
    """Scores at the probe points of the K runs on S: (K, n_probe, C)."""
    return alg.sample(task.X_train, task.y_train, task.probe, base_seeds(seed, seeds, retest_of), task.n_classes)


def distributional_test(alg: Algorithm, task: Task, group: str, *, seeds: int = 32, seed: int = 0,
                        base_sample: np.ndarray | None = None, n_permutations: int = 999,
                        retest: bool = False) -> TwoSampleResult:
    """K runs on S against K runs on g(S), g = element 0 of ``group``: scores at
    the probe points x_j and g x_j (for a label permutation: g applied to the
    scores of the runs on S against runs on the permuted labels). ``retest``
    draws both samples from fresh seeds."""
    g = element(group, task, 0, seed)
    if retest:
        a = sample_base(alg, task, seeds, seed, retest_of=group)
        seeds_b = [derive(seed, group, "retest", "gS", k) for k in range(seeds)]
    else:
        a = sample_base(alg, task, seeds, seed) if base_sample is None else base_sample
        seeds_b = [derive(seed, group, "gS", k) for k in range(seeds)]
    C = task.n_classes
    if g.acts_on == "outputs":
        a = g.apply(a)
        b = alg.sample(task.X_train, g.apply_labels(task.y_train), task.probe, seeds_b, C)
    else:
        b = alg.sample(g.apply(task.X_train), task.y_train, g.apply(task.probe), seeds_b, C)
    path = (group, "retest", "permutations") if retest else (group, "permutations")
    return energy_test(a.reshape(len(a), -1), b.reshape(len(b), -1), n_permutations=n_permutations,
                       seed=derive(seed, *path))
