"""The distributional test's two-sample test: exactness under H0, power, and the
two norms (invariance.two_sample)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from invariance.two_sample import energy_test


def _brute_force_p(a, b, metric, n_permutations, seed):
    """The permutation p-value by direct block means, one permutation at a time."""
    z = np.vstack([a, b])
    dist = cdist(z, z, metric)
    k = len(a)

    def energy(order):
        d = dist[np.ix_(order, order)]
        return 2 * d[:k, k:].mean() - d[:k, :k].mean() - d[k:, k:].mean()

    rng = np.random.default_rng(seed)
    labels = np.zeros(len(z))
    labels[:k] = 1.0
    observed = energy(np.arange(len(z)))
    exceed = 0
    for _ in range(n_permutations):
        mask = rng.permutation(labels).astype(bool)
        exceed += energy(np.concatenate([np.flatnonzero(mask), np.flatnonzero(~mask)])) >= observed - 1e-12
    return (1 + exceed) / (1 + n_permutations), observed


@pytest.mark.parametrize("metric", ["euclidean", "cityblock"])
def test_matches_a_brute_force_permutation_test(metric):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(9, 5)), rng.normal(size=(7, 5)) + 0.4
    result = energy_test(a, b, n_permutations=299, seed=5, metrics=metric)
    p, statistic = _brute_force_p(a, b, metric, 299, 5)
    assert result.p_value == p
    assert result.statistic == pytest.approx(statistic, rel=1e-12)
    assert result.p_values == {metric: p}


def test_exact_under_the_null():
    # P(p ≤ α) ≤ α for exchangeable samples: 300 null pairs, α = 0.1 -> about 30 rejections
    rng = np.random.default_rng(1)
    p_values = [energy_test(rng.normal(size=(12, 4)), rng.normal(size=(12, 4)), n_permutations=99, seed=s).p_value
                for s in range(300)]
    rejections = sum(p <= 0.1 for p in p_values)
    assert 12 <= rejections <= 48  # binomial(300, 0.1): mean 30, sd 5.2


def test_effect_size_is_unbiased_under_the_null_and_large_under_a_shift():
    rng = np.random.default_rng(2)
    null = [energy_test(rng.normal(size=(16, 3)), rng.normal(size=(16, 3)), n_permutations=9).effect_size
            for _ in range(200)]
    assert abs(np.mean(null)) < 0.01  # the V-statistic version would average about 1/K ≈ 0.06
    shifted = energy_test(rng.normal(size=(32, 3)), rng.normal(size=(32, 3)) + 3.0)
    assert shifted.p_value == 0.001 and shifted.effect_size > 0.5


def test_cityblock_sees_a_change_of_marginal_shape_that_euclidean_misses():
    # uniform against Gaussian of the same variance, 48 independent coordinates: the
    # signature of torch's uniform initialisation against its rotations
    rng = np.random.default_rng(3)
    a = rng.uniform(-np.sqrt(3), np.sqrt(3), size=(256, 48))
    b = rng.normal(size=(256, 48))
    result = energy_test(a, b, seed=0)
    assert result.p_values["cityblock"] == 0.001 and result.p_values["euclidean"] > 0.05
    assert result.metric == "cityblock"
    # the min-p combination costs at most a factor of about 2 against the better norm
    assert result.p_values["cityblock"] <= result.p_value <= 0.01


def test_combined_p_value_lies_between_the_smallest_and_twice_it():
    rng = np.random.default_rng(4)
    for shift in (0.0, 0.2, 0.5):
        result = energy_test(rng.normal(size=(20, 6)), rng.normal(size=(20, 6)) + shift, seed=1)
        smallest = min(result.p_values.values())
        assert smallest <= result.p_value <= min(1.0, 2 * smallest + 0.01)


def test_identical_and_deterministic_samples():
    same = np.tile(np.arange(6.0), (5, 1))
    result = energy_test(same, same.copy())
    assert result.spread == 0.0 and result.statistic == 0.0 and result.p_value == 1.0 and result.effect_size == 0.0
    # deterministic on each side, apart by rounding: zero spread, recognisably so
    moved = energy_test(same, same + 1e-15)
    assert moved.spread == 0.0 and moved.between > 0
    assert moved.scale == pytest.approx(np.linalg.norm(np.arange(6.0)))


def test_reproducible_and_seeded():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(10, 3)), rng.normal(size=(10, 3))
    assert energy_test(a, b, seed=7) == energy_test(a, b, seed=7)
    assert energy_test(a, b, seed=7, n_permutations=1000).p_value != energy_test(a, b, seed=8).p_value


@pytest.mark.parametrize("kwargs, message", [
    (dict(a=np.zeros((3, 2)), b=np.zeros((3, 3))), "different dimensions"),
    (dict(a=np.zeros((1, 2)), b=np.zeros((3, 2))), "at least 2 draws"),
    (dict(a=np.full((3, 2), np.nan), b=np.zeros((3, 2))), "non-finite"),
    (dict(a=np.zeros((3, 2)), b=np.zeros((3, 2)), metrics="cosine"), "metrics must be distinct names"),
    (dict(a=np.zeros((3, 2)), b=np.zeros((3, 2)), n_permutations=0), "n_permutations must be a positive"),
])
def test_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        energy_test(**kwargs)
