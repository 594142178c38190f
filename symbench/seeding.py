"""One seeding scheme for the whole project.

A seed derives from a parent seed and a path of JSON-able keys by SHA-256 of
their canonical JSON, truncated to 63 bits: hierarchical (study seed -> trial
seed -> sub-seeds; check seed -> group -> element), independent of Python's
hash randomisation and of the process, and accepted as is by
``numpy.random.default_rng``, ``torch.Generator.manual_seed`` and
``numpy.random.SeedSequence``. (scikit-learn's ``random_state`` takes 32 bits:
its callers reduce modulo 2³².)
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: equal objects give equal strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def _json_default(obj: Any) -> Any:
    # numpy scalars and tuples reach us from configs and metrics.
    if hasattr(obj, "item"):
        return obj.item()
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")


def derive_seed(parent_seed: int, *path: Any) -> int:
    """A 63-bit seed derived from a parent seed and a path of JSON-able keys."""
    digest = hashlib.sha256(canonical_json([int(parent_seed), list(path)]).encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1
