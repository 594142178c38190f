"""Named learners (``symbench list learners``): classic scikit-learn estimators
and the neural classifier, each built fresh by ``make(name)``.

Our logistic regressions are binary; for more classes the catalogue wraps them
one-vs-rest (one binary problem per class, scores side by side), which keeps
every symmetry of the binary learner: each binary fit sees g(S) when the
multi-class fit does.
"""

from __future__ import annotations

from typing import Any, Callable


def _logistic(penalty: str):
    def make():
        from sklearn.multiclass import OneVsRestClassifier

        from learners.logistic import PenalizedLogisticRegression

        return OneVsRestClassifier(PenalizedLogisticRegression(penalty=penalty, lam=0.01))

    return make


def _svm(gamma):
    def make():
        from sklearn.svm import SVC

        return SVC(kernel="rbf", gamma=gamma)

    return make


def _tree():
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=0)


def _naive_bayes():
    from sklearn.naive_bayes import GaussianNB

    return GaussianNB()


def _mlp():
    from learners.neural import NeuralClassifier

    return NeuralClassifier(optimizer="sgd", width=64, depth=2, epochs=20, init="gaussian", seed=0)


#: name -> (factory, one-line description)
LEARNERS: dict[str, tuple[Callable[[], Any], str]] = {
    "l1-logistic": (_logistic("l1"), "L1-regularised logistic regression (our solver, λ = 0.01; one-vs-rest)"),
    "l2-logistic": (_logistic("l2"), "L2-regularised logistic regression (our solver, λ = 0.01; one-vs-rest)"),
    "svm-rbf": (_svm(0.0625), "RBF-kernel SVM, fixed gamma = 1/16 (a kernel of |x − z|: rotation invariant)"),
    "svm-rbf-scale": (_svm("scale"), "RBF SVM with sklearn's default gamma='scale' (1/(d·Var X) over all entries)"),
    "decision-tree": (_tree, "axis-aligned decision tree (scikit-learn, fully grown)"),
    "naive-bayes": (_naive_bayes, "Gaussian naive Bayes (per-feature variances)"),
    "mlp": (_mlp, "NeuralClassifier: 2-layer MLP, SGD, Gaussian initialisation"),
}


def make(name: str):
    if name not in LEARNERS:
        raise ValueError(f"unknown learner {name!r}; accepted: {', '.join(LEARNERS)}")
    return LEARNERS[name][0]()


def describe() -> dict[str, str]:
    return {name: text for name, (_, text) in LEARNERS.items()}
