"""``adam-layerwise`` with its per-layer learning rates chosen on a hold-out split.

The seed's "Adam with diverse hyperparameters for both layers" is Adam whose
layers have their own learning rates. The rates are chosen per trial, on
training data only:

1. each candidate ``(lr_input, lr_rest)`` of ``grid × grid`` (the input
   layer's rate, and one rate for every other layer; for a two-layer network
   that is one rate per layer) trains the trial's initial network for
   ``epochs`` epochs on the training rows outside a seeded hold-out split;
2. a candidate's score is its lowest hold-out loss over those epochs (the
   epoch early stopping would keep; a diverged run scores +inf);
3. the trial keeps the candidate with the lowest score (the first in grid
   order on a tie) and trains with it on all its training rows.

Betas stay Adam's defaults (0.9, 0.999). The search sees the members of a
batched network at once: member k has its own hold-out split (from its own
search seed) and its own choice.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Sequence

from learners.neural import BatchedMLP, train_batched

#: the bare name that asks for the hold-out search (a spec with arguments runs as given)
SEARCHED_SPEC = "adam-layerwise"


def candidate_grid(lrs: Sequence[float], depth: int) -> list[tuple[float, ...]]:
    """``(lr_input, lr_rest)`` pairs, input rate varying slowest; one rate per candidate for depth 1."""
    groups = min(2, depth)
    return [tuple(float(lr) for lr in combo) for combo in itertools.product(lrs, repeat=groups)]


def layerwise_spec(lrs: Sequence[float]) -> str:
    """The registry spec of Adam with these per-layer rates (the last covers the remaining layers)."""
    return f"{SEARCHED_SPEC}(lrs={[float(lr) for lr in lrs]!r})"


@dataclass
class SearchResult:
    """One member's search: every candidate's score and the chosen rates."""

    candidates: list[tuple[float, ...]]
    holdout_loss: list[float]
    holdout_acc: list[float]
    chosen: tuple[float, ...]

    def to_dict(self) -> dict:
        return {
            "candidates": [list(c) for c in self.candidates],
            "holdout_loss": [_finite_or_none(v) for v in self.holdout_loss],
            "holdout_acc": [_finite_or_none(v) for v in self.holdout_acc],
            "chosen_lrs": list(self.chosen),
            "chosen_spec": layerwise_spec(self.chosen),
        }


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def search_layerwise_lrs(build_model: Callable[[], BatchedMLP], X, y, *, lrs: Sequence[float], depth: int,
                         search_seeds: Sequence[int], epochs: int, holdout: float,
                         **train_options) -> list[SearchResult]:
    """Score every candidate on each member's hold-out split; one :class:`SearchResult` per member.

    ``build_model()`` returns a fresh copy of the trial's initial batched
    network (one member per entry of ``search_seeds``); ``train_options`` go
    to :func:`learners.neural.train_batched` (batch size, loss, device, ...).
    """
    candidates = candidate_grid(lrs, depth)
    members = len(search_seeds)
    losses = [[math.inf] * len(candidates) for _ in range(members)]
    accuracies = [[math.nan] * len(candidates) for _ in range(members)]
    for c, candidate in enumerate(candidates):
        result = train_batched(build_model(), layerwise_spec(candidate), X, y, order_seed=list(search_seeds),
                               epochs=epochs, holdout=holdout, patience=epochs, **train_options)
        for k, member in enumerate(result.members):
            history = member.history
            scored = [(loss, acc) for loss, acc in zip(history["holdout_loss"], history["holdout_acc"])
                      if math.isfinite(loss)]
            if member.status == "ok" and scored:
                losses[k][c], accuracies[k][c] = min(scored, key=lambda pair: pair[0])
    results = []
    for k in range(members):
        best = min(range(len(candidates)), key=lambda c: (losses[k][c], c))
        results.append(SearchResult(candidates, losses[k], accuracies[k], candidates[best]))
    return results
