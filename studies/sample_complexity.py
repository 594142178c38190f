"""Study ``sample_complexity``: how many examples each learner needs as the dimension grows.

learners × families × a per-family grid of dimensions n × a grid of training sizes
m × ``trials`` repetitions. A trial draws a fresh training set of m examples from
its family (:mod:`studies.families`), fits the learner (:mod:`learners.sample`:
hyperparameters chosen on the last 30 % of the examples, as Ng chooses λ) and
stores the test risk of the selected model, exact where the family allows it
(a linear predictor on a Gaussian family or on the Hadamard rows), otherwise on
``test_points`` (≥ 10,000) fresh points. The report (``reports.sample_complexity``)
turns the curves into m*(n), the smallest m whose mean excess risk is within
``epsilon``, and calls its growth law.

Seeds. A trial's data come from derive_seed(seed, study, "data", NAME, n, m, rep)
and its fresh test points from (..., "test", NAME, n, m, rep), with NAME the
family's base name: every learner sees the same datasets (paired), and
``rotated-NAME`` sees NAME's draws rotated (a paired rotation contrast). A
rotated family's rotation is seeded per (family, n) from the study seed and
recorded with each trial (``rotation_seed``, ``family_info``). The learner's own
seed is derive_seed(seed, study, "fit", family, learner, n, m, rep) (``fit_seed``).

Batching. The trials of one (family, learner, n, m) cell are one ``learner.fit``
on (T, m, n) tensors (split only to bound memory). A learner runs only on the
families whose task (classification or regression) it handles; l1/l2-logistic
skip ``hadamard``.

Grids. ``grids`` maps a key to ``{n = [...], m = [...]}`` (and optionally
``trials``); the grid of (family F, learner L) is the first of ``F/L``, ``F``,
``B/L``, ``B`` (B the base name of a rotated F) found in the configured ``grids``,
then in the default grids — so ``--set 'grids={...}'`` only needs the entries it
changes, and a rotated twin runs on its base family's grid unless it has its own
(the rotation contrast needs points in common, not all of them). m values a family
cannot use are skipped (hadamard: only k = m < d = n).

The default grids bracket each learner's m* (ε = 0.05). Rotation-invariant learners
(l2-logistic, ridge) need m of several times n on the sparse Gaussian families, so
they get n = 10…160 and m = 20…2560 (~√2 apart, as ``ng2004`` does for L2); the
sparsity-exploiting ones (l1-logistic, spindly) need m ~ log n: n = 10…1000 and
m = 10…160. ng-one, the growth-law family, has 9 values of n for l1-logistic;
gaussian-threshold, rotated-ng-one and spindly (whose gradient descent costs
steps × m × n per trial) every other one. Hadamard: d = 16…256 and k = 4…d − 1.
ng-three, ng-decay and the hypercube families are curves, not growth laws (50
trials per point; linear learners cannot learn a parity, nor a staircase beyond
its linear part: those families are there for the neural learners). The default
families are the eight (sparse parity of degree 3 and 2) and three rotated twins:
``rotated-ng-one`` (Ng's contrast: L2 unchanged, L1 degrades), ``rotated-hadamard``
(Warmuth et al.'s: spindly loses its advantage) and ``rotated-gaussian-threshold``;
any other twin is one ``--set families=[...]`` away.

The default learners are the four classic ones and nine neural ones, ``mlp:SPEC``
(``NEURAL_LEARNERS``: the seed's question, rotation-equivariant optimizers against
coordinate-wise and per-layer ones), each on its own ``FAMILY/mlp`` grids: 16 trials a
point, n up to 64 (what 2 cores afford), a 9-value step-size grid and early stopping
(``mlp`` options, docs/sample_complexity_neural.md). ``check_rotation`` adds one trial per
neural learner holding the equivariance checker's verdict for the orthogonal group.

Metrics per trial: ``risk``, ``bayes_risk``, ``excess`` = risk − bayes_risk,
``metric`` (zero_one or square), hadamard's ``bound`` = 1 − m/(n − 1), each entry
of the fit's ``selected`` as ``selected_<name>`` and of ``extra`` as it is,
``family_info`` (the family's facts) and, for rotated families, ``rotation_seed``.
A diverged fit is stored with status ``diverged`` and NaN risks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from learners.sample.mlp import MLPLearner
from studies import families
from studies.spec import Outcome, Study, TrialSpec, derive_seed

#: a grids key FAMILY/mlp applies to every mlp:SPEC learner
NEURAL_KEY = "mlp"
DEVICES = ("cpu", "cuda")
CHECK_OPTIONS = ("n_elements", "seeds", "init_draws", "steps")
#: the options of every mlp:SPEC learner (learners.sample.mlp.MLPLearner); see the module docstring
DEFAULT_MLP: dict[str, Any] = MLPLearner.default_options()
#: training data per learner.fit call are kept below this many floats (memory)
_CHUNK_FLOATS = 2 ** 24
_GRID_KEYS = ("n", "m", "trials")

# m grids ~√2 apart (as ng2004's)
_M_SPARSE = [10, 14, 20, 28, 40, 57, 80, 113, 160]
_M_DENSE = [20, 28, 40, 57, 80, 113, 160, 226, 320, 453, 640, 905, 1280, 1810, 2560]
_N_SPARSE = [10, 18, 32, 56, 100, 178, 316, 562, 1000]
_N_DENSE = [10, 20, 40, 80, 160]
#: every other n of _N_SPARSE: where a growth law is not the point, or a trial is costly (spindly's gradient
#: descent costs steps × m × n)
_N_THIN = [10, 32, 100, 316, 1000]
_DENSE_LEARNERS = ("l2-logistic", "ridge")


def _gaussian_grids(family: str, n_sparse: list[int], n_dense: list[int]) -> dict[str, dict[str, Any]]:
    grids: dict[str, dict[str, Any]] = {family: {"n": list(n_sparse), "m": list(_M_SPARSE)},
                                        f"{family}/spindly": {"n": list(_N_THIN), "m": list(_M_SPARSE)}}
    for learner in _DENSE_LEARNERS:
        grids[f"{family}/{learner}"] = {"n": list(n_dense), "m": list(_M_DENSE)}
    return grids


def _curves(family: str, n: list[int], m: list[int], dense_n: list[int], dense_m: list[int]) -> dict[str, dict]:
    """Risk curves only (no growth law is expected of them): 50 trials per point."""
    grids: dict[str, dict[str, Any]] = {family: {"n": n, "m": m, "trials": 50}}
    for learner in _DENSE_LEARNERS:
        grids[f"{family}/{learner}"] = {"n": dense_n, "m": dense_m, "trials": 50}
    return grids


#: m up to 2560: at n = 64 mlp:sgd's m* (ε = 0.05) is near 800 on ng-one, and the coordinate-wise
#: optimizers' beyond 1280 (a pilot); a growth call needs m* at 4 values of n
_M_NEURAL = [40, 80, 160, 320, 640, 1280, 2560]
_M_NEURAL_TWIN = [40, 160, 640]
_NEURAL_TRIALS = 16


def _neural_grids() -> dict[str, dict[str, Any]]:
    def grid(n, m):
        return {"n": list(n), "m": list(m), "trials": _NEURAL_TRIALS}

    return {
        f"ng-one/{NEURAL_KEY}": grid([8, 16, 32, 64], _M_NEURAL),
        f"rotated-ng-one/{NEURAL_KEY}": grid([8, 32], _M_NEURAL_TWIN),
        f"gaussian-threshold/{NEURAL_KEY}": grid([8, 16, 32, 64], _M_NEURAL),
        f"rotated-gaussian-threshold/{NEURAL_KEY}": grid([8, 32], _M_NEURAL_TWIN),
        f"hadamard/{NEURAL_KEY}": grid([16, 32, 64], [4, 8, 12, 15, 24, 31, 48, 63]),
        f"rotated-hadamard/{NEURAL_KEY}": grid([32], [4, 8, 12, 15, 24, 31]),
        # m* needs at least 4 values of m per n (reports.mstar)
        f"sparse-parity/{NEURAL_KEY}": grid([8, 16, 32], [80, 160, 320, 640, 1280]),
        f"sparse-parity-2/{NEURAL_KEY}": grid([8, 16, 32], [40, 80, 160, 320, 640]),
        f"staircase/{NEURAL_KEY}": grid([8, 16, 32], [40, 80, 160, 320, 640]),
        # curves of the linear learners only (an empty n leaves a pair out)
        f"ng-three/{NEURAL_KEY}": grid([], []),
        f"ng-decay/{NEURAL_KEY}": grid([], []),
    }


DEFAULT_GRIDS: dict[str, dict[str, Any]] = {
    **_gaussian_grids("ng-one", _N_SPARSE, _N_DENSE),
    **_gaussian_grids("gaussian-threshold", _N_THIN, _N_DENSE),
    # the rotation contrast needs points in common with ng-one, not all of them
    **_gaussian_grids("rotated-ng-one", _N_THIN, [10, 40, 160]),
    **_curves("ng-three", [10, 32, 100, 316, 1000], [20, 40, 80, 160, 320], [10, 20, 40, 80],
              [20, 40, 80, 160, 320, 640, 1280]),
    **_curves("ng-decay", [10, 32, 100, 316, 1000], [20, 40, 80, 160, 320], [10, 20, 40, 80],
              [20, 40, 80, 160, 320, 640, 1280]),
    "hadamard": {"n": [16, 32, 64, 128, 256], "m": [4, 6, 8, 12, 15, 24, 31, 48, 63, 96, 127, 192, 255]},
    "sparse-parity": {"n": [10, 20, 40], "m": [20, 80, 320, 1280], "trials": 50},
    "sparse-parity-2": {"n": [10, 40], "m": [80, 320, 1280], "trials": 30},
    "staircase": {"n": [10, 20, 40], "m": [20, 80, 320, 1280], "trials": 50},
    **_gaussian_grids("rotated-gaussian-threshold", [10, 100, 1000], [10, 40, 160]),
    # the neural learners (every mlp:SPEC): 20 trials a point, n up to what 2 cores afford
    **_neural_grids(),
}
DEFAULT_FAMILIES = ["ng-one", "ng-three", "ng-decay", "gaussian-threshold", "hadamard", "sparse-parity",
                    "sparse-parity-2", "staircase", "rotated-ng-one", "rotated-gaussian-threshold", "rotated-hadamard"]
CLASSIC_LEARNERS = ["l1-logistic", "l2-logistic", "ridge", "spindly"]
#: the seed's question: rotation-equivariant (sgd, momentum, agd, muon with Gaussian init) against
#: coordinate-wise (adam, signsgd, lion) and per-layer rules (Adam on the input layer only, or elsewhere)
NEURAL_LEARNERS = ["mlp:sgd", "mlp:momentum", "mlp:adam", "mlp:signsgd", "mlp:lion", "mlp:agd", "mlp:muon",
                   "mlp:layers: [adam, sgd]", "mlp:layers: [sgd, adam]"]
DEFAULT_LEARNERS = CLASSIC_LEARNERS + NEURAL_LEARNERS
#: the pseudo-family of the checker's trials: one per neural learner, its rotation verdict
CHECK_FAMILY = "rotation-check"
CHECK_GROUP = "orthogonal"


# ---------------------------------------------------------------------------- learners (learners.sample)


def learner_names() -> list[str]:
    """The classic learners (``mlp:SPEC`` takes any optimizer spec)."""
    from learners import sample

    return list(sample.names())


def is_neural(name: str) -> bool:
    from learners import sample

    return sample.is_neural(name)


def is_learner(name: str) -> bool:
    from learners import sample

    return name in learner_names() or (is_neural(name) and sample.is_known(name))


def accepted_learners() -> str:
    return ", ".join(learner_names()) + ", mlp:SPEC (SPEC any optimizer spec, e.g. mlp:adam)"


def make_learner(name: str, **options: Any):
    from learners import sample

    return sample.make(name, **options)


class SampleComplexity(Study):
    name = "sample_complexity"
    description = "sample complexity m*(n) of any learner on hard data families and their rotated twins"
    defaults: ClassVar[dict[str, Any]] = {
        "seed": 0,
        "families": list(DEFAULT_FAMILIES),
        "learners": list(DEFAULT_LEARNERS),
        "trials": 100,
        "grids": DEFAULT_GRIDS,
        # the excess-risk level that defines m* (read by the report; kept with every trial)
        "epsilon": 0.05,
        # what each trial computes
        "learner_options": {},
        "test_points": 10_000,
        "threshold": 0.0,
        "parity_degree": 3,
        "staircase_degree": 3,
        "hadamard_column": 1,
        # the neural learners mlp:SPEC (learners.sample.mlp): these options for all of them,
        # learner_options."mlp:SPEC" on top for one
        "mlp": dict(DEFAULT_MLP),
        "device": "cpu",
        # one checker run per neural learner: its verdict for the rotation group, for the report
        "check_rotation": True,
        "check_options": {"n_elements": 3, "seeds": 32, "init_draws": 256},
    }
    quick: ClassVar[dict[str, Any]] = {
        "trials": 30,
        "grids": {
            "ng-one": {"n": [10, 32, 100, 316, 1000], "m": [10, 14, 20, 28, 40, 57, 80]},
            "ng-one/spindly": {"n": [10, 100, 1000], "m": [10, 20, 40, 80]},
            "ng-one/l2-logistic": {"n": [10, 20, 40, 80], "m": [20, 40, 80, 160, 226, 320, 453, 640, 905, 1280]},
            "ng-one/ridge": {"n": [10, 20, 40, 80], "m": [20, 40, 80, 160, 226, 320, 453, 640, 905, 1280]},
            "rotated-ng-one": {"n": [10, 100, 1000], "m": [10, 20, 40, 80]},
            "rotated-ng-one/l2-logistic": {"n": [10, 40, 80], "m": [20, 80, 320, 1280]},
            "rotated-ng-one/ridge": {"n": [10, 40, 80], "m": [20, 80, 320, 1280]},
            "gaussian-threshold": {"n": [10, 100, 1000], "m": [10, 20, 40, 80]},
            "gaussian-threshold/l2-logistic": {"n": [10, 40], "m": [20, 80, 320, 1280]},
            "gaussian-threshold/ridge": {"n": [10, 40], "m": [20, 80, 320, 1280]},
            "ng-three": {"n": [10, 100], "m": [40, 160]},
            "ng-decay": {"n": [10, 100], "m": [40, 160]},
            "hadamard": {"n": [16, 64], "m": [4, 8, 16, 32, 48, 63]},
            "sparse-parity": {"n": [10], "m": [40, 320]},
            "sparse-parity-2": {"n": [10], "m": [40, 320]},
            "staircase": {"n": [10], "m": [40, 320]},
            "rotated-gaussian-threshold": {"n": [10, 100], "m": [20, 80]},
            "rotated-gaussian-threshold/l2-logistic": {"n": [10], "m": [20, 80, 320]},
            "rotated-gaussian-threshold/ridge": {"n": [10], "m": [20, 80, 320]},
            # the neural learners: a few cells each, 6 trials, 150 steps; none on the linear-only curves
            **{f"{family}/{NEURAL_KEY}": {"n": [8], "m": [40, 320], "trials": 6}
               for family in ("sparse-parity", "sparse-parity-2", "staircase", "rotated-gaussian-threshold")},
            **{f"{family}/{NEURAL_KEY}": {"n": [16], "m": [4, 8, 15], "trials": 6}
               for family in ("hadamard", "rotated-hadamard")},
            f"ng-one/{NEURAL_KEY}": {"n": [8, 32], "m": [40, 160, 640], "trials": 6},
            f"rotated-ng-one/{NEURAL_KEY}": {"n": [8], "m": [40, 160, 640], "trials": 6},
            f"gaussian-threshold/{NEURAL_KEY}": {"n": [8], "m": [40, 160, 640], "trials": 6},
            **{f"{family}/{NEURAL_KEY}": {"n": [], "m": []} for family in ("ng-three", "ng-decay")},
        },
        "mlp": {**DEFAULT_MLP, "steps": 150},
        "check_options": {"n_elements": 2, "seeds": 16, "init_draws": 64},
    }
    design_keys = frozenset({"families", "learners", "trials", "grids", "check_rotation"})
    max_batch = 100

    # ------------------------------------------------------------------ config
    def validate(self, config: Mapping[str, Any]) -> None:
        names = _distinct_names(config, "families", "family", families.is_known, families.accepted())
        learners = _distinct_names(config, "learners", "learner", is_learner, accepted_learners())
        for key in ("trials", "parity_degree", "staircase_degree", "hadamard_column"):
            if config[key] < 1:
                raise ValueError(f"{key} must be at least 1, got {config[key]}")
        if config["test_points"] < 10_000:
            raise ValueError(f"test_points must be at least 10,000 (risks on fewer fresh points are too noisy), "
                             f"got {config['test_points']}")
        if not (math.isfinite(config["epsilon"]) and config["epsilon"] > 0):
            raise ValueError(f"epsilon must be a positive number, got {config['epsilon']}")
        if not isinstance(config["mlp"], Mapping):
            raise ValueError(f"mlp must be a table of options for the mlp:SPEC learners, got {config['mlp']!r}")
        if config["device"] not in DEVICES:
            raise ValueError(f"device must be one of {', '.join(DEVICES)}, got {config['device']!r}")
        if config["device"] == "cuda":
            import torch

            if not torch.cuda.is_available():
                raise ValueError("device 'cuda' asked for, but torch sees no CUDA device here; use device = 'cpu'")
        if not isinstance(config["check_options"], Mapping) or set(config["check_options"]) - set(CHECK_OPTIONS):
            raise ValueError(f"check_options must be a table with keys among {', '.join(CHECK_OPTIONS)}, "
                             f"got {config['check_options']!r}")
        options = config["learner_options"]
        for learner, opts in options.items():
            if learner not in learners:
                raise ValueError(f"learner_options names {learner!r}, which is not in learners ({', '.join(learners)})")
            if not isinstance(opts, Mapping):
                raise ValueError(f"learner_options.{learner} must be a table of options, got {opts!r}")
        tasks = {name: self.learner(config, name).tasks for name in learners}
        _check_grid_keys(config["grids"])
        pairs = 0
        for name in names:
            family = self.family(config, name)
            for learner in learners:
                if family.task not in tasks[learner]:
                    continue
                pairs += 1
                grid = self.grid(config, name, learner)
                for n in grid["n"]:
                    family.check_n(n)
                    usable = [m for m in grid["m"] if family.usable(n, m)]
                    if not usable:
                        raise ValueError(f"grid of {name}/{learner} has no usable m at n={n} (m values {grid['m']})")
                    for m in usable:
                        family.check_m(n, m)
        if not pairs:
            raise ValueError(f"no learner in {learners} handles the task of any family in {names}")

    def family(self, config: Mapping[str, Any], name: str) -> families.Family:
        base = families.base_name(name)
        options: dict[str, Any] = {"test_points": config["test_points"]}
        options.update({
            "gaussian-threshold": {"t": config["threshold"]},
            "sparse-parity": {"k": config["parity_degree"]},
            "staircase": {"k": config["staircase_degree"]},
            "hadamard": {"column": config["hadamard_column"]},
        }.get(base, {}))
        return families.get(name, seed=config["seed"], **options)

    def learner(self, config: Mapping[str, Any], name: str):
        options = {**config["mlp"], "device": config["device"]} if is_neural(name) else {}
        return make_learner(name, **options, **dict(config["learner_options"].get(name, {})))

    def grid(self, config: Mapping[str, Any], family: str, learner: str) -> dict[str, Any]:
        """The grid {n, m, trials} of (family, learner): see the module docstring for the lookup order."""
        base = families.base_name(family)
        neural = [f"{family}/{NEURAL_KEY}"] if is_neural(learner) else []
        neural_base = [f"{base}/{NEURAL_KEY}"] if is_neural(learner) else []
        keys = [f"{family}/{learner}", *neural, family, f"{base}/{learner}", *neural_base, base]
        for grids in (config["grids"], DEFAULT_GRIDS):
            for key in keys:
                if key in grids:
                    entry = grids[key]
                    return {"n": list(entry["n"]), "m": sorted(entry["m"]), "trials": entry.get("trials", config["trials"])}
        raise ValueError(f"no grid for family {family!r} and learner {learner!r}: add grids.{base} = "
                         "{n = [...], m = [...]}")

    # ------------------------------------------------------------------ the grid
    def trials(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        cells = []
        learners = {name: self.learner(config, name) for name in config["learners"]}
        for name in config["families"]:
            family = self.family(config, name)
            for learner in config["learners"]:
                if family.task not in learners[learner].tasks:
                    continue
                grid = self.grid(config, name, learner)
                for n in grid["n"]:
                    for m in grid["m"]:
                        if family.usable(n, m):
                            cells.append((name, learner, n, m, grid["trials"]))
        # the most expensive cells first, so that parallel workers finish together
        cells.sort(key=lambda c: -_cost(learners[c[1]], c[2], c[3]) * c[4])
        trials = [{"family": f, "learner": lr, "n": n, "m": m, "rep": rep}
                  for (f, lr, n, m, reps) in cells for rep in range(reps)]
        if config["check_rotation"]:
            trials += [{"family": CHECK_FAMILY, "learner": lr, "n": 0, "m": 0, "rep": 0}
                       for lr in config["learners"] if is_neural(lr)]
        return trials

    def batch_key(self, coords: Mapping[str, Any]) -> tuple:
        return (coords["family"], coords["learner"], coords["n"], coords["m"])

    # ------------------------------------------------------------------ running
    def seeds(self, config: Mapping[str, Any], coords: Mapping[str, Any]) -> tuple[int, int]:
        """(data seed, test-point seed) of a trial: the same for every learner and for a rotated twin."""
        key = (families.base_name(coords["family"]), coords["n"], coords["m"], coords["rep"])
        return (derive_seed(config["seed"], self.name, "data", *key),
                derive_seed(config["seed"], self.name, "test", *key))

    def fit_seed(self, config: Mapping[str, Any], coords: Mapping[str, Any]) -> int:
        """The seed of a trial's own fit (a network's initialisation): one per trial, so that a
        trial's result does not depend on which trials share its batch."""
        return derive_seed(config["seed"], self.name, "fit", *self.batch_key(coords), coords["rep"])

    def run_batch(self, config: Mapping[str, Any], batch: Sequence[TrialSpec]) -> list[Outcome]:
        key = self.batch_key(batch[0].coords)
        if any(self.batch_key(t.coords) != key for t in batch):
            raise ValueError("run_batch needs trials that share (family, learner, n, m)")
        name, learner_name, n, m = key
        if name == CHECK_FAMILY:
            return [self.check_rotation(config, learner_name) for _ in batch]
        family = self.family(config, name)
        learner = self.learner(config, learner_name)
        common = {
            "bayes_risk": float(family.bayes_risk(n)),
            "metric": family.metric,
            **{k: float(v) for k, v in family.extra_metrics(n, m).items()},
            "family_info": family.describe(n),
        }
        if name.startswith(families.PREFIX):
            common["rotation_seed"] = int(family.rotation_seed(n))
        outcomes: list[Outcome] = []
        size = max(1, _CHUNK_FLOATS // (m * n))
        for start in range(0, len(batch), size):
            chunk = batch[start:start + size]
            data_seeds, test_seeds = zip(*(self.seeds(config, t.coords) for t in chunk))
            fit_seeds = [self.fit_seed(config, t.coords) for t in chunk]
            X, y = family.sample(n, m, list(data_seeds))
            fit = learner.fit(X, y, task=family.task, seed=fit_seeds)
            risk = family.risk(n, fit, list(test_seeds))
            outcomes += _outcomes(fit, risk, common)
        return outcomes


    def check_rotation(self, config: Mapping[str, Any], learner_name: str) -> Outcome:
        """The checker's verdict for the rotation group on the learner's optimizer, trained in the
        checker's MLP with the learner's initialisation, width and depth (invariance.checker)."""
        from invariance.checker import check_equivariance

        learner = self.learner(config, learner_name)
        report = check_equivariance(learner.optimizer, [CHECK_GROUP], seed=config["seed"], init=learner.init,
                                    width=learner.width, depth=learner.depth, **dict(config["check_options"]))
        result = report.results[CHECK_GROUP]
        return Outcome("ok", {"rotation_verdict": result.verdict, "coupled_verdict": result.coupled_verdict,
                              "init_verdict": result.init_verdict,
                              "distributional_verdict": result.distributional_verdict,
                              "check": report.to_dict()["groups"][CHECK_GROUP]})


def _outcomes(fit, risk: np.ndarray, common: dict[str, Any]) -> list[Outcome]:
    status = np.asarray(fit.status)
    selected = {k: np.asarray(v) for k, v in (getattr(fit, "selected", None) or {}).items()}
    extra = {k: np.asarray(v) for k, v in (getattr(fit, "extra", None) or {}).items()}
    out = []
    for t in range(len(risk)):
        value = float(risk[t])
        ok = status[t] == "ok" and math.isfinite(value)
        metrics = {
            "risk": value if ok else math.nan,
            "excess": value - common["bayes_risk"] if ok else math.nan,
            **common,
            **{f"selected_{k}": _scalar(v[t]) for k, v in selected.items()},
            **{k: _scalar(v[t]) for k, v in extra.items()},
        }
        out.append(Outcome("ok" if ok else "diverged", metrics))
    return out


def _scalar(value: Any) -> Any:
    """A numpy element as a JSON-able Python scalar (NaN stays NaN)."""
    value = np.asarray(value)
    if value.dtype == bool:
        return bool(value)
    if np.issubdtype(value.dtype, np.integer):
        return int(value)
    if np.issubdtype(value.dtype, np.floating):
        return float(value)
    return value.item() if value.ndim == 0 else value.tolist()


def _cost(learner, n: int, m: int) -> float:
    """A rough cost model of one trial, for scheduling only: a solve on 0.7m × n data, or
    for a network (a learner with a step-size ``grid``), grid × steps × m × (n + width) × width."""
    m_fit = 0.7 * m
    if hasattr(learner, "grid"):
        width = learner.width
        return len(learner.grid) * learner.steps * m * (n + width * (learner.depth - 1)) * width
    return m_fit * n * min(n, m_fit) + m * n


def _distinct_names(config: Mapping[str, Any], key: str, singular: str, known, accepted: str) -> list[str]:
    values = list(config[key])
    if not values:
        raise ValueError(f"{key} must name at least one entry; accepted: {accepted}")
    for value in values:
        if not known(value):
            raise ValueError(f"unknown {singular} {value!r} in {key}; accepted: {accepted}")
    if len(set(values)) != len(values):
        raise ValueError(f"{key} must be distinct, got {values}")
    return values


def _check_grid_keys(grids: Mapping[str, Any]) -> None:
    for key, entry in grids.items():
        family, _, learner = key.partition("/")
        if not families.is_known(family):
            raise ValueError(f"grids.{key}: unknown family {family!r}; accepted: {families.accepted()}")
        if learner and learner != NEURAL_KEY and not is_learner(learner):
            raise ValueError(f"grids.{key}: unknown learner {learner!r}; accepted: {accepted_learners()} "
                             f"or {NEURAL_KEY!r} (every mlp:SPEC learner)")
        if not isinstance(entry, Mapping) or not {"n", "m"} <= set(entry) or set(entry) - set(_GRID_KEYS):
            raise ValueError(f"grids.{key} must be a table with keys n, m (and optionally trials), got {entry!r}")
        for axis in ("n", "m"):
            values = entry[axis]
            if not values and isinstance(values, list) and not entry["n"]:
                continue  # n = [] leaves the pair out
            if (not isinstance(values, list) or not values or len(set(values)) != len(values)
                    or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values)):
                raise ValueError(f"grids.{key}.{axis} must be a list of distinct positive ints, got {values!r}")
        trials = entry.get("trials", 1)
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise ValueError(f"grids.{key}.trials must be a positive int, got {trials!r}")


STUDY = SampleComplexity()
