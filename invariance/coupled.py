"""The coupled (pathwise) test: does the update rule commute with g?

Train once on S from θ0, and once on g(S) from the transported initialisation
(first layer W1 -> W1 g⁻¹; for a label permutation the last layer's rows are
permuted), with the same minibatch order and seed. If the rule is
G-equivariant, f(x) = f'(g x) up to rounding. Measured on the held-out test
points: the max and RMS relative error of the scores
(:func:`invariance.metrics.compare_outputs`), the share of changed predicted
labels, and the parameter distance after mapping the transported network back.

The rounding error grows with training (training is chaotic), so it is judged
against a *floating-point floor*: the same comparison for a control transform
that is the identity in exact arithmetic, h then h⁻¹, applied to the data,
the initialisation and the test points. For a dense element (a rotation,
GL(d), a scaling) h = g. Permutations and sign flips are exact in floating
point, so g g⁻¹ would be the identity there too; their control, and that of
the label permutations, uses a Haar rotation h instead: the smallest
perturbation a dense transform makes. The verdict rule
(:mod:`invariance.verdicts`) refuses to judge against a floor that is not
small.

Seeds: element i of group G comes from (seed, G, i) (redrawn if it is the
identity: :func:`element`); the coupled runs of element i train from
(seed, "train", i), the same for every group and every algorithm, so results
are paired across them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from invariance import groups as groups_mod
from invariance.algorithms import Algorithm, Task
from invariance.metrics import compare_outputs
from symbench.seeding import derive_seed as derive


class _RoundTrip(groups_mod.GroupElement):
    """The control transform: ``inner`` then ``inner⁻¹``, each applied in
    floating point, so it is the identity in exact arithmetic only."""

    def __init__(self, inner: groups_mod.GroupElement):
        super().__init__(inner.d, name=f"roundtrip({inner.name})", acts_on=inner.acts_on)
        self.inner, self.inner_inv = inner, inner.inverse()

    @property
    def exact(self) -> bool:
        return False

    def _apply(self, X):
        return self.inner_inv.apply(self.inner.apply(X))

    def _transport(self, W):
        return self.inner_inv.transport_first_layer(self.inner.transport_first_layer(W))

    def _make_inverse(self):
        # (h⁻¹ h)⁻¹ = h⁻¹ h: mapping back is one more round trip
        return _RoundTrip(self.inner)


def element(group: str, task: Task, index: int, seed: int = 0) -> groups_mod.GroupElement:
    """Element ``index`` of ``group`` for ``task``: it depends on (seed, group, index)
    only, and it is never the identity (which tests nothing; a random permutation
    of C = 3 labels is the identity once in six draws), unless the group is."""
    for attempt in range(1000):
        path = (group, "element", index) if attempt == 0 else (group, "element", index, attempt)
        g = sample_element(group, task, derive(seed, *path))
        if group == "identity" or not np.array_equal(g.matrix(), np.eye(g.d)):
            return g
    raise ValueError(f"group {group!r} on this task has no element other than the identity")


def sample_element(group: str, task: Task, seed: int) -> groups_mod.GroupElement:
    spec = groups_mod.GROUPS[group]
    d = task.n_classes if spec.acts_on == "outputs" else task.d
    options = {"image_shape": task.image_shape} if group.startswith("image_") else {}
    if options and task.image_shape is None:
        raise ValueError(f"group {group!r} needs a task with an image_shape; this task ({task.name}) has none")
    return groups_mod.sample(group, d, seed=seed, **options)


def control_element(g: groups_mod.GroupElement, task: Task, seed: int) -> groups_mod.GroupElement:
    """The control of ``g`` (see the module docstring); it always acts on the inputs."""
    if g.acts_on == "outputs" or g.exact:
        return _RoundTrip(groups_mod.sample("orthogonal", task.d, seed=seed))
    return _RoundTrip(g)


def coupled_test(alg: Algorithm, task: Task, g: groups_mod.GroupElement, seed: int,
                 base_fits: dict | None = None) -> dict[str, float]:
    """One element's coupled comparison: the metrics of ``compare_outputs`` and
    ``param_distance``. ``base_fits`` caches the untransformed run per seed
    (shared by elements, controls and groups)."""
    C = task.n_classes
    base_fits = {} if base_fits is None else base_fits
    if seed not in base_fits:
        base_fits[seed] = alg.fit(task.X_train, task.y_train, seed=seed, n_classes=C)
    base = base_fits[seed]
    if g.acts_on == "outputs":
        moved = alg.fit(task.X_train, g.apply_labels(task.y_train), seed=seed, n_classes=C, transform=g)
        expected, got = g.apply(base.predict_scores(task.X_test)), moved.predict_scores(task.X_test)
    else:
        moved = alg.fit(g.apply(task.X_train), task.y_train, seed=seed, n_classes=C, transform=g)
        expected, got = base.predict_scores(task.X_test), moved.predict_scores(g.apply(task.X_test))
    metrics = compare_outputs(expected, got)
    metrics["param_distance"] = base.param_distance(moved, g)
    return metrics


def coupled_element(alg: Algorithm, task: Task, group: str, index: int, *, seed: int = 0,
                    base_fits: dict | None = None) -> dict[str, Any]:
    """Element ``index`` of ``group``: its coupled metrics and its control's."""
    g = element(group, task, index, seed)
    train_seed = derive(seed, "train", index)
    control = control_element(g, task, derive(seed, group, "control", index))
    return {"element": g.to_dict(),
            "coupled": coupled_test(alg, task, g, train_seed, base_fits),
            "control": coupled_test(alg, task, control, train_seed, base_fits)}
