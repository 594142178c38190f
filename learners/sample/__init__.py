"""Learners of the ``sample_complexity`` study, each fitted to T trials at once (float64).

    from learners.sample import make, names
    learner = make("ridge", lambdas=[1.0, 0.1, 0.0])
    fit = learner.fit(X, y, task="regression", seed=0)    # X (T, m, n), y (T, m)
    fit.coef, fit.intercept, fit.predict(X_test), fit.selected, fit.status, fit.extra

Every hyperparameter is chosen as Ng (2004) chooses λ: fitted on the first 70 % of each
trial's examples, kept where the metric on the last 30 % is lowest (0/1 error for
classification, mean square loss for regression); the reported model is the one fitted on
the first 70 %. Learners (:func:`describe`): ``l1-logistic``, ``l2-logistic``
(:mod:`~learners.sample.logistic`), ``ridge`` (:mod:`~learners.sample.ridge`) and
``spindly`` (:mod:`~learners.sample.spindly`), and ``mlp:SPEC``, a network trained by any
optimizer spec (:mod:`~learners.sample.mlp`).
"""

from learners.sample.base import METRICS, TASKS, BatchFit, SampleLearner
from learners.sample.registry import accepted, describe, is_known, is_neural, make, names

__all__ = ["METRICS", "TASKS", "BatchFit", "SampleLearner", "accepted", "describe", "is_known", "is_neural", "make",
           "names"]
