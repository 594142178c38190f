"""Ng (2004): L1- versus L2-regularised logistic regression with many irrelevant features.

Two parts share one trial grid (a trial is one dataset and one learner; duplicates
are run once):

* **Figure 1**: the three settings of :mod:`studies.ng_data` × n from 10 to 1000
  × m ∈ {100, 200} × {L1, L2} × ``trials`` repetitions.
* **Sample complexity m*(n)**: the one-feature setting × a log grid of m for each
  n, dense enough to interpolate the smallest m whose mean 0/1 error is within
  ε = 0.05 of the Bayes error (``reports.sample_complexity``). L1 reaches it at a
  few dozen examples for every n, L2 at several times n, so each penalty has its
  own n and m grids.

A trial draws its data from a seed derived from (study seed, setting, n, m, rep) —
not the penalty — so L1 and L2 see the same datasets (paired), and fits the
regularisation grid by Ng's hold-out protocol (:func:`learners.logistic.holdout_select`).
Its metrics are exact expectations over a fresh test point (:mod:`studies.ng_data`):
``zero_one``, the 0/1 error of the model chosen by hold-out 0/1 error, and
``log_loss``, the log loss of the model chosen by hold-out log loss, with the
chosen λ's, whether each sits at an edge of the grid (``edge_<metric>``: the smallest λ, or
the largest with a hold-out value strictly below the next one's; ``top_tie_<metric>``: the
largest by a tie, a plateau the tie rule resolved — see
:meth:`learners.logistic.HoldoutResult.at_edge`), how far a wider grid could still move an edge
choice's exact metric (``edge_gap_<metric>``, :func:`_edge_gap`) and whether that is below
:data:`PLATEAU_TOL` (``plateau_<metric>``: the path has converged at the edge, e.g. to the
unpenalised fit at the bottom or to L2's constant predictor at the top; an edge that is not a
plateau is a grid artefact, typically the bottom λ on a separable training sample, where the
norm diverges as λ → 0), the numbers of nonzero coefficients and the solver's convergence flags.

Optional ``group``: a group (``invariance.groups`` name) whose random element,
seeded per dataset, acts on the inputs before fitting — e.g. ``orthogonal``
turns Ng's sparse problem into a dense one, which L2 does not notice and L1 does.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from studies import ng_data
from studies.spec import Outcome, Study, TrialSpec, derive_seed

PENALTIES = ("l1", "l2")
#: data arrays per solver call are kept below this many floats (memory; results change only at the
#: level of rounding, see learners.logistic)
_CHUNK_FLOATS = 2 ** 25
#: an edge choice whose exact expected metric cannot move by more than this beyond the grid (by the
#: geometric-tail estimate of :func:`_edge_gap`) is a plateau, not a grid artefact: a thousandth of a
#: nat (log loss) or of the error rate (0/1), below the reported three decimals
PLATEAU_TOL = 1e-3


def lambda_grid(config: Mapping[str, Any]) -> np.ndarray:
    """The regularisation grid: log-spaced from lambda_max down to lambda_min."""
    hi, lo, per = config["lambda_max"], config["lambda_min"], config["lambdas_per_decade"]
    count = round(math.log10(hi / lo) * per) + 1
    return np.logspace(math.log10(hi), math.log10(lo), count)


class Ng2004(Study):
    name = "ng2004"
    description = "Ng (2004) Figure 1: L1 vs L2 logistic regression, and sample complexity m*(n)"
    defaults: ClassVar[dict[str, Any]] = {
        "seed": 0,
        # Figure 1
        "settings": ["one", "three", "decay"],
        "n_values": [10, 18, 32, 56, 100, 178, 316, 562, 1000],
        "m_values": [100, 200],
        "penalties": ["l1", "l2"],
        "trials": 100,
        # sample complexity: one-feature setting, m grids ~√2 apart
        "mstar_settings": ["one"],
        "mstar_n_l1": [10, 18, 32, 56, 100, 178, 316, 562, 1000],
        "mstar_m_l1": [10, 14, 20, 28, 40, 57, 80, 113, 160],
        "mstar_n_l2": [10, 20, 40, 80, 160],
        "mstar_m_l2": [20, 28, 40, 57, 80, 113, 160, 226, 320, 453, 640, 905, 1280, 1810, 2560],
        "mstar_trials": 100,
        # what each trial computes
        "lambda_max": 1000.0,
        "lambda_min": 1e-6,
        "lambdas_per_decade": 4,
        "holdout": 0.3,
        "refit": False,
        "fit_intercept": False,
        "tol": 1e-8,
        "max_iter": 200,
        "group": "identity",
    }
    quick: ClassVar[dict[str, Any]] = {
        "settings": ["one"],
        "n_values": [10, 100, 1000],
        "m_values": [100],
        "trials": 30,
        "mstar_n_l1": [10, 32, 100, 316, 1000],
        "mstar_m_l1": [10, 14, 20, 28, 40, 57, 80],
        "mstar_n_l2": [10, 20, 40, 80],
        "mstar_m_l2": [20, 40, 80, 160, 226, 320, 453, 640, 905, 1280],
        "mstar_trials": 40,
    }
    design_keys = frozenset({
        "settings", "n_values", "m_values", "penalties", "trials", "mstar_settings", "mstar_n_l1", "mstar_m_l1",
        "mstar_n_l2", "mstar_m_l2", "mstar_trials",
    })
    max_batch = 100
    # 2: each trial stores whether its chosen λ's sit at an edge of the grid (edge_*, top_tie_*);
    # 3: and how far a wider grid could move the edge's metric (edge_gap_*, plateau_*)
    version = 3

    # ------------------------------------------------------------------ config
    def validate(self, config: Mapping[str, Any]) -> None:
        for key in ("settings", "mstar_settings"):
            for setting in config[key]:
                if setting not in ng_data.SETTINGS:
                    raise ValueError(f"unknown setting {setting!r} in {key}; accepted: {', '.join(ng_data.SETTINGS)}")
        for penalty in config["penalties"]:
            if penalty not in PENALTIES:
                raise ValueError(f"unknown penalty {penalty!r} in penalties; accepted: {', '.join(PENALTIES)}")
        for key in ("n_values", "mstar_n_l1", "mstar_n_l2"):
            _check_sizes(config, key, 1)
        for key in ("m_values", "mstar_m_l1", "mstar_m_l2"):
            _check_sizes(config, key, 4)  # the hold-out needs a few examples on both sides
        smallest_n = min([*config["n_values"], *config["mstar_n_l1"], *config["mstar_n_l2"]], default=3)
        if smallest_n < 3 and "three" in [*config["settings"], *config["mstar_settings"]]:
            raise ValueError(f"setting 'three' needs n >= 3, but the n values include {smallest_n}")
        for key in ("trials", "mstar_trials", "lambdas_per_decade", "max_iter"):
            if config[key] < (0 if key.endswith("trials") else 1):
                raise ValueError(f"{key} must be at least {0 if key.endswith('trials') else 1}, got {config[key]}")
        if not 0 < config["lambda_min"] < config["lambda_max"] or not math.isfinite(config["lambda_max"]):
            raise ValueError(f"need 0 < lambda_min < lambda_max < inf, got {config['lambda_min']} and "
                             f"{config['lambda_max']}")
        if not 0 < config["holdout"] < 1:
            raise ValueError(f"holdout must be a fraction strictly between 0 and 1, got {config['holdout']}")
        if not config["tol"] > 0:
            raise ValueError(f"tol must be positive, got {config['tol']}")
        if config["group"] != "identity":
            from invariance import groups

            if config["group"] not in groups.GROUPS:
                raise ValueError(f"unknown group {config['group']!r}; accepted: {', '.join(groups.GROUPS)}")

    # ------------------------------------------------------------------ the grid
    def trials(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        reps: dict[tuple, int] = {}  # (setting, n, m, penalty) -> repetitions; parts may overlap

        def add(point: tuple, count: int) -> None:
            reps[point] = max(reps.get(point, 0), count)

        for setting in config["settings"]:
            for n in config["n_values"]:
                for m in config["m_values"]:
                    for penalty in config["penalties"]:
                        add((setting, n, m, penalty), config["trials"])
        for setting in config["mstar_settings"]:
            for penalty in config["penalties"]:
                for n in config[f"mstar_n_{penalty}"]:
                    for m in config[f"mstar_m_{penalty}"]:
                        add((setting, n, m, penalty), config["mstar_trials"])
        # the most expensive points first, so that parallel workers finish together
        ordered = sorted(reps, key=lambda p: -_cost(p[1], p[2], p[3]))
        return [{"setting": s, "n": n, "m": m, "penalty": p, "rep": r}
                for (s, n, m, p) in ordered for r in range(reps[(s, n, m, p)])]

    def batch_key(self, coords: Mapping[str, Any]) -> tuple:
        return (coords["setting"], coords["n"], coords["m"], coords["penalty"])

    # ------------------------------------------------------------------ running
    def run_batch(self, config: Mapping[str, Any], batch: Sequence[TrialSpec]) -> list[Outcome]:
        from learners.logistic import (
            holdout_select,  # torch is imported in the worker only
        )

        setting, n, m, penalty = self.batch_key(batch[0].coords)
        if any(self.batch_key(t.coords) != (setting, n, m, penalty) for t in batch):
            raise ValueError("run_batch needs trials that share (setting, n, m, penalty)")
        lambdas = lambda_grid(config)
        outcomes: list[Outcome] = []
        size = max(1, _CHUNK_FLOATS // (m * n))
        for start in range(0, len(batch), size):
            chunk = batch[start:start + size]
            datasets = [self.dataset(config, t.coords) for t in chunk]
            X = np.stack([d[0] for d in datasets])
            y = np.stack([d[1] for d in datasets])
            result = holdout_select(X, y, penalty, lambdas, holdout=config["holdout"], refit=config["refit"],
                                    fit_intercept=config["fit_intercept"], tol=config["tol"],
                                    max_iter=config["max_iter"])
            outcomes += self._outcomes(datasets, result)
        return outcomes

    def dataset(self, config: Mapping[str, Any], coords: Mapping[str, Any]):
        """(X, y, θ, group element or None) of a trial: the same for both penalties."""
        key = (coords["setting"], coords["n"], coords["m"], coords["rep"])
        seed = derive_seed(config["seed"], self.name, "data", *key)
        group = None
        if config["group"] != "identity":
            from invariance import groups

            group = groups.sample(config["group"], coords["n"], seed=derive_seed(config["seed"], self.name, "group", *key))
        X, y, _ = ng_data.make_dataset(coords["setting"], coords["n"], coords["m"], seed, group=group)
        return X, y, ng_data.theta(coords["setting"], coords["n"]), group

    @staticmethod
    def _outcomes(datasets, result) -> list[Outcome]:
        theta = datasets[0][2]
        bayes = ng_data.bayes_error(theta)
        bayes_ll = ng_data.bayes_log_loss(theta)
        group = datasets[0][3]
        models = {}
        for metric in ("zero_one", "log_loss"):
            coef = result.coef[metric].numpy()
            if group is not None:  # weights on g·x, as weights on x
                coef = np.stack([ng_data.pull_back(c, d[3]) for c, d in zip(coef, datasets)])
            models[metric] = (coef, result.intercept[metric].numpy())
        zero_one = ng_data.expected_zero_one(*models["zero_one"], theta)
        log_loss = ng_data.expected_log_loss(*models["log_loss"], theta)
        zero_one_of_ll = ng_data.expected_zero_one(*models["log_loss"], theta)
        path_converged = result.path.converged.all(1).numpy()
        edge = {k: result.at_edge(k).numpy() for k in ("zero_one", "log_loss")}
        top_tie = {k: result.top_tie(k).numpy() for k in ("zero_one", "log_loss")}
        gap = {k: _edge_gap(result, k, edge[k], datasets, theta) for k in ("zero_one", "log_loss")}
        out = []
        for i in range(len(datasets)):
            lam = {k: float(result.lambdas[result.index[k][i]]) for k in ("zero_one", "log_loss")}
            out.append(Outcome("ok", {
                "zero_one": float(zero_one[i]),
                "log_loss": float(log_loss[i]),
                "zero_one_of_log_loss_model": float(zero_one_of_ll[i]),
                "bayes_error": bayes,
                "bayes_log_loss": bayes_ll,
                "lambda_zero_one": lam["zero_one"],
                "lambda_log_loss": lam["log_loss"],
                "nnz_zero_one": int(np.count_nonzero(result.coef["zero_one"][i].numpy())),
                "nnz_log_loss": int(np.count_nonzero(result.coef["log_loss"][i].numpy())),
                "edge_zero_one": bool(edge["zero_one"][i]),
                "edge_log_loss": bool(edge["log_loss"][i]),
                "top_tie_zero_one": bool(top_tie["zero_one"][i]),
                "top_tie_log_loss": bool(top_tie["log_loss"][i]),
                # None off the edges; a plateau is an edge that a wider grid cannot move by more than PLATEAU_TOL
                "edge_gap_zero_one": float(gap["zero_one"][i]) if edge["zero_one"][i] else None,
                "edge_gap_log_loss": float(gap["log_loss"][i]) if edge["log_loss"][i] else None,
                "plateau_zero_one": bool(edge["zero_one"][i] and gap["zero_one"][i] <= PLATEAU_TOL),
                "plateau_log_loss": bool(edge["log_loss"][i] and gap["log_loss"][i] <= PLATEAU_TOL),
                "holdout_zero_one": float(result.scores["zero_one"][i, result.index["zero_one"][i]]),
                "holdout_log_loss": float(result.scores["log_loss"][i, result.index["log_loss"][i]]),
                "converged_zero_one": bool(result.converged["zero_one"][i]),
                "converged_log_loss": bool(result.converged["log_loss"][i]),
                "path_converged": bool(path_converged[i]),
                "path_max_iter": int(result.path.n_iter[i].max()),
                "n_train": int(result.n_train),
            }))
        return out


def _edge_gap(result, metric: str, edge: np.ndarray, datasets, theta: np.ndarray) -> np.ndarray:
    """(B,) how far the exact expected ``metric`` of an edge choice may still move beyond the grid
    (NaN off the edges).

    The path's models at the edge λ and at its inner neighbour (a factor r apart) are scored by
    the exact risk; their difference d, extrapolated as a geometric tail, gives d / (r − 1): the
    distance to the limit when the metric converges linearly in λ at the bottom (towards the
    unpenalised fit, which exists when the training sample is not separable) or in 1/λ at the top
    (L2 towards the constant predictor). On a separable training sample the norm grows without
    bound as λ → 0 and d does not shrink, so the gap stays large: such an edge is a grid artefact.
    Both models are the path's (first-part) fits, so with ``refit`` the gap describes the selection.
    """
    gap = np.full(len(edge), np.nan)
    rows = np.flatnonzero(edge)
    if rows.size == 0:
        return gap
    chosen = result.index[metric].numpy()[rows]
    inner = result.inner_neighbour(metric).numpy()[rows]
    lam = result.lambdas.numpy()
    ratio = np.maximum(lam[chosen], lam[inner]) / np.minimum(lam[chosen], lam[inner])
    risk = ng_data.expected_zero_one if metric == "zero_one" else ng_data.expected_log_loss
    coef = result.path.coef.numpy()
    intercept = result.path.intercept.numpy()
    values = []
    for index in (chosen, inner):
        W = coef[rows, index]
        if datasets[0][3] is not None:  # weights on g·x, as weights on x
            W = np.stack([ng_data.pull_back(w, datasets[r][3]) for w, r in zip(W, rows)])
        values.append(risk(W, intercept[rows, index], theta))
    with np.errstate(divide="ignore", invalid="ignore"):  # ratio = 1 only on a one-value grid: all edge
        gap[rows] = np.where(ratio > 1, np.abs(values[0] - values[1]) / (ratio - 1), np.inf)
    return gap


def _cost(n: int, m: int, penalty: str) -> float:
    """A rough cost model of one trial's grid (flops of its Newton systems), for scheduling."""
    m_train = 0.7 * m
    d = min(n, m_train) if penalty == "l2" else min(n, m_train, 64)
    return m_train * d * d + (m_train * n if penalty == "l1" else 0.0)


def _check_sizes(config: Mapping[str, Any], key: str, least: int) -> None:
    values = config[key]
    if any(v < least for v in values) or len(set(values)) != len(values):
        raise ValueError(f"{key} must be distinct integers >= {least}, got {values}")


STUDY = Ng2004()
