"""A scikit-learn classifier around the MLP and the training engine.

Studies treat neural and classic learners alike through it: ``fit``,
``predict``, ``predict_proba``, ``decision_function``, ``get_params`` /
``set_params`` and ``clone`` behave as for any scikit-learn classifier.
Inputs are used as given (no scaling), since any preprocessing would change
the symmetry being studied.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted

from learners.neural.engine import EVAL_ROWS, as_tensor, train
from learners.neural.models import MLP
from learners.neural.validation import resolve_dtype, seed_int
from symbench.seeding import derive_seed

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data
except ImportError:  # pragma: no cover - older scikit-learn
    def validate_data(estimator, X, y="no_validation", reset=True, **kwargs):
        return estimator._validate_data(X, y, reset=reset, **kwargs)


class NeuralClassifier(ClassifierMixin, BaseEstimator):
    """An MLP classifier trained by :func:`learners.neural.engine.train`.

    Defaults are AGD's reference setting: a bias-free ``relu_sqrt2`` network
    with the orthogonal initialisation, square loss against √C-scaled one-hot
    targets, trained by ``optimizer="agd"`` (any ``optimizers.create`` spec is
    accepted). ``seed`` fixes both the initialisation and the minibatch order
    (two seeds derived from it), so ``fit`` is reproducible bit for bit on the
    CPU. After ``fit``: ``classes_``, ``model_``, ``history_`` (per-epoch
    metrics, a DataFrame), ``status_`` (``"ok"`` or ``"diverged"``; a diverged
    fit warns with a ``ConvergenceWarning``) and ``diverged_at_step_``.
    ``predict_proba`` is the softmax of the network's outputs; with the square
    loss these are monotone scores rather than calibrated probabilities.
    """

    def __init__(self, optimizer="agd", width=1024, depth=2, epochs=20, batch_size=128, loss="mse",
                 init="orthogonal", activation="relu_sqrt2", bias=False, seed=0, dtype="float32",
                 holdout=None, patience=10, device="cpu"):
        self.optimizer = optimizer
        self.width = width
        self.depth = depth
        self.epochs = epochs
        self.batch_size = batch_size
        self.loss = loss
        self.init = init
        self.activation = activation
        self.bias = bias
        self.seed = seed
        self.dtype = dtype
        self.holdout = holdout
        self.patience = patience
        self.device = device

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        self.classes_, labels = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError("NeuralClassifier needs samples of at least 2 classes in y; got 1 class")
        seed = seed_int("seed", self.seed)  # the project's one seeding scheme: sub-seeds by name
        init_seed, order_seed = derive_seed(seed, "init"), derive_seed(seed, "order")
        dtype = resolve_dtype(self.dtype)
        self.model_ = MLP(X.shape[1], len(self.classes_), width=self.width, depth=self.depth,
                          activation=self.activation, bias=self.bias, init=self.init, seed=init_seed,
                          dtype=dtype)
        result = train(self.model_, self.optimizer, as_tensor(X).to(dtype), labels,
                       order_seed=order_seed, epochs=self.epochs, batch_size=self.batch_size,
                       loss=self.loss, holdout=self.holdout, patience=self.patience, device=self.device)
        self.history_ = result.to_frame()
        self.status_ = result.status
        self.diverged_at_step_ = result.diverged_at_step
        if result.status != "ok":
            warnings.warn(f"training diverged at step {result.diverged_at_step} (non-finite loss); "
                          "predictions are meaningless", ConvergenceWarning, stacklevel=2)
        return self

    def _outputs(self, X) -> torch.Tensor:
        """The network's outputs, shape ``(n_samples, n_classes)``."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        parameter = next(self.model_.parameters())
        inputs = as_tensor(X).to(dtype=parameter.dtype, device=parameter.device)
        self.model_.eval()
        with torch.no_grad():
            chunks = [self.model_(inputs[start:start + EVAL_ROWS]) for start in range(0, len(inputs), EVAL_ROWS)]
        return torch.cat(chunks).cpu() if chunks else torch.empty((0, len(self.classes_)))

    def decision_function(self, X) -> np.ndarray:
        """Scores: the outputs ``(n_samples, n_classes)``; for two classes the margin
        ``output[1] - output[0]`` of shape ``(n_samples,)``, as scikit-learn expects."""
        outputs = self._outputs(X)
        if len(self.classes_) == 2:
            return (outputs[:, 1] - outputs[:, 0]).numpy()
        return outputs.numpy()

    def predict_proba(self, X) -> np.ndarray:
        return torch.softmax(self._outputs(X), dim=1).numpy()

    def predict(self, X) -> np.ndarray:
        winners = self._outputs(X).argmax(dim=1).numpy()
        return self.classes_[winners]
