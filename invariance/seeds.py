"""The checker's seeds: every random choice of a check derives from (seed, path)."""

from __future__ import annotations

import hashlib

import numpy as np


def _stable_int(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def derive(seed: int, *path) -> int:
    """A 32-bit seed from a parent seed and a path of names (stable across processes)."""
    ss = np.random.SeedSequence([int(seed), *[_stable_int(str(p)) for p in path]])
    return int(ss.generate_state(1)[0])
