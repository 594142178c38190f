"""The checker's seeds: every random choice of a check derives from (seed, path)
by the project's one scheme (:func:`symbench.seeding.derive_seed`, 63 bits)."""

from __future__ import annotations

from symbench.seeding import derive_seed as derive  # noqa: F401
