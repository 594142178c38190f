"""scikit-learn estimators around the batched solver (:func:`fit`) and Ng's hold-out
selection (:func:`holdout_select`), for one problem at a time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, validate_data

from learners.logistic.holdout import METRICS, holdout_select
from learners.logistic.path import PENALTIES, fit
from learners.logistic.validation import check_choice, nonnegative_float


class _LogisticBase(ClassifierMixin, BaseEstimator):
    """Binary classification with labels mapped to classes_[0] → 0, classes_[1] → 1."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False  # Ng's problems are binary
        return tags

    def _prepare(self, X, y):
        X, y = validate_data(self, X, y, dtype=np.float64, y_numeric=False)
        check_classification_targets(y)
        target = type_of_target(y, input_name="y", raise_unknown=True)
        if target != "binary":
            raise ValueError(f"Only binary classification is supported. The type of the target is {target}.")
        self.classes_ = np.unique(y)
        if self.classes_.size != 2:
            count = self.classes_.size
            raise ValueError(f"{type(self).__name__} is a binary classifier: y must have exactly 2 classes, "
                             f"got {count} class{'es' if count != 1 else ''}")
        check_choice("penalty", self.penalty, PENALTIES)
        return X, (y == self.classes_[1]).astype(np.float64)

    def decision_function(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return X @ self.coef_[0] + self.intercept_[0]

    def predict(self, X) -> np.ndarray:
        positive = self.decision_function(X) > 0
        return self.classes_[positive.astype(int)]

    def predict_proba(self, X) -> np.ndarray:
        z = torch.as_tensor(self.decision_function(X))
        return np.stack([torch.sigmoid(-z).numpy(), torch.sigmoid(z).numpy()], axis=1)  # σ(−z), not 1 − σ(z)

    def predict_log_proba(self, X) -> np.ndarray:
        z = torch.as_tensor(self.decision_function(X))
        return np.stack([torch.nn.functional.logsigmoid(-z).numpy(), torch.nn.functional.logsigmoid(z).numpy()], 1)

    def _set_model(self, coef: torch.Tensor, intercept: torch.Tensor, converged: bool, n_iter: int) -> None:
        self.coef_ = coef.numpy().reshape(1, -1).copy()
        self.intercept_ = intercept.numpy().reshape(1).copy()
        self.converged_ = bool(converged)
        self.n_iter_ = np.array([int(n_iter)])


class PenalizedLogisticRegression(_LogisticBase):
    """L1- or L2-penalised logistic regression at a fixed strength λ, fitted by :func:`fit`.

    Minimises (1/m)Σ log(1 + exp(−ỹ(wᵀx + b))) + λ‖w‖₁ (or (λ/2)‖w‖²): scikit-learn's
    ``LogisticRegression(penalty=penalty, C=1/(lam·m))``.
    """

    def __init__(self, penalty: str = "l1", lam: float = 0.01, fit_intercept: bool = False, tol: float = 1e-10,
                 max_iter: int = 200):
        self.penalty = penalty
        self.lam = lam
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        X, y01 = self._prepare(X, y)
        result = fit(X, y01, nonnegative_float("lam", self.lam), self.penalty, fit_intercept=self.fit_intercept,
                     tol=self.tol, max_iter=self.max_iter)
        self._set_model(result.coef[0, 0], result.intercept[0, 0], result.converged[0, 0], result.n_iter[0, 0])
        return self


class HoldoutLogisticRegression(_LogisticBase):
    """Penalised logistic regression with λ chosen by Ng's hold-out (:func:`holdout_select`).

    Attributes after ``fit``: ``lambda_`` (chosen λ), ``holdout_scores_`` (hold-out value of
    ``select_by`` for each λ of ``lambdas_``), ``coef_``, ``intercept_``, ``converged_``.
    """

    def __init__(self, penalty: str = "l1", lambdas: Sequence[float] | None = None, holdout: float = 0.3,
                 select_by: str = "zero_one", refit: bool = False, fit_intercept: bool = False, tol: float = 1e-10,
                 max_iter: int = 200):
        self.penalty = penalty
        self.lambdas = lambdas
        self.holdout = holdout
        self.select_by = select_by
        self.refit = refit
        self.fit_intercept = fit_intercept
        self.tol = tol
        self.max_iter = max_iter

    def fit(self, X, y):
        X, y01 = self._prepare(X, y)
        check_choice("select_by", self.select_by, METRICS)
        result = holdout_select(X, y01, self.penalty, self.lambdas, holdout=self.holdout, metrics=(self.select_by,),
                                refit=self.refit, fit_intercept=self.fit_intercept, tol=self.tol,
                                max_iter=self.max_iter)
        metric = self.select_by
        k = int(result.index[metric][0])
        self.lambdas_ = result.lambdas.numpy().copy()
        self.lambda_ = float(result.lambdas[k])
        self.holdout_scores_ = result.scores[metric][0].numpy().copy()
        self._set_model(result.coef[metric][0], result.intercept[metric][0], result.converged[metric][0],
                        result.path.n_iter[0, k])
        return self
