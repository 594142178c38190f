"""Study ``optimizers``: the seed blog's experiments, AGD's headline, and the cost of symmetry on images.

Four experiments (``experiments`` chooses which run):

``two_layer``
    The seed's first experiment: a two-layer MLP of width 1024 on MNIST, AGD
    against Adam and against ``adam-layerwise``, Adam with one learning rate
    for the input layer and one for the rest.
``square_loss``
    The seed's CIFAR-10 experiment with square loss: SGD, AGD, AGD with
    momentum, AGD layer-wise (layer k's step divided by k).
``deep``
    AGD's headline (Bernstein et al. 2023): a deep bias-free MLP (16 and 32
    layers by default) where AGD is compared with Adam at lr 1e-3 and SGD at
    lr 0.1. The paper reports that the latter two fail to train a 32-layer
    network on CIFAR-10; the study reports what it measures.
``rotation``
    The cost of symmetry: every optimizer trained on the original pixels and on
    a Haar-rotated pixel basis x -> M x (same network, same budget). The pair
    of runs with one ``rep`` is coupled: the rotated run starts from the
    original run's initialisation with its first layer transported (W1 -> W1
    Mᵀ) and sees the same minibatches. Because the initialisation is rotation
    invariant in law (``init`` must be ``orthogonal`` or ``gaussian``), the
    transported start is a fair draw of the optimizer's own initialisation, so
    each run of the pair is a valid sample of the algorithm on its data; a
    rotation-equivariant optimizer then gives the same network up to rounding
    (a gap that is noise), and the paired gap (rotated − original) measures
    exactly what a non-equivariant one loses or gains.

Equal tuning budgets (:mod:`studies.optimizers_search`): every optimizer of
an experiment is trained on the same grid size (``<experiment>_grid_points``
candidate values, ``<experiment>_grid_step`` decades apart, of its learning
rate, AGD's gain, or adam-layerwise's (lr_input, lr_rest) pairs), centred on the spec's own value, each candidate
over the full horizon on the training rows outside a seeded hold-out split
(``holdout``). A trial is (experiment, dataset, depth, optimizer, basis,
tuning, rep): ``tuning = "default"`` is the grid's centre (the spec as
written: the paper's Adam lr 1e-3, SGD lr 0.1, AGD gain 1) at its last epoch;
``tuning = "tuned"`` is the candidate the seed's hold-out score selects, at its
selected epoch (early stopping). Both come from the same training (the same
rows), so default and tuned differ only by the choice; adam-layerwise has no
default (its centre is Adam's), only a tuned trial, and its grid is centred on
the rate the experiment's Adam chose (lower median over the seeds; Adam and
adam-layerwise share a batch so that Adam's grid is trained once). All candidates × reps of
one (experiment, dataset, depth, optimizer, basis) train as one batched
network (:func:`learners.neural.train_batched` with ``optimizers.PerMember``). Randomness: the data split and
subsample use the study ``seed`` (every trial of an experiment sees the same
data); the initialisation and minibatch order of rep r derive from (seed,
experiment, dataset, depth, r) -- shared by the optimizers and by the two bases
(common random numbers, so comparisons are paired); the rotation from (seed,
dataset), or also r with ``rotation_per_seed``.

Data: MNIST and CIFAR-10 are read from the data folder (``data_dir``, else
$SYMBENCH_DATA, else ``../shared/data`` beside the repository). Where MNIST's
training files are absent (as on the project's machines) the official test set
is split 8,000 / 2,000 (stratified, seeded) and the trials say so in their
provenance notes. A default dataset whose files are missing is replaced by
``fallback_dataset``, and the terminal says so; a dataset the user names is
never replaced (missing files are an error). Every dataset is loaded and
checked once before the sweep (``prepare``; see :mod:`studies.optimizers_data`).

Each trial stores its per-epoch history (train, hold-out and test loss and
accuracy) of the candidate it reports, its result (``final_*``: the reported
epoch's metrics), its status (``diverged`` with the step at which the loss
became non-finite), the whole grid's scores and final test metrics
(``tuning``), its share of the batched run's wall-clock time, and the data's
provenance. The metrics hold no wall-clock time (they are identical whatever
the batching, jobs or backend); the report charges a trial's seconds from the
runner's batch durations (:func:`reports.optimizers.member_seconds`).
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import torch

import optimizers
from optimizers.spec import parse_one
from invariance import groups
from learners.neural import ACTIVATIONS, INITS, LOSSES, BatchedMLP, train_batched
from learners.neural.engine import TRAIN_METRICS, TrainResult
from studies import config as config_mod
from studies import datasets
from studies.optimizers_data import DataRequest, data_folder, dataset_to_use, substitution_note
from studies import optimizers_search as search
from studies.spec import Outcome, Study, TrialSpec, derive_seed

EXPERIMENTS = {
    "two_layer": "two-layer MLP (width 1024) on MNIST: AGD, Adam, Adam with per-layer lrs chosen on a hold-out",
    "square_loss": "CIFAR-10 with square loss: SGD, AGD, AGD + momentum, AGD layer-wise",
    "deep": "deep bias-free MLP (16 and 32 layers): AGD vs Adam lr 1e-3 vs SGD lr 0.1",
    "rotation": "cost of symmetry: each optimizer on original and on Haar-rotated pixels, paired by seed",
}
BASES = ("original", "rotated")
#: Adam, and the optimizer whose grid is centred on Adam's tuned rate (they share a batch)
ANCHORED = ("adam", search.LAYERWISE)
#: keys every experiment has, as ``<experiment>_<key>`` in the config
EXPERIMENT_KEYS = ("dataset", "optimizers", "width", "epochs", "n_train", "n_test", "loss", "grid_points",
                   "grid_step", "target")
TUNINGS = ("default", "tuned")
#: initialisations whose law is invariant under rotations of the input (required by ``rotation``)
ROTATION_INVARIANT_INITS = ("orthogonal", "gaussian")
HISTORY_KEYS = ("epoch", "step", "train_loss", "train_acc", "test_loss", "test_acc", "holdout_loss", "holdout_acc")
FINAL_KEYS = ("train_loss", "train_acc", "test_loss", "test_acc")
DEVICES = ("cpu", "cuda")
DTYPES = ("float32", "float64")


class OptimizersStudy(Study):
    name = "optimizers"
    description = "the seed's optimizer comparisons on MNIST and CIFAR-10, AGD on deep MLPs, and the cost of symmetry"
    defaults = {
        "seed": 0,
        "experiments": list(EXPERIMENTS),
        "seeds": 5,
        "data_dir": "",
        "fallback_dataset": "digits",
        "device": "cpu",
        "dtype": "float32",
        "batch_size": 128,
        "train_metrics": "running",
        # the network (AGD's reference: bias-free, ReLU·√2, Haar semi-orthogonal layers)
        "init": "orthogonal",
        "activation": "relu_sqrt2",
        "bias": False,
        # equal tuning budgets: <experiment>_grid_points candidates per optimizer, centred on the
        # spec's own value, spaced by <experiment>_grid_step decades (adam-layerwise: a square grid
        # of (lr_input, lr_rest) spaced by layerwise_step decades), scored on a hold-out split.
        # adam-layerwise's grid is centred on the lr Adam chose (not Adam's default 1e-3: around
        # (1e-3, 1e-3) at 1 decade its choices sat on the top edge in 100 % of trials, because
        # Adam's own optimum is 0.5-1 decade above 1e-3), and spaced by half a decade, the step of
        # Adam's own grid in the experiments that run adam-layerwise, so its axes are Adam's choice
        # and Adam's two neighbouring candidates.
        "holdout": 0.2,
        "layerwise_step": 0.5,
        # 1. the seed's MNIST experiment
        "two_layer_dataset": "mnist",
        "two_layer_optimizers": ["agd", "adam", "adam-layerwise"],
        "two_layer_width": 1024,
        "two_layer_depth": 2,
        "two_layer_epochs": 5,
        "two_layer_n_train": 2500,
        "two_layer_n_test": 1000,
        "two_layer_loss": "cross_entropy",
        "two_layer_grid_points": 9,
        "two_layer_grid_step": 0.5,
        "two_layer_target": 0.92,
        # 2. the seed's CIFAR-10 experiment with square loss (all of data_batch_1)
        "square_loss_dataset": "cifar10",
        "square_loss_optimizers": ["sgd", "agd", "agd-momentum", "agd-layerwise"],
        "square_loss_width": 128,
        "square_loss_depth": 3,
        "square_loss_epochs": 12,
        "square_loss_n_train": 0,
        "square_loss_n_test": 2000,
        "square_loss_loss": "mse",
        "square_loss_grid_points": 5,
        "square_loss_grid_step": 0.75,
        "square_loss_target": 0.4,
        # 3. AGD's headline: deep bias-free MLPs
        "deep_dataset": "mnist",
        "deep_optimizers": ["agd", "adam(lr=1e-3)", "sgd(lr=0.1)"],
        "deep_width": 128,
        "deep_depths": [16, 32],
        "deep_epochs": 6,
        "deep_n_train": 2000,
        "deep_n_test": 2000,
        "deep_loss": "mse",
        "deep_grid_points": 5,
        "deep_grid_step": 0.75,
        "deep_target": 0.8,
        # 4. the cost of symmetry on images
        "rotation_dataset": "mnist",
        "rotation_optimizers": ["sgd", "adam", "adam-layerwise", "agd", "agd-momentum", "agd-layerwise"],
        "rotation_width": 128,
        "rotation_depth": 2,
        "rotation_epochs": 5,
        "rotation_n_train": 2000,
        "rotation_n_test": 2000,
        "rotation_loss": "cross_entropy",
        "rotation_grid_points": 9,
        "rotation_grid_step": 0.5,
        "rotation_target": 0.88,
        "rotation_per_seed": False,
    }
    quick = {
        "seeds": 2,
        "two_layer_width": 256, "two_layer_epochs": 2, "two_layer_n_train": 1000, "two_layer_n_test": 500,
        "square_loss_width": 64, "square_loss_epochs": 2, "square_loss_n_train": 1000, "square_loss_n_test": 500,
        "square_loss_grid_points": 3, "deep_grid_points": 3,
        "deep_width": 64, "deep_depths": [16], "deep_epochs": 2, "deep_n_train": 1000, "deep_n_test": 500,
        "rotation_width": 64, "rotation_epochs": 2, "rotation_n_train": 1000, "rotation_n_test": 500,
    }
    # data_dir and fallback_dataset decide which dataset a trial's coordinates name (a substitute
    # when files are missing); where the same files live does not change what a trial computes.
    design_keys = frozenset({"experiments", "seeds", "data_dir", "fallback_dataset", "deep_depths",
                             *(f"{e}_optimizers" for e in EXPERIMENTS)})

    # ------------------------------------------------------------ the config
    def validate(self, config: Mapping[str, Any]) -> None:
        experiments = config["experiments"]
        if not experiments:
            raise ValueError(f"experiments is empty; accepted: {', '.join(EXPERIMENTS)}")
        for experiment in experiments:
            _check_choice("experiment", experiment, EXPERIMENTS)
        _check_unique("experiments", experiments)
        _check_at_least(config, "seeds", 1)
        _check_at_least(config, "batch_size", 1)
        _check_choice("dtype", config["dtype"], DTYPES)
        _check_choice("init", config["init"], INITS)
        _check_choice("activation", config["activation"], ACTIVATIONS)
        _check_choice("train_metrics", config["train_metrics"], TRAIN_METRICS)
        _check_device(config["device"])
        if config["data_dir"] and not data_folder(config["data_dir"]).is_dir():
            raise ValueError(f"data_dir {config['data_dir']!r} is not a folder (leave it empty for $SYMBENCH_DATA "
                             "or ../shared/data)")
        if config["fallback_dataset"]:
            _check_choice("fallback_dataset", config["fallback_dataset"], datasets.DATASETS, extra="or ''")
        if not 0 < config["holdout"] < 1:
            raise ValueError(f"holdout must be a fraction in (0, 1), got {config['holdout']!r}")
        _check_step(config, "layerwise_step")
        for experiment in experiments:
            self._validate_experiment(config, experiment)

    def _validate_experiment(self, config: Mapping[str, Any], experiment: str) -> None:
        _check_choice(f"{experiment}_dataset", config[f"{experiment}_dataset"], datasets.DATASETS)
        _check_choice(f"{experiment}_loss", config[f"{experiment}_loss"], LOSSES)
        for key in ("width", "epochs"):
            _check_at_least(config, f"{experiment}_{key}", 1)
        for key in ("n_train", "n_test"):
            _check_at_least(config, f"{experiment}_{key}", 0, "(0 = all)")
        depths = config["deep_depths"] if experiment == "deep" else [config[f"{experiment}_depth"]]
        if not depths or any(depth < 1 for depth in depths):
            raise ValueError(f"depths of {experiment} must be at least 1 (weight layers), got {depths!r}")
        if experiment == "deep":
            _check_unique("deep_depths", depths)
        key = f"{experiment}_optimizers"
        if not config[key]:
            raise ValueError(f"{key} is empty; name at least one optimizer (see `symbench list optimizers`)")
        _check_unique(key, config[key])
        for spec in config[key]:
            try:
                optimizers.resolve(spec)
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{key}: {str(exc).splitlines()[0]}") from None
        _check_step(config, f"{experiment}_grid_step")
        points = config[f"{experiment}_grid_points"]
        if points < 1 or points % 2 == 0:
            raise ValueError(f"{experiment}_grid_points must be an odd number >= 1 (the grid is centred on "
                             f"the default), got {points!r}")
        for spec in config[key]:
            try:
                tuned = search.tuned_parameter(spec)
                if tuned.parameter == "lrs":
                    search.side(points)
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        target = config[f"{experiment}_target"]
        if not 0 < target <= 1:
            raise ValueError(f"{experiment}_target must be a test accuracy in (0, 1], got {target!r}")
        if experiment == "rotation" and config["init"] not in ROTATION_INVARIANT_INITS:
            raise ValueError(f"the rotation experiment needs a rotation-invariant init (accepted: "
                             f"{', '.join(ROTATION_INVARIANT_INITS)}), got init={config['init']!r}")

    # ------------------------------------------------------------ the trials
    def trials(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        folder = data_folder(config["data_dir"])
        named = config_mod.named_keys(config, self.defaults)  # a dataset the user names is never replaced
        trials = []
        for experiment in config["experiments"]:
            key = f"{experiment}_dataset"
            dataset = dataset_to_use(config[key], folder, config["fallback_dataset"], named=key in named)
            depths = config["deep_depths"] if experiment == "deep" else [config[f"{experiment}_depth"]]
            bases = BASES if experiment == "rotation" else BASES[:1]
            for optimizer in config[f"{experiment}_optimizers"]:
                for depth in depths:
                    for basis in bases:
                        for tuning in tunings(optimizer):
                            trials += [{"experiment": experiment, "dataset": dataset, "depth": depth,
                                        "optimizer": optimizer, "basis": basis, "tuning": tuning, "rep": rep}
                                       for rep in range(config["seeds"])]
        # Largest batches first, so the parallel runner does not end on one long batch.
        return sorted(trials, key=lambda coords: -_relative_cost(config, coords))

    def batch_key(self, coords: Mapping[str, Any]) -> tuple:
        """The default and tuned trials of all reps of one optimizer train together (one grid);
        the Adam specs and adam-layerwise of an experiment share a batch, so that the grid Adam
        trains also gives the centre of adam-layerwise's grid (``layerwise_centre``)."""
        key = {k: v for k, v in coords.items() if k not in ("rep", "tuning")}
        if parse_one(key["optimizer"]).name in ANCHORED:
            key["optimizer"] = ANCHORED[0]
        return tuple(sorted(key.items()))

    def prepare(self, config: Mapping[str, Any], trials: Sequence[TrialSpec]) -> list[str]:
        """Load every dataset the trials read (unrotated: a rotation cannot fail on good data),
        once, before the sweep: a missing, truncated or corrupt file, or a subsample larger than
        the data, is a one-line DatasetError naming the file. Returns the substitution notes."""
        folder = data_folder(config["data_dir"])
        notes: dict[str, None] = {}
        requests: dict[DataRequest, str] = {}
        for trial in trials:
            coords = trial.coords
            requests.setdefault(data_request(config, coords, None), coords["experiment"])
            note = substitution_note(config[f"{coords['experiment']}_dataset"], coords["dataset"], folder)
            if note is not None:
                notes[f"{coords['experiment']}: {note}"] = None
        for request, experiment in requests.items():
            try:
                request.load()
            except datasets.DatasetError as exc:  # say which experiment asked for it
                raise type(exc)(f"{experiment} ({request.name}): {exc}") from None
        return list(notes)

    # ------------------------------------------------------------ one batch
    def run_batch(self, config: Mapping[str, Any], batch: Sequence[TrialSpec]) -> list[Outcome]:
        if any(self.batch_key(t.coords) != self.batch_key(batch[0].coords) for t in batch):
            raise ValueError("run_batch got trials of different (experiment, dataset, depth, optimizer, basis)")
        by_optimizer: dict[str, list[TrialSpec]] = {}
        for trial in batch:
            by_optimizer.setdefault(trial.coords["optimizer"], []).append(trial)
        done: list[tuple[TrialSpec, Outcome]] = []
        # adam-layerwise last: its grid is centred on what the experiment's Adam chose
        for optimizer in sorted(by_optimizer, key=lambda o: search.tuned_parameter(o).parameter == "lrs"):
            trials = by_optimizer[optimizer]
            centre = None
            if search.tuned_parameter(optimizer).parameter == "lrs":
                centre = self.layerwise_centre(config, trials[0].coords, done)
            done += self._train(config, trials, centre)
        outcomes = {trial.key: outcome for trial, outcome in done}
        return [outcomes[trial.key] for trial in batch]

    def _train(self, config: Mapping[str, Any], trials: Sequence[TrialSpec],
               centre: float | None) -> list[tuple[TrialSpec, Outcome]]:
        """The trials of one optimizer (one grid), per rotation; (trial, outcome) pairs."""
        coords = dict(trials[0].coords)
        rotated = coords["basis"] == "rotated"
        by_rotation: dict[int | None, list[TrialSpec]] = {}
        for trial in trials:
            by_rotation.setdefault(self.rotation_seed(config, trial.coords) if rotated else None, []).append(trial)
        done = []
        for rotation_seed, group in by_rotation.items():
            done += zip(group, _BatchRun(self, config, coords, group, rotation_seed, centre).run())
        return done

    def layerwise_centre(self, config: Mapping[str, Any], coords: Mapping[str, Any],
                         done: Sequence[tuple[TrialSpec, Outcome]]) -> float | None:
        """The rate adam-layerwise's grid is centred on: the lower median over all seeds of the
        lr that the experiment's first plain ``adam`` spec chose on the hold-out, on the same data,
        depth and basis (None, i.e. the spec's own rate, when the experiment has no Adam or no
        seed chose). Centring on Adam's tuned rate rather than its default keeps the per-layer
        optimum inside the 3 × 3 grid; the grid's own budget stays √points × √points. The Adam
        trials are taken from ``done`` (the same batch) or, when the runner split them off,
        trained again here: the same seeds and data give the same choices."""
        anchor = next((s for s in config[f"{coords['experiment']}_optimizers"]
                       if parse_one(s).name == ANCHORED[0]), None)
        if anchor is None:
            return None
        wanted = [{**coords, "optimizer": anchor, "tuning": "tuned", "rep": rep} for rep in range(config["seeds"])]
        found = {trial.coords["rep"]: outcome for trial, outcome in done if dict(trial.coords) in wanted}
        missing = [c for c in wanted if c["rep"] not in found]
        if missing:
            specs = [TrialSpec(self.name, c, 0, f"layerwise-centre-{c['rep']}", "") for c in missing]
            found.update((trial.coords["rep"], outcome) for trial, outcome in self._train(config, specs, None))
        choices = sorted(o.metrics["tuning"]["chosen"] for o in found.values()
                         if o.metrics.get("tuning", {}).get("chosen") is not None)
        return choices[(len(choices) - 1) // 2] if choices else None

    # ------------------------------------------------------------ seeds
    def member_seed(self, config: Mapping[str, Any], coords: Mapping[str, Any]) -> int:
        """Initialisation seed of a rep: shared by the optimizers and the two bases of an experiment."""
        return derive_seed(config["seed"], self.name, "member",
                           {k: coords[k] for k in ("experiment", "dataset", "depth", "rep")})

    def rotation_seed(self, config: Mapping[str, Any], coords: Mapping[str, Any]) -> int:
        """Seed of the Haar rotation: one per dataset, or one per rep with ``rotation_per_seed``."""
        rep = coords["rep"] if config["rotation_per_seed"] else None
        return derive_seed(config["seed"], self.name, "rotation", coords["dataset"], rep)


class _BatchRun:
    """Train the reps of one (experiment, dataset, depth, optimizer, basis) that share one rotation."""

    def __init__(self, study: OptimizersStudy, config: Mapping[str, Any], coords: Mapping[str, Any],
                 trials: Sequence[TrialSpec], rotation_seed: int | None, centre: float | None = None):
        self.config, self.coords, self.trials = config, coords, list(trials)
        self.centre = centre  # adam-layerwise's grid centre (None: the spec's own rate)
        experiment = coords["experiment"]
        self.experiment = experiment
        self.requested = config[f"{experiment}_dataset"]
        self.folder = data_folder(config["data_dir"])
        self.rotation_seed = rotation_seed
        self.data = data_request(config, coords, rotation_seed).load()
        self.element = None
        if rotation_seed is not None:
            self.element = groups.from_dict(self.data.provenance["transform"]["element"])
        self.member_seeds = [study.member_seed(config, t.coords) for t in self.trials]
        self.order_seeds = [derive_seed(s, "order") for s in self.member_seeds]
        self.train_options = dict(
            batch_size=config["batch_size"], loss=config[f"{experiment}_loss"],
            train_metrics=config["train_metrics"], device=config["device"],
        )

    # -------------------------------------------------------------- model
    def build_model(self, members: Sequence[int]) -> BatchedMLP:
        """The initial batched network of the given members (indices into ``self.trials``).

        Drawn in float64; on the rotated basis the first layer is transported
        (W1 -> W1 M⁻¹ = W1 Mᵀ) before the single rounding to ``dtype``.
        """
        config = self.config
        model = BatchedMLP(self.data.n_features, self.data.n_classes, seeds=[self.member_seeds[i] for i in members],
                           width=config[f"{self.experiment}_width"], depth=self.coords["depth"],
                           activation=config["activation"], bias=config["bias"], init=config["init"],
                           dtype=torch.float64)
        if self.element is not None:
            with torch.no_grad():
                weight = model.first_layer.weight
                weight.copy_(self.element.transport_first_layer(weight.detach()))
        return model.to(dtype=getattr(torch, config["dtype"]))

    # -------------------------------------------------------------- training
    def run(self) -> list[Outcome]:
        """Train every candidate the batch's trials need as one batched network; one outcome per trial.

        A rep with a tuned trial trains the whole grid; a rep with only its default trial,
        the centre. Members are candidate-major (member = candidate slot × reps + rep slot),
        so the members of one candidate are one child optimizer of ``PerMember``.
        """
        config = self.config
        X, y = self.data.X_train.flatten(1), self.data.y_train
        tuned = search.tuned_parameter(self.coords["optimizer"])
        grid = search.candidate_grid(tuned, config[f"{self.experiment}_grid_points"],
                                     config[f"{self.experiment}_grid_step"], config["layerwise_step"], self.centre)
        centre = len(grid) // 2
        reps = sorted({t.coords["rep"] for t in self.trials})
        seed_of = {t.coords["rep"]: k for k, t in enumerate(self.trials)}  # rep -> an index into member_seeds
        wants_grid = {t.coords["rep"] for t in self.trials if t.coords["tuning"] == "tuned"}
        members = [(c, rep) for c in range(len(grid)) for rep in reps if c == centre or rep in wants_grid]
        specs = [tuned.spec(grid[c]) for c, _ in members]
        model = self.build_model([seed_of[rep] for _, rep in members])
        result = train_batched(model, optimizers.PerMember(specs), X, y,
                               order_seed=[self.order_seeds[seed_of[rep]] for _, rep in members],
                               epochs=config[f"{self.experiment}_epochs"], holdout=config["holdout"],
                               patience=config[f"{self.experiment}_epochs"], X_test=self.data.X_test.flatten(1),
                               y_test=self.data.y_test, **self.train_options)
        run = {"batched": result.batched}
        trained = {member: (specs[i], result.members[i]) for i, member in enumerate(members)}
        outcomes = []
        for trial in self.trials:
            rep = trial.coords["rep"]
            if trial.coords["tuning"] == "default":
                spec, member = trained[(centre, rep)]
                outcomes.append(self.outcome(seed_of[rep], member, spec, None, run, tuned, grid))
                continue
            candidates = [search.score(grid[c], trained[(c, rep)][1].status, trained[(c, rep)][1].history)
                          for c in range(len(grid))]
            chosen = search.select(candidates)
            spec, member = trained[(centre if chosen is None else chosen, rep)]
            selection = {"chosen": chosen, "candidates": candidates}
            outcomes.append(self.outcome(seed_of[rep], member, spec, selection, run, tuned, grid))
        return outcomes

    def outcome(self, k: int, member: TrainResult, trained_spec: str, selection, run: dict,
                tuned: search.Tuned, grid: list) -> Outcome:
        """The trial's record: the default (``selection`` None: last epoch of the centre) or the
        tuned result (the chosen candidate at its selected epoch)."""
        history = {key: list(member.history[key]) for key in HISTORY_KEYS}
        diverged = member.status == "diverged"
        if diverged:  # keep the epochs evaluated before the parameters became non-finite
            keep = sum(step < member.diverged_at_step for step in history["step"])
            history = {key: values[:keep] for key, values in history.items()}
        status = member.status
        epoch = history["epoch"][-1] if history["epoch"] and not diverged else None
        centre = tuned.centre if self.centre is None else self.centre
        tuning = {"parameter": tuned.parameter, "centre": centre, "centred_on": "spec" if self.centre is None
                  else "adam's hold-out choice",
                  "grid": [list(v) if isinstance(v, tuple) else v for v in grid]}
        if selection is not None:
            chosen = selection["chosen"]
            tuning.update(candidates=[c.to_dict() for c in selection["candidates"]], chosen_index=chosen)
            if chosen is None:  # no candidate finished the horizon: the trial failed to train
                status, epoch = "diverged", None
            else:
                value = grid[chosen]
                epoch = selection["candidates"][chosen].epoch
                tuning.update(chosen=list(value) if isinstance(value, tuple) else value,
                              at_edge=search.is_edge(grid, value), selected_epoch=epoch)
        row = None if epoch is None else history["epoch"].index(epoch)
        final = {f"final_{key}": (history[key][row] if row is not None else None) for key in FINAL_KEYS}
        metrics = {
            **final,
            "result_epoch": epoch,
            "history": history,
            "epochs_completed": len(history["epoch"]),
            "steps": member.steps,
            "diverged_at_step": member.diverged_at_step,
            "optimizer_trained": trained_spec,
            "tuning": tuning,
            "batched": run["batched"],
            "member_seed": self.member_seeds[k],
            "order_seed": self.order_seeds[k],
            "network": {"in_features": self.data.n_features, "out_features": self.data.n_classes,
                        "width": self.config[f"{self.experiment}_width"], "depth": self.coords["depth"],
                        "activation": self.config["activation"], "bias": self.config["bias"],
                        "init": self.config["init"],
                        "parameters": sum(p.numel() for p in member.model.parameters())},
            "data": {
                "requested": self.requested,
                "used": self.coords["dataset"],
                "substitute_note": substitution_note(self.requested, self.coords["dataset"], self.folder),
                "notes": self.data.notes,
                "provenance": self.data.provenance,
                "holdout": self.config["holdout"],
            },
            "rotation": None if self.rotation_seed is None else {
                "group": self.data.provenance["transform"]["group"], "seed": self.rotation_seed,
                "per_seed": self.config["rotation_per_seed"],
                "coupling": "first layer of the original run's initialisation transported, W1 -> W1 M^T; "
                            "same minibatch order",
            },
        }
        return Outcome(status, metrics)


def tunings(spec: str) -> tuple[str, ...]:
    """The trials an optimizer gets: default and tuned; adam-layerwise only tuned (its default is Adam)."""
    return TUNINGS[1:] if search.tuned_parameter(spec).parameter == "lrs" else TUNINGS


def data_request(config: Mapping[str, Any], coords: Mapping[str, Any], rotation_seed: int | None) -> DataRequest:
    """What a trial loads: its dataset (all of a substitute), subsample and dtype, and its rotation."""
    experiment = coords["experiment"]
    folder = data_folder(config["data_dir"])
    substituted = coords["dataset"] != config[f"{experiment}_dataset"]
    return DataRequest(
        name=coords["dataset"], folder=None if folder is None else str(folder), seed=config["seed"],
        n_train=None if substituted else (config[f"{experiment}_n_train"] or None),
        n_test=None if substituted else (config[f"{experiment}_n_test"] or None),
        dtype=config["dtype"], rotation_seed=rotation_seed,
    )


def _relative_cost(config: Mapping[str, Any], coords: Mapping[str, Any]) -> float:
    """A rough relative compute cost of a trial (only orders the trials, never changes a result)."""
    experiment = coords["experiment"]
    dims = {"cifar10": 3072, "digits": 64, "mnist1d": 40}.get(coords["dataset"], 784)
    width, depth = config[f"{experiment}_width"], coords["depth"]
    weights = dims * width + max(depth - 2, 0) * width * width + width * 10 if depth > 1 else dims * 10
    rows = config[f"{experiment}_n_train"] or 10_000
    cost = weights * rows * config[f"{experiment}_epochs"]
    if coords["tuning"] == "tuned":  # the whole grid, not only the centre
        cost *= config[f"{experiment}_grid_points"]
    return float(cost)


def _check_choice(what: str, value, accepted, extra: str = "") -> None:
    if value not in accepted:
        raise ValueError(f"unknown {what} {value!r}; accepted: {', '.join(accepted)}{' ' + extra if extra else ''}")


def _check_step(config: Mapping[str, Any], key: str) -> None:
    if not (math.isfinite(config[key]) and config[key] > 0):
        raise ValueError(f"{key} must be a positive number of decades between grid values, got {config[key]!r}")


def _check_unique(what: str, values) -> None:
    repeated = sorted({str(v) for v in values if list(values).count(v) > 1})
    if repeated:
        raise ValueError(f"{what} lists {', '.join(repeated)} more than once")


def _check_at_least(config: Mapping[str, Any], key: str, minimum: int, note: str = "") -> None:
    if config[key] < minimum:
        raise ValueError(f"{key} must be at least {minimum}{' ' + note if note else ''}, got {config[key]!r}")


def _check_device(device: str) -> None:
    kind = device.partition(":")[0]
    if kind not in DEVICES:
        raise ValueError(f"unknown device {device!r}; accepted: cpu, cuda, cuda:N")
    try:
        torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; accepted: cpu, cuda, cuda:N") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} asked for, but torch finds no CUDA device here (use device=cpu)")


STUDY = OptimizersStudy()
