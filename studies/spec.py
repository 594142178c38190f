"""The typed interface every study plugs into (in the spirit of AlgoPerf's spec.py).

A study is a grid of *trials*. Each trial has coordinates (a small JSON-able dict,
e.g. ``{"setting": "one", "n": 100, "m": 100, "penalty": "l1", "rep": 7}``) and a
seed derived from the study seed and those coordinates, so that a trial's result
does not depend on which other trials run, in which order, or in which batch.

Config keys split in two:

* *design keys* choose WHICH trials exist (the grid: n values, number of reps);
* every other key changes WHAT a trial computes (solver tolerance, seed, ...).

A trial's identity in the results store is (study, hash of the non-design keys,
coordinates). Two runs that differ only in design keys (``--quick`` versus the
full study) therefore share the trials they have in common.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

from symbench.seeding import canonical_json, derive_seed  # noqa: F401  (the project's one seeding scheme)

STATUSES = ("ok", "diverged", "failed")


def stable_hash(obj: Any, length: int = 16) -> str:
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:length]


@dataclass(frozen=True)
class TrialSpec:
    """One trial, as the runner hands it to a study."""

    study: str
    coords: Mapping[str, Any]
    seed: int
    key: str
    config_hash: str


@dataclass
class Outcome:
    """What a study returns for one trial."""

    status: str = "ok"
    metrics: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"unknown trial status {self.status!r}; accepted: {', '.join(STATUSES)}")


class Study:
    """Base class of a study. Subclasses set the class attributes and implement
    ``trials``, ``batch_key`` and ``run_batch``."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    #: the full default configuration (TOML-able values: int, float, str, bool, lists)
    defaults: ClassVar[dict[str, Any]] = {}
    #: overrides applied by ``--quick`` (a reduced study, at most 2 minutes on 2 cores)
    quick: ClassVar[dict[str, Any]] = {}
    #: keys that choose which trials exist; all others change what a trial computes
    design_keys: ClassVar[frozenset[str]] = frozenset()
    #: bump when a change of code changes trial results, to invalidate stored trials
    version: ClassVar[int] = 1
    #: largest number of trials handed to one ``run_batch`` call
    max_batch: ClassVar[int] = 64

    def validate(self, config: Mapping[str, Any]) -> None:
        """Raise ValueError (one line) if a config value is out of range. Types are
        checked by ``studies.config`` against ``defaults`` already."""

    def trials(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        raise NotImplementedError

    def prepare(self, config: Mapping[str, Any], trials: Sequence[TrialSpec]) -> list[str]:
        """Load and check what ``trials`` will read (data files), once, before the sweep.

        The runner calls it in its own process before it writes anything; a bad
        or missing input raises a one-line error (``studies.errors.SymbenchError``
        or ValueError) and nothing is stored. Returns notes for the terminal (a
        substitute dataset, ...). Default: nothing to check."""
        return []

    def batch_key(self, coords: Mapping[str, Any]) -> Any:
        """Trials with equal keys may run in one ``run_batch`` call. Default: none batched."""
        return canonical_json(coords)

    def run_batch(self, config: Mapping[str, Any], batch: Sequence[TrialSpec]) -> list[Outcome]:
        raise NotImplementedError

    # ------------------------------------------------------------------ helpers
    def trial_config(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """The part of the config that changes a trial's result (non-design keys)."""
        return {k: v for k, v in sorted(config.items()) if k not in self.design_keys}

    def config_hash(self, config: Mapping[str, Any]) -> str:
        return stable_hash({"study": self.name, "version": self.version, "config": self.trial_config(config)})

    def trial_specs(self, config: Mapping[str, Any]) -> list[TrialSpec]:
        chash = self.config_hash(config)
        seed = int(config.get("seed", 0))
        specs = []
        for coords in self.trials(config):
            specs.append(
                TrialSpec(
                    study=self.name,
                    coords=dict(coords),
                    seed=derive_seed(seed, self.name, coords),
                    key=stable_hash({"config": chash, "coords": coords}, 24),
                    config_hash=chash,
                )
            )
        keys = [s.key for s in specs]
        if len(set(keys)) != len(keys):
            raise ValueError(f"study {self.name!r} produced duplicate trial coordinates")
        return specs
