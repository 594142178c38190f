"""What the equivariance checker can check, behind one small interface.

An :class:`Algorithm` fits a predictor to (X, y) from a seed, optionally with
its initialisation transported by a group element (the coupled test), and
samples the scores of K independently seeded runs (the distributional test).
Two kinds:

* :class:`NeuralAlgorithm` — an optimizer (registry name, spec string,
  ``module:Class`` import path, per-layer rule, or a ``torch.optim.Optimizer``
  subclass) trained inside a small MLP on the checker's task, in float64;
* :class:`EstimatorAlgorithm` — any scikit-learn classifier (fit on S and g(S),
  compare scores; the seed goes to its ``random_state`` or ``seed``, if any).

Scores are what both tests compare: a network's logits; an estimator's
``decision_function`` if it has one, else ``predict_proba`` (always 2-D: a
binary decision value s becomes the two columns (−s/2, s/2), so that a label
permutation acts on it by permuting columns).

The checker's default task (:func:`default_task`): 16 Gaussian inputs (also
readable as a 1×4×4 image, so image actions apply), 3 classes from a fixed
random two-layer teacher, 256 training and 256 test points. The default
network is a 16–32–3 ReLU MLP with a Gaussian initialisation (rotation
invariant in law, so that a failure is the optimizer's), trained for 200 steps
of minibatches of 32 with cross-entropy: small enough that ``symbench check
adam`` takes seconds, non-linear enough that a broken symmetry shows in the
predictions. ``default_task(probe="axes")`` puts the distributional test's
probe points on the coordinate axes (√d·eᵢ), where an initialisation with
i.i.d. entries (torch's uniform default: a cube) differs most from its
rotations.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from invariance.metrics import relative_distance

PROBES = ("test", "axes")
#: estimator parameters through which a seed reaches an estimator's own randomness
SEED_PARAMETERS = ("random_state", "seed")


@dataclass
class Task:
    """Data for the checker: a training set, held-out test points, and the probe
    points of the distributional test (``X_probe``; by default the first
    ``n_probe`` test points)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int, int] | None = None
    n_probe: int = 16
    name: str = "custom"
    X_probe: np.ndarray | None = None

    @property
    def probe(self) -> np.ndarray:
        return self.X_test[: self.n_probe] if self.X_probe is None else self.X_probe

    @property
    def d(self) -> int:
        return int(self.X_train.shape[1])

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "n_train": len(self.X_train), "n_test": len(self.X_test), "d": self.d,
                "n_classes": self.n_classes, "image_shape": self.image_shape, "n_probe": len(self.probe)}


def default_task(seed: int = 0, n_train: int = 256, n_test: int = 256, side: int = 4, n_classes: int = 3,
                 probe: str = "test") -> Task:
    """Gaussian inputs labelled by a random two-layer teacher (see module docstring).

    ``probe``: ``"test"`` (the first 16 test points) or ``"axes"`` (√d·eᵢ, i = 1..d).
    """
    if probe not in PROBES:
        raise ValueError(f"unknown probe {probe!r}; accepted: {', '.join(PROBES)}")
    for name, value, low in (("n_train", n_train, 2), ("n_test", n_test, 1), ("side", side, 1),
                             ("n_classes", n_classes, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"{name} must be an integer ≥ {low}, got {value!r}")
    rng = np.random.default_rng(seed)
    d = side * side
    U = rng.standard_normal((d, 2 * d)) / np.sqrt(d)
    V = rng.standard_normal((2 * d, n_classes))
    X = rng.standard_normal((n_train + n_test, d))
    y = np.argmax(np.tanh(X @ U) @ V, axis=1)
    X_probe = np.sqrt(d) * np.eye(d) if probe == "axes" else None
    suffix = "-axes" if probe == "axes" else ""
    return Task(X[:n_train], y[:n_train], X[n_train:], y[n_train:], n_classes, (1, side, side),
                name=f"teacher-{d}d-{n_classes}c{suffix}", X_probe=X_probe)


def as_scores(values) -> np.ndarray:
    """Scores as a float64 array with one column per class (see module docstring)."""
    s = np.asarray(values, dtype=np.float64)
    if s.ndim == 1:
        return np.stack([-s / 2, s / 2], axis=-1)
    return s


class Fitted:
    """A fitted predictor: scores on points, and its parameters for the distance after mapping back."""

    def predict_scores(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def param_distance(self, moved: "Fitted", g) -> float | None:
        return None


class Algorithm:
    name: str = "algorithm"
    #: does the coupled test carry all of the algorithm's randomness across?
    exact_coupling: bool = True
    #: True when runs do not depend on the seed (the distributional test is then skipped)
    deterministic: bool = False
    #: True when the algorithm draws an initialisation from its seed (the initialisation test applies)
    has_initialisation: bool = False

    def fit(self, X: np.ndarray, y: np.ndarray, *, seed: int, n_classes: int, transform=None) -> Fitted:
        raise NotImplementedError

    def sample(self, X: np.ndarray, y: np.ndarray, X_eval: np.ndarray, seeds: Sequence[int],
               n_classes: int) -> np.ndarray:
        """Scores at ``X_eval`` of runs with each seed: shape (K, len(X_eval), C)."""
        raise NotImplementedError

    def initial_block(self, d: int, n_classes: int, seeds: Sequence[int], acts_on: str) -> np.ndarray:
        """The initial parameters a group acting on ``acts_on`` ("inputs" or "outputs")
        moves, for each seed, as matrices (N, r, c) whose columns the group moves
        (see :mod:`invariance.initialisation`)."""
        raise NotImplementedError(f"{type(self).__name__} has no initialisation")

    def describe(self) -> dict[str, Any]:
        return {"name": self.name}


# --------------------------------------------------------------------------- scikit-learn


class _FittedEstimator(Fitted):
    def __init__(self, estimator):
        self.estimator = estimator

    def predict_scores(self, X):
        return estimator_scores(self.estimator, X)

    def param_distance(self, moved, g):
        coef = getattr(self.estimator, "coef_", None)
        if coef is None or g.acts_on != "inputs" or np.ndim(coef) != 2:
            return None
        back = g.inverse().transport_first_layer(np.asarray(moved.estimator.coef_, dtype=np.float64))
        return relative_distance(coef, back)


def estimator_scores(estimator, X) -> np.ndarray:
    if hasattr(estimator, "decision_function"):
        return as_scores(estimator.decision_function(X))
    return as_scores(estimator.predict_proba(X))


class EstimatorAlgorithm(Algorithm):
    """A scikit-learn classifier: fit on S and on g(S) and compare scores.

    A seed parameter (``random_state`` or ``seed``) receives each run's seed;
    the coupled test then fits both sides with the same seed, but it cannot
    carry the randomness *across* g (a tree's random feature order is drawn
    the same, yet it meets permuted features), so ``exact_coupling`` is False
    and the distributional test decides. Without one, the estimator is
    deterministic: the coupled test alone decides.
    """

    def __init__(self, estimator, name: str | None = None):
        from sklearn.base import clone

        self.template = clone(estimator)
        self.name = name or type(estimator).__name__
        params = self.template.get_params(deep=False)
        self.seed_parameters = [p for p in SEED_PARAMETERS if p in params]
        self.exact_coupling = not self.seed_parameters
        self.deterministic = not self.seed_parameters

    def describe(self):
        return {"name": self.name, "estimator": repr(self.template)}

    def _make(self, seed: int):
        from sklearn.base import clone

        est = clone(self.template)
        if self.seed_parameters:
            est.set_params(**{p: int(seed) % (2**32) for p in self.seed_parameters})
        return est

    def fit(self, X, y, *, seed, n_classes, transform=None):
        # an estimator has no initialisation to transport: g acts on the data only
        return _FittedEstimator(self._make(seed).fit(X, y))

    def sample(self, X, y, X_eval, seeds, n_classes):
        return np.stack([estimator_scores(self._make(seed).fit(X, y), X_eval) for seed in seeds])


# --------------------------------------------------------------------------- neural


class _FittedNetwork(Fitted):
    def __init__(self, model):
        self.model = model

    def predict_scores(self, X):
        import torch

        parameter = next(self.model.parameters())
        with torch.no_grad():
            return self.model(torch.as_tensor(X, dtype=parameter.dtype)).double().numpy()

    def param_distance(self, moved, g):
        import torch

        mine = torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).double().numpy()
        other = copy.deepcopy(moved.model)
        transport_model(other, g.inverse())
        theirs = torch.cat([p.detach().reshape(-1) for p in other.parameters()]).double().numpy()
        return relative_distance(mine, theirs)


def transport_model(model, g) -> None:
    """Move a network's initialisation along g, in place: input actions reach the
    first layer only (W1 -> W1 g⁻¹); output actions permute the last layer's rows."""
    import torch

    with torch.no_grad():
        if g.acts_on == "inputs":
            layer = model.layers[0]
            layer.weight.copy_(g.transport_first_layer(layer.weight.detach()))
        else:
            layer = model.layers[-1]
            # row i of the new last layer is row g⁻¹(i) of the old one, so that out' = g·out
            layer.weight.copy_(g.apply(layer.weight.detach().T).T)
            if layer.bias is not None:
                layer.bias.copy_(g.apply(layer.bias.detach()))


class TrainingDiverged(RuntimeError):
    """A checker network's loss became non-finite: its symmetry cannot be judged."""


class NeuralAlgorithm(Algorithm):
    """An optimizer trained inside the checker's MLP (see module docstring).

    ``steps=0`` leaves the network untrained: the checker then tests the
    initialisation alone.
    """

    def __init__(self, optimizer, *, width: int = 32, depth: int = 2, init: str = "gaussian",
                 activation: str = "relu", bias: bool = True, steps: int = 200, batch_size: int = 32,
                 loss: str = "cross_entropy", dtype: str = "float64"):
        import optimizers
        from learners.neural.initialisation import INITS
        from learners.neural.validation import resolve_dtype

        self.spec = optimizer
        if isinstance(optimizer, str):
            self.name = optimizer
        elif isinstance(optimizer, dict):
            self.name = optimizers.resolve(optimizer).name
        else:
            self.name = f"{optimizer.__module__}:{optimizer.__qualname__}"
        if inspect.isclass(optimizer):
            optimizer = self.name
        # resolve now, so that a bad spec fails before any training, with a one-line error
        optimizers.resolve(optimizer)
        self.optimizer = optimizer
        if init == "auto":
            init = "orthogonal" if str(optimizer).startswith("agd") else "gaussian"
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; accepted: {', '.join(INITS)}, auto")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
            raise ValueError(f"steps must be a non-negative integer (0: test the initialisation), got {steps!r}")
        self.dtype = resolve_dtype(dtype)
        self.model_options = dict(width=width, depth=depth, init=init, activation=activation, bias=bias)
        self.steps, self.batch_size, self.loss = int(steps), batch_size, loss

    has_initialisation = True

    def initial_block(self, d, n_classes, seeds, acts_on):
        import torch

        from learners.neural.initialisation import draw_weight
        from learners.neural.models import MLP, hidden_dims

        blocks = []
        options = self.model_options
        if acts_on == "inputs":
            # the first layer is drawn first from the seed's generator (initialise_layers_),
            # so it can be drawn alone: the same numbers as in the whole network
            shape = tuple(hidden_dims(d, n_classes, options["width"], options["depth"])[1::-1])
            for seed in seeds:
                weight = draw_weight(shape, options["init"], torch.Generator().manual_seed(int(seed)))
                blocks.append(weight.to(self.dtype).double().numpy())             # W1: (h, d), g moves columns
            return np.stack(blocks)
        for seed in seeds:
            last = MLP(d, n_classes, seed=seed, dtype=self.dtype, **options).layers[-1]
            rows = [last.weight.detach().double().T]                                # W_Lᵀ: (h, C)
            if last.bias is not None:
                rows.append(last.bias.detach().double()[None])
            blocks.append(torch.cat(rows).numpy())
        return np.stack(blocks)

    def describe(self):
        return {"name": self.name, **self.model_options, "steps": self.steps, "batch_size": self.batch_size,
                "loss": self.loss, "dtype": str(self.dtype).removeprefix("torch.")}

    def _tensors(self, X, y):
        import torch

        return torch.as_tensor(X, dtype=self.dtype), torch.as_tensor(y)

    def fit(self, X, y, *, seed, n_classes, transform=None):
        from learners.neural.engine import train
        from learners.neural.models import MLP

        model = MLP(X.shape[1], n_classes, seed=seed, dtype=self.dtype, **self.model_options)
        if transform is not None:
            transport_model(model, transform)
        if self.steps == 0:
            return _FittedNetwork(model)
        result = train(model, self.optimizer, *self._tensors(X, y), steps=self.steps, batch_size=self.batch_size,
                       loss=self.loss, order_seed=seed)
        if result.status != "ok":
            raise TrainingDiverged(f"{self.name} diverged at step {result.diverged_at_step} on the checker's task")
        return _FittedNetwork(result.model)

    def sample(self, X, y, X_eval, seeds, n_classes):
        import torch

        from learners.neural.batched import BatchedMLP
        from learners.neural.engine import train_batched

        # K seeded networks in one batched computation; each member's own seed
        # fixes both its initialisation and its minibatch order
        model = BatchedMLP(X.shape[1], n_classes, seeds=list(seeds), dtype=self.dtype, **self.model_options)
        if self.steps:
            result = train_batched(model, self.optimizer, *self._tensors(X, y), order_seed=list(seeds),
                                   steps=self.steps, batch_size=self.batch_size, loss=self.loss)
            diverged = [k for k, status in enumerate(result.statuses) if status != "ok"]
            if diverged:
                raise TrainingDiverged(f"{self.name} diverged for {len(diverged)} of {len(seeds)} seeds "
                                   "on the checker's task")
            model = result.model
        with torch.no_grad():
            return model(torch.as_tensor(X_eval, dtype=self.dtype)).double().numpy()


def resolve_spec(spec: str) -> tuple[Any, str]:
    """(object to check, its name) for a text spec: a learner of ``symbench list
    learners``, a scikit-learn estimator by import path (``sklearn.svm:SVC(C=2)``),
    or else an optimizer spec (kept as text; the optimizer registry checks it)."""
    from learners import catalog
    from optimizers.spec import parse_one
    from symbench.imports import import_object

    if spec in catalog.LEARNERS:
        return catalog.make(spec), spec
    if ":" in spec and not spec.startswith("pto:") and not spec.lstrip().startswith("layers"):
        parsed = parse_one(spec)
        obj = import_object(parsed.name, "estimator or optimizer")
        if inspect.isclass(obj) and hasattr(obj, "fit") and hasattr(obj, "get_params"):
            try:
                return obj(**parsed.kwargs), spec
            except TypeError as exc:
                raise ValueError(f"cannot build {parsed.name} with {parsed.kwargs}: {exc}") from None
    return spec, spec


def as_algorithm(obj, name: str | None = None, **options) -> Algorithm:
    """An Algorithm from an optimizer spec/class, a scikit-learn estimator (or
    estimator class, built with its defaults), or an Algorithm. ``options`` go
    to :class:`NeuralAlgorithm`; ``name`` labels an estimator."""
    if isinstance(obj, Algorithm):
        if options:
            raise TypeError(f"options {sorted(options)} do not apply to an Algorithm instance")
        return obj
    if inspect.isclass(obj) and hasattr(obj, "fit") and hasattr(obj, "get_params"):
        obj = obj()
    if hasattr(obj, "fit") and hasattr(obj, "get_params"):
        if options:
            raise TypeError(f"network options {sorted(options)} do not apply to a scikit-learn estimator")
        return EstimatorAlgorithm(obj, name=name)
    if isinstance(obj, (str, dict)) or inspect.isclass(obj):
        return NeuralAlgorithm(obj, **options)
    raise TypeError(
        f"cannot check a {type(obj).__name__}: pass an optimizer name, spec string, import path "
        "or torch.optim.Optimizer subclass, or a scikit-learn estimator"
    )
