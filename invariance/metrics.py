"""How far apart two runs' outputs are (the coupled test's measurements)."""

from __future__ import annotations

import numpy as np


def compare_outputs(expected: np.ndarray, got: np.ndarray) -> dict[str, float]:
    """Compare outputs (n_points, n_outputs) of two runs that should agree.

    * ``max_rel_error``: max |Δ| / max |expected| — scale-free, so one threshold
      serves logits, probabilities and decision values;
    * ``rms_rel_error``: ‖Δ‖_F / ‖expected‖_F;
    * ``disagreement``: share of points whose argmax (or sign, for one output) differs.
    Non-finite outputs (a diverged run) give an infinite error.
    """
    e = np.asarray(expected, dtype=np.float64)
    g = np.asarray(got, dtype=np.float64)
    if e.shape != g.shape:
        raise ValueError(f"outputs have different shapes: {e.shape} and {g.shape}")
    if e.ndim == 1:
        e, g = e[:, None], g[:, None]
    if not (np.isfinite(e).all() and np.isfinite(g).all()):
        return {"max_rel_error": float("inf"), "rms_rel_error": float("inf"), "disagreement": 1.0}
    diff = g - e
    scale_max = np.abs(e).max()
    scale_rms = np.sqrt((e**2).sum())
    tiny = np.finfo(np.float64).tiny
    labels_e = (e[:, 0] > 0) if e.shape[1] == 1 else e.argmax(axis=1)
    labels_g = (g[:, 0] > 0) if g.shape[1] == 1 else g.argmax(axis=1)
    return {
        "max_rel_error": float(np.abs(diff).max() / max(scale_max, tiny)),
        "rms_rel_error": float(np.sqrt((diff**2).sum()) / max(scale_rms, tiny)),
        "disagreement": float(np.mean(labels_e != labels_g)),
    }


def relative_distance(a: np.ndarray, b: np.ndarray) -> float:
    """‖a − b‖ / ‖a‖ over flattened parameter vectors."""
    a = np.asarray(a, dtype=np.float64).ravel()
    b = np.asarray(b, dtype=np.float64).ravel()
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(a), np.finfo(np.float64).tiny))
