"""What the equivariance checker can check, behind one small interface.

An :class:`Algorithm` fits a predictor to (X, y) from a seed, optionally with
its initialisation transported by a group element (the coupled test), and
samples the predictions of K independently seeded runs (the distributional
test). Two kinds:

* :class:`NeuralAlgorithm` — an optimizer (registry name, spec string,
  ``module:Class`` import path, or a ``torch.optim.Optimizer`` subclass) trained
  inside a small MLP on the checker's task, in float64;
* :class:`EstimatorAlgorithm` — any scikit-learn classifier (fit on S and g(S),
  compare predictions; the seed goes to ``random_state`` if it has one).

The checker's default task (:func:`default_task`): 16 Gaussian inputs (also
readable as a 1×4×4 image, so image actions apply), 3 classes from a fixed
random two-layer teacher, 256 training and 256 test points; the MLP is
16–32–3 with ReLU, trained for 200 steps of minibatches of 32 with
cross-entropy. Small enough that ``symbench check adam`` takes seconds,
non-linear enough that a broken symmetry shows in the predictions.
"""

from __future__ import annotations

import copy
import inspect
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from invariance.metrics import relative_distance


@dataclass
class Task:
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    image_shape: tuple[int, int, int] | None = None
    n_probe: int = 16          # test points whose predictions the distributional test compares
    name: str = "custom"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "n_train": len(self.X_train), "n_test": len(self.X_test),
                "d": int(self.X_train.shape[1]), "n_classes": self.n_classes,
                "image_shape": self.image_shape, "n_probe": self.n_probe}


def default_task(seed: int = 0, n_train: int = 256, n_test: int = 256, side: int = 4, n_classes: int = 3) -> Task:
    """Gaussian inputs labelled by a random two-layer teacher (see module docstring)."""
    rng = np.random.default_rng(seed)
    d = side * side
    U = rng.standard_normal((d, 2 * d)) / np.sqrt(d)
    V = rng.standard_normal((2 * d, n_classes))
    X = rng.standard_normal((n_train + n_test, d))
    y = np.argmax(np.tanh(X @ U) @ V, axis=1)
    return Task(X[:n_train], y[:n_train], X[n_train:], y[n_train:], n_classes, (1, side, side),
                name=f"teacher-{d}d-{n_classes}c")


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

    def fit(self, X: np.ndarray, y: np.ndarray, *, seed: int, n_classes: int, transform=None) -> Fitted:
        raise NotImplementedError

    def sample(self, X: np.ndarray, y: np.ndarray, X_eval: np.ndarray, seeds: Sequence[int],
               n_classes: int) -> np.ndarray:
        """Class probabilities at ``X_eval`` of runs with each seed: shape (K, len(X_eval), C)."""
        raise NotImplementedError


# --------------------------------------------------------------------------- scikit-learn


class _FittedEstimator(Fitted):
    def __init__(self, estimator):
        self.estimator = estimator

    def predict_scores(self, X):
        est = self.estimator
        if hasattr(est, "decision_function"):
            scores = np.asarray(est.decision_function(X), dtype=np.float64)
        else:
            scores = np.asarray(est.predict_proba(X), dtype=np.float64)
        return scores

    def param_distance(self, moved, g):
        coef = getattr(self.estimator, "coef_", None)
        if coef is None or g.acts_on != "inputs" or np.ndim(coef) != 2:
            return None
        back = g.inverse().transport_first_layer(np.asarray(moved.estimator.coef_, dtype=np.float64))
        return relative_distance(coef, back)


class EstimatorAlgorithm(Algorithm):
    """A scikit-learn classifier: fit on S and on g(S) and compare predictions."""

    def __init__(self, estimator):
        from sklearn.base import clone

        self.template = clone(estimator)
        self.name = type(estimator).__name__
        params = self.template.get_params(deep=False)
        self.randomised = "random_state" in params
        # a seed we cannot transport (a tree's random feature order): the
        # coupled test is then only indicative, the distributional test decides
        self.exact_coupling = not self.randomised

    def _make(self, seed: int):
        from sklearn.base import clone

        est = clone(self.template)
        if self.randomised:
            est.set_params(random_state=int(seed) % (2**32))
        return est

    def fit(self, X, y, *, seed, n_classes, transform=None):
        # an estimator has no initialisation to transport: g acts on the data only
        return _FittedEstimator(self._make(seed).fit(X, y))

    def sample(self, X, y, X_eval, seeds, n_classes):
        out = []
        for seed in seeds:
            est = self._make(seed).fit(X, y)
            if hasattr(est, "predict_proba"):
                p = est.predict_proba(X_eval)
            else:
                p = np.asarray(est.decision_function(X_eval))
                p = p[:, None] if p.ndim == 1 else p
            out.append(np.asarray(p, dtype=np.float64))
        return np.stack(out)


# --------------------------------------------------------------------------- neural


class _FittedNetwork(Fitted):
    def __init__(self, model):
        self.model = model

    def predict_scores(self, X):
        import torch

        with torch.no_grad():
            return self.model(torch.as_tensor(X, dtype=torch.float64)).numpy()

    def param_distance(self, moved, g):
        import torch

        mine = torch.cat([p.detach().reshape(-1) for p in self.model.parameters()]).numpy()
        other = copy.deepcopy(moved.model)
        _transport_model(other, g.inverse())
        theirs = torch.cat([p.detach().reshape(-1) for p in other.parameters()]).numpy()
        return relative_distance(mine, theirs)


def _transport_model(model, g) -> None:
    """Move a network's initialisation along g: input actions reach the first
    layer only (W1 -> W1 g⁻¹); output actions permute the last layer's rows."""
    import torch

    with torch.no_grad():
        if g.acts_on == "inputs":
            layer = model.layers[0]
            layer.weight.copy_(torch.as_tensor(g.transport_first_layer(layer.weight.detach())))
        else:
            layer = model.layers[-1]
            # row i of the new last layer is row g⁻¹(i) of the old one, so that out' = g·out
            layer.weight.copy_(g.apply(layer.weight.detach().T).T)
            if layer.bias is not None:
                layer.bias.copy_(g.apply(layer.bias.detach()))


class NeuralAlgorithm(Algorithm):
    """An optimizer trained inside the checker's MLP (see module docstring)."""

    def __init__(self, optimizer, *, width: int = 32, depth: int = 2, init: str = "gaussian",
                 activation: str = "relu", bias: bool = True, steps: int = 200, batch_size: int = 32,
                 loss: str = "cross_entropy"):
        import optimizers

        self.spec = optimizer
        self.name = optimizer if isinstance(optimizer, str) else f"{optimizer.__module__}:{optimizer.__qualname__}"
        if inspect.isclass(optimizer):
            optimizer = self.name
        # resolve now, so that a bad spec fails before any training, with a one-line error
        optimizers.resolve(optimizer)
        self.optimizer = optimizer
        if init == "auto":
            init = "orthogonal" if str(optimizer).startswith("agd") else "gaussian"
        self.model_options = dict(width=width, depth=depth, init=init, activation=activation, bias=bias)
        self.steps, self.batch_size, self.loss = steps, batch_size, loss

    def _model(self, d: int, n_classes: int, seed: int):
        import torch

        from learners.neural.models import MLP

        return MLP(d, n_classes, seed=seed, dtype=torch.float64, **self.model_options)

    def fit(self, X, y, *, seed, n_classes, transform=None):
        import torch

        from learners.neural.engine import train

        model = self._model(X.shape[1], n_classes, seed)
        if transform is not None:
            _transport_model(model, transform)
        result = train(model, self.optimizer, torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y),
                       steps=self.steps, batch_size=self.batch_size, loss=self.loss, order_seed=seed)
        if result.status != "ok":
            raise RuntimeError(f"{self.name} diverged at step {result.diverged_at_step} on the checker's task")
        return _FittedNetwork(result.model)

    def sample(self, X, y, X_eval, seeds, n_classes):
        import torch

        from learners.neural.batched import BatchedMLP
        from learners.neural.engine import train_batched

        # K seeded networks in one batched computation; each member's own seed
        # fixes both its initialisation and its minibatch order
        model = BatchedMLP(X.shape[1], n_classes, seeds=list(seeds), dtype=torch.float64, **self.model_options)
        result = train_batched(model, self.optimizer, torch.as_tensor(X, dtype=torch.float64), torch.as_tensor(y),
                               order_seed=list(seeds), steps=self.steps, batch_size=self.batch_size, loss=self.loss)
        with torch.no_grad():
            logits = result.model(torch.as_tensor(X_eval, dtype=torch.float64))
        return torch.softmax(logits, dim=-1).numpy()


def as_algorithm(obj, **options) -> Algorithm:
    """An Algorithm from an optimizer spec/class, a scikit-learn estimator, or an Algorithm."""
    if isinstance(obj, Algorithm):
        return obj
    if hasattr(obj, "fit") and hasattr(obj, "get_params"):
        return EstimatorAlgorithm(obj)
    if isinstance(obj, (str, dict)) or inspect.isclass(obj):
        return NeuralAlgorithm(obj, **options)
    raise TypeError(
        f"cannot check a {type(obj).__name__}: pass an optimizer name, spec string, import path "
        "or torch.optim.Optimizer subclass, or a scikit-learn estimator"
    )
