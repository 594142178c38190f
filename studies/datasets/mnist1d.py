"""MNIST-1D (Greydanus & Steinbach): 40-sample 1-D signals of the ten digits, generated locally.

Our own implementation of the generator of the ``mnist1d`` package (v0.0.2),
written for two reasons: that package is an optional dependency, and its
generator seeds and draws from numpy's *global* RNG (``np.random.seed``), which
this project never touches. Here every draw comes from a private
``np.random.RandomState(seed)``, in the same order as the reference, so the
default configuration (seed 42) reproduces the package's ``make_dataset``
output; ``tests/test_datasets_registry.py`` checks this against the installed
package when it is present. (Its ``get_dataset`` downloads a pickle by default;
we never do.)

Generation of one example of digit c (L = template_len + padding_high = 72):

1. template: 12 hand-drawn values per digit, whitened (zero mean, unit std),
   shifted so the signal starts at 0, divided by 6; add 1e-8 so it is non-zero;
2. pad with p zeros on the right, p = low + ⌊u·(high − low + 1)⌋, u ~ U[0,1);
3. resample linearly to L points (np.interp on [0, 1] grids: a dilation);
4. scale by 1 + scale_coeff·(u − 1/2);
5. translate cyclically by k ∈ {0, …, max_translation − 1}: x ← (x[−k:], x[:−k]);
6. where the signal is exactly 0 (the padding), put correlated noise:
   Gaussian (std corr_noise_scale) smoothed by a Gaussian filter of σ = 2;
7. add i.i.d. Gaussian noise (std iid_noise_scale);
8. shear: subtract shear_scale·(u − 1/2)·linspace(−1/2, 1/2, L);
9. resample linearly to final_seq_length = 40 points.

Per example the draws are, in order: u (pad), u (scale), k, L normals
(correlated noise), L normals (i.i.d. noise), u (shear); examples are made
digit by digit (num_samples // 10 each), then shuffled by one permutation, the
whole set is standardised by its own mean and std, and the first
train_split·N examples are the training set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

# the ten 12-point digit templates of MNIST-1D (data, as published with the dataset)
_RAW_TEMPLATES = np.array(
    [
        [5, 6, 6.5, 6.75, 7, 7, 7, 7, 6.75, 6.5, 6, 5],
        [5, 3, 3, 3.4, 3.8, 4.2, 4.6, 5, 5.4, 5.8, 5, 5],
        [5, 6, 6.5, 6.5, 6, 5.25, 4.75, 4, 3.5, 3.5, 4, 5],
        [5, 6, 6.5, 6.5, 6, 5, 5, 6, 6.5, 6.5, 6, 5],
        [5, 4.4, 3.8, 3.2, 2.6, 2.6, 5, 5, 5, 5, 5, 5],
        [5, 3, 3, 3, 3, 5, 6, 6.5, 6.5, 6, 4.5, 5],
        [5, 4, 3.5, 3.25, 3, 3, 3, 3, 3.25, 3.5, 4, 5],
        [5, 7, 7, 6.6, 6.2, 5.8, 5.4, 5, 4.6, 4.2, 5, 5],
        [5, 4, 3.5, 3.5, 4, 5, 5, 4, 3.5, 3.5, 4, 5],
        [5, 4, 3.5, 3.5, 4, 5, 5, 5, 5, 4.7, 4.3, 5],
    ]
)
_TEMPLATE_OFFSET = 1e-8  # keeps the template non-zero, so step 6 finds only the padding
_CORRELATION_SIGMA = 2.0


@dataclass(frozen=True)
class MNIST1DConfig:
    """The generator's parameters; the defaults are MNIST-1D's."""

    num_samples: int = 5000
    train_split: float = 0.8
    template_len: int = 12
    padding: tuple[int, int] = (36, 60)
    scale_coeff: float = 0.4
    max_translation: int = 48
    corr_noise_scale: float = 0.25
    iid_noise_scale: float = 2e-2
    shear_scale: float = 0.75
    shuffle_seq: bool = False
    final_seq_length: int = 40
    seed: int = 42


def templates() -> np.ndarray:
    """The ten whitened templates (10, 12): zero mean, unit std, starting at 0, divided by 6."""
    x = _RAW_TEMPLATES - _RAW_TEMPLATES.mean(axis=1, keepdims=True)
    x = x / x.std(axis=1, keepdims=True)
    x = x - x[:, :1]
    return x / 6.0


def _resample(x: np.ndarray, length: int) -> np.ndarray:
    """Linear resampling of a 1-D signal onto ``length`` points, both on [0, 1] grids."""
    return np.interp(np.linspace(0, 1, length), np.linspace(0, 1, len(x)), x)


def generate(config: MNIST1DConfig = MNIST1DConfig()) -> dict[str, np.ndarray]:
    """{"x_train", "y_train", "x_test", "y_test"}: float64 signals (N, 40) and int64 labels."""
    if config.num_samples < 10:
        raise ValueError(f"MNIST-1D num_samples must be at least 10 (one per digit), got {config.num_samples}")
    rng = np.random.RandomState(config.seed)  # legacy MT19937 stream: the reference's draws, privately
    shapes = templates()
    n_per_class = config.num_samples // len(shapes)
    labels = np.repeat(np.arange(len(shapes)), n_per_class)
    n = labels.size
    low, high = config.padding
    length = config.template_len + high

    pad_u, scale_u, shear_u = np.empty(n), np.empty(n), np.empty(n)
    shifts = np.empty(n, dtype=np.int64)
    corr_noise, iid_noise = np.empty((n, length)), np.empty((n, length))
    for i in range(n):  # the reference's draw order, example by example
        pad_u[i] = rng.rand()
        scale_u[i] = rng.rand()
        shifts[i] = rng.choice(config.max_translation)
        corr_noise[i] = config.corr_noise_scale * rng.randn(length)
        iid_noise[i] = config.iid_noise_scale * rng.randn(length)
        shear_u[i] = rng.rand()

    pads = low + (pad_u * (high - low + 1)).astype(np.int64)
    signals = np.stack(
        [_resample(np.concatenate([shapes[c] + _TEMPLATE_OFFSET, np.zeros(p)]), length) for c, p in zip(labels, pads)]
    )
    signals *= (1 + config.scale_coeff * (scale_u - 0.5))[:, None]
    # cyclic shift by k: out[j] = x[(j - k) mod L] (k = 0 leaves x unchanged)
    signals = np.take_along_axis(signals, (np.arange(length)[None, :] - shifts[:, None]) % length, axis=1)
    smooth_noise = gaussian_filter1d(corr_noise, _CORRELATION_SIGMA, axis=1)
    signals = np.where(signals != 0, signals, smooth_noise)
    signals = signals + iid_noise
    signals = signals - (config.shear_scale * (shear_u - 0.5))[:, None] * np.linspace(-0.5, 0.5, length)[None, :]
    signals = np.stack([_resample(row, config.final_seq_length) for row in signals])

    order = rng.permutation(n)
    signals, labels = signals[order], labels[order]
    if config.shuffle_seq:
        signals = signals[:, rng.permutation(config.final_seq_length)]
    signals = (signals - signals.mean()) / signals.std()
    split = int(n * config.train_split)
    return {"x_train": signals[:split], "y_train": labels[:split], "x_test": signals[split:], "y_test": labels[split:]}
