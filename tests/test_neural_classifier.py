"""NeuralClassifier behaves as a scikit-learn classifier and learns."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import make_classification
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import estimator_checks

from learners.neural import NeuralClassifier

SMALL = dict(width=32, depth=2, epochs=30, batch_size=32)


def three_classes(n=300, seed=0):
    X, y = make_classification(n_samples=n, n_features=10, n_informative=5, n_redundant=0, n_classes=3,
                               n_clusters_per_class=1, class_sep=1.5, random_state=seed)
    return X, np.array(["cat", "dog", "eel"])[y]


@pytest.mark.parametrize("optimizer", ["agd", "adam(lr=0.01)"])
def test_learns_three_classes_far_better_than_chance(optimizer):
    X, y = three_classes()
    model = NeuralClassifier(optimizer=optimizer, **SMALL).fit(X[:200], y[:200])
    assert model.status_ == "ok" and list(model.classes_) == ["cat", "dog", "eel"]
    assert model.score(X[200:], y[200:]) > 0.8  # chance is 1/3
    assert list(model.history_.epoch) == list(range(1, 31))


def test_prediction_shapes_and_probabilities():
    X, y = three_classes()
    model = NeuralClassifier(**SMALL).fit(X, y)
    assert model.predict(X[:7]).shape == (7,) and set(model.predict(X)) <= set(model.classes_)
    probabilities = model.predict_proba(X[:7])
    assert probabilities.shape == (7, 3) and np.allclose(probabilities.sum(1), 1)
    assert (model.classes_[probabilities.argmax(1)] == model.predict(X[:7])).all()
    assert model.decision_function(X[:7]).shape == (7, 3)
    binary = NeuralClassifier(**SMALL).fit(X, y == "cat")
    assert binary.decision_function(X[:7]).shape == (7,)  # scikit-learn's binary convention
    assert ((binary.decision_function(X) > 0) == binary.predict(X)).all()


def test_clone_and_params_round_trip():
    model = NeuralClassifier(optimizer="adam", width=64, seed=3)
    params = model.get_params()
    assert params["optimizer"] == "adam" and params["width"] == 64 and params["seed"] == 3
    twin = clone(model)
    assert twin is not model and twin.get_params() == params
    assert model.set_params(depth=3, loss="cross_entropy").get_params()["depth"] == 3


def test_fit_is_reproducible_and_the_seed_matters():
    X, y = three_classes(n=120)
    first = NeuralClassifier(**SMALL, seed=5).fit(X, y).decision_function(X)
    again = clone(NeuralClassifier(**SMALL, seed=5)).fit(X, y).decision_function(X)
    other = NeuralClassifier(**SMALL, seed=6).fit(X, y).decision_function(X)
    assert np.array_equal(first, again) and not np.array_equal(first, other)


def test_fitted_classifier_pickles():
    X, y = three_classes(n=120)
    model = NeuralClassifier(**SMALL).fit(X, y)
    assert np.array_equal(pickle.loads(pickle.dumps(model)).decision_function(X), model.decision_function(X))


def test_divergence_warns_and_is_reported():
    X, y = three_classes(n=120)
    with pytest.warns(ConvergenceWarning, match="diverged at step"):
        model = NeuralClassifier(optimizer="sgd(lr=1e9)", **SMALL).fit(X, y)
    assert model.status_ == "diverged" and model.diverged_at_step_ is not None


CHECKS = ["check_estimators_unfitted", "check_fit2d_predict1d", "check_n_features_in", "check_classifiers_classes",
          "check_decision_proba_consistency", "check_get_params_invariance", "check_set_params",
          "check_dont_overwrite_parameters", "check_fit_idempotent", "check_classifiers_one_label",
          "check_estimators_nan_inf"]


@pytest.mark.parametrize("check", CHECKS)
def test_selected_scikit_learn_checks(check):
    getattr(estimator_checks, check)("NeuralClassifier", NeuralClassifier(**SMALL))


@pytest.mark.slow
def test_full_scikit_learn_check_estimator():
    estimator_checks.check_estimator(NeuralClassifier(**SMALL))
