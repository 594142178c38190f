"""Study ``atlas``: the symmetries of every optimizer we can reach.

One trial per optimizer: every optimizer that ``pytorch-optimizer`` registers
(``pytorch_optimizer.get_supported_optimizers()``, checked as ``pto:NAME``),
every ``torch.optim.Optimizer`` subclass that ``torch.optim`` exports (as
``torch.optim:Class``), and ours (the registry's names and the per-layer rules
of the ``equivariance`` study), each with its default hyperparameters, checked
by ``symbench check`` (:func:`invariance.checker.check_equivariance`) under the
orthogonal, permutation, sign-flip and signed-permutation groups. The check
runs with the study ``seed`` as its seed, so a trial's verdicts are exactly
those of ``symbench check SPEC --seeds 16 --seed 0`` for the learning rate it
records (K = 16 runs per side of the distributional test rather than the
checker's 32: most third-party optimizers cannot batch K networks, so their K
runs train one after another, and K = 32 would double the study's time).

**Learning rate.** A check of an optimizer that does not train says little
(an update that does nothing is equivariant under every group), so the lr is
first probed on the checker's own network and task (the same MLP, init, steps
and minibatches as the check; seed derived from the trial's seed). The lr
*trains* when the full-batch training loss after the checker's ``steps``
falls by at least ``loss_factor`` (2):

    trains(lr)  ⇔  L_T(lr) is finite and L_T(lr) ≤ L_0 / loss_factor,

where L_0 is the loss of the initial network (1.395 for the default network,
above ln 3 = 1.099). Measured at the defaults: SGD(0.1) 1.395 → 0.157,
Adam(1e-3) → 0.48 (87 % training accuracy), torch's SGD default lr 1e-3 →
1.22 (32 %, not training), RAdam(1e-3) → 1.05 (46 %). The default lr is tried
first, then the fallback ladder ``lr_ladder`` (1e-1, 1e-2, 1e-3, 1e-4;
a value equal to the default is skipped); the first lr that trains is used.
If none trains but some stay finite, the one with the lowest final loss is
checked and the trial says ``trains = False``. If the check itself diverges
(another seed than the probe's), the ladder goes on from the next lr. An
optimizer without an ``lr`` parameter (AGD) is checked as it is. Every lr
tried is recorded with its losses and why it was or was not taken.

**What cannot run.** An optimizer that cannot run on the checker's task
(it needs a closure, sparse gradients, 2-D parameters only, the model instead
of its parameters, extra constructor arguments, a missing package, or it
crashes) is stored as an ``ok`` trial with ``runnable = False`` and a one-line
``reason`` (the kind, the exception's first line and the innermost
third-party frame), so the report lists it. Our own optimizers are not given
that excuse: an exception there is a bug, stored as a ``failed`` trial with
its traceback.
"""

from __future__ import annotations

import inspect
import math
import re
import traceback
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from studies.spec import Outcome, Study, TrialSpec, derive_seed

SOURCES = ("torch.optim", "pytorch-optimizer", "symbench", "import path")
#: the groups of the atlas (the checker's defaults)
GROUPS = ["orthogonal", "permutation", "sign_flip", "signed_permutation"]
LR_LADDER = [1e-1, 1e-2, 1e-3, 1e-4]
LOSS_FACTOR = 2.0


# --------------------------------------------------------------------------- which optimizers


def torch_optim_specs() -> list[str]:
    """``torch.optim:Class`` for every Optimizer subclass exported by torch.optim."""
    import torch.optim

    exported = getattr(torch.optim, "__all__", None) or dir(torch.optim)
    names = [name for name in exported
             if inspect.isclass(obj := getattr(torch.optim, name, None))
             and issubclass(obj, torch.optim.Optimizer) and obj is not torch.optim.Optimizer]
    return [f"torch.optim:{name}" for name in sorted(names, key=str.lower)]


def pto_specs() -> list[str]:
    """``pto:NAME`` for every optimizer pytorch-optimizer registers (none if it is not installed)."""
    try:
        import pytorch_optimizer
    except ImportError:
        return []
    return [f"pto:{name}" for name in sorted(pytorch_optimizer.get_supported_optimizers())]


def own_specs() -> list[str]:
    """Our registry's names and the per-layer rules of the ``equivariance`` study."""
    import optimizers
    from studies.equivariance import HYBRIDS

    return [*optimizers.names(), *HYBRIDS]


def default_specs() -> list[str]:
    return [*torch_optim_specs(), *pto_specs(), *own_specs()]


def source_of(spec: str) -> str:
    """Where an optimizer spec comes from (one of :data:`SOURCES`)."""
    if spec.startswith("torch.optim:"):
        return "torch.optim"
    if spec.startswith("pto:"):
        return "pytorch-optimizer"
    if ":" in spec and not spec.lstrip().startswith("layers"):
        return "import path"
    return "symbench"


# --------------------------------------------------------------------------- learning rates


def _rules(spec: str):
    from optimizers.spec import PerLayerSpec, parse_spec

    parsed = parse_spec(spec)
    return (list(parsed.rules), True) if isinstance(parsed, PerLayerSpec) else ([parsed], False)


def _format_rule(rule) -> str:
    if not rule.kwargs:
        return rule.name
    return f"{rule.name}(" + ", ".join(f"{k}={v!r}" for k, v in rule.kwargs.items()) + ")"


def with_lr(spec: str, lr: float | None) -> str:
    """``spec`` with every rule's ``lr`` set to ``lr`` (``None``: unchanged)."""
    if lr is None:
        return spec
    rules, layered = _rules(spec)
    text = [_format_rule(type(rule)(rule.name, {**rule.kwargs, "lr": float(lr)})) for rule in rules]
    return "layers: [" + ", ".join(text) + "]" if layered else text[0]


def default_lrs(spec: str) -> list[float | None] | None:
    """The lr each rule of ``spec`` uses by default (None where the class has no
    default), or None when some rule's optimizer takes no ``lr`` at all."""
    import optimizers

    resolved = optimizers.resolve(spec)
    lrs = []
    for rule in getattr(resolved, "rules", (resolved,)):
        parameters = inspect.signature(rule.cls.__init__).parameters
        if "lr" not in parameters:
            return None
        default = parameters["lr"].default
        lr = rule.kwargs.get("lr", None if default is inspect.Parameter.empty else default)
        lrs.append(float(lr) if isinstance(lr, (int, float)) and not isinstance(lr, bool) else None)
    return lrs


def describe_lrs(lrs: Sequence[float | None] | None) -> str:
    if lrs is None:
        return "no lr parameter"
    return " / ".join("none" if lr is None else f"{lr:g}" for lr in lrs)


def ladder(default: Sequence[float | None] | None, fallbacks: Sequence[float]) -> list[float | None]:
    """The lrs to try in order: the default (None), then the fallbacks that differ from it."""
    if default is None:
        return [None]
    same = [lr for lr in fallbacks if len(default) == 1 and default[0] is not None
            and math.isclose(lr, default[0], rel_tol=1e-9)]
    return [None, *[lr for lr in fallbacks if lr not in same]]


@dataclass
class Probe:
    """One training run of the checker's network at one lr."""

    lr: float | None
    initial_loss: float
    final_loss: float          # inf when the run diverged
    train_accuracy: float
    trains: bool
    why: str

    def to_dict(self) -> dict[str, Any]:
        return {"lr": self.lr, "initial_loss": self.initial_loss,
                "final_loss": self.final_loss if math.isfinite(self.final_loss) else None,
                "train_accuracy": self.train_accuracy, "trains": self.trains, "why": self.why}


def probe(spec: str, lr: float | None, network: Mapping[str, Any], seed: int, loss_factor: float) -> Probe:
    """Train the checker's network once at ``lr`` and say whether it trains (module docstring)."""
    import torch

    from invariance.algorithms import TrainingDiverged, as_algorithm, default_task

    task = default_task()
    X, y = torch.as_tensor(task.X_train), torch.as_tensor(task.y_train)
    spec = with_lr(spec, lr)

    def loss_and_accuracy(fitted) -> tuple[float, float]:
        with torch.no_grad():
            scores = fitted.model(X.to(next(fitted.model.parameters()).dtype))
            return (float(torch.nn.functional.cross_entropy(scores, y)),
                    float((scores.argmax(1) == y).double().mean()))

    initial, _ = loss_and_accuracy(as_algorithm(spec, **{**network, "steps": 0}).fit(
        task.X_train, task.y_train, seed=seed, n_classes=task.n_classes))
    try:
        fitted = as_algorithm(spec, **network).fit(task.X_train, task.y_train, seed=seed, n_classes=task.n_classes)
    except TrainingDiverged as exc:
        return Probe(lr, initial, math.inf, math.nan, False, f"diverges ({exc})")
    final, accuracy = loss_and_accuracy(fitted)
    if not math.isfinite(final):
        return Probe(lr, initial, math.inf, accuracy, False, "the final loss is not finite")
    trains = final <= initial / loss_factor
    relation = "≤" if trains else ">"
    why = (f"loss {initial:.3g} → {final:.3g} ({relation} {initial:.3g}/{loss_factor:g}), "
           f"training accuracy {100 * accuracy:.0f} %")
    return Probe(lr, initial, final, accuracy, trains, why)


# --------------------------------------------------------------------------- what cannot run


class NotRunnable(Exception):
    """A third-party optimizer cannot run on the checker's task; ``reason`` says why in one line."""

    def __init__(self, reason: str, kind: str, detail: str = "", where: str = "", **extra: Any):
        super().__init__(reason)
        self.reason, self.kind, self.detail, self.where, self.extra = reason, kind, detail, where, extra

    def metrics(self) -> dict[str, Any]:
        return {"runnable": False, "reason": self.reason, "reason_kind": self.kind, "detail": self.detail,
                "where": self.where, **self.extra}


#: (kind, pattern in the exception's type and message), first match wins
_KINDS = (
    ("needs a closure", re.compile(r"closure", re.I)),
    ("needs sparse gradients", re.compile(r"sparse|dense gradients", re.I)),
    ("only 2-D parameters (the checker's network has bias vectors)", re.compile(r"\b2-?D\b", re.I)),
    ("needs a package that is not installed", re.compile(r"ImportError|ModuleNotFoundError|need to install", re.I)),
    ("requires extra constructor arguments", re.compile(r"missing \d+ required (positional|keyword)")),
    ("needs the model (an nn.Module), not its parameters",
     re.compile(r"has no attribute '(named_)?parameters'|has no attribute 'named_modules'")),
    ("needs Hessian-vector products (backward with create_graph=True)",
     re.compile(r"does not require grad and does not have a grad_fn")),
    ("needs parameter groups flagged use_muon", re.compile(r"use_muon")),
    ("fails in float64 (the checker trains in float64)", re.compile(r"dtype double|Double|float64")),
)
_REPO = Path(__file__).resolve().parent.parent


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


def _short_path(filename: str) -> str:
    """A path relative to site-packages or to this repository, where it lies in one."""
    path = Path(filename).resolve()
    if "site-packages" in path.parts:
        return "/".join(path.parts[path.parts.index("site-packages") + 1:])
    return str(path.relative_to(_REPO)) if _REPO in path.parents else filename


def _third_party(filename: str) -> bool:
    short = _short_path(filename)
    return short != filename and not short.startswith(("torch/", "learners/", "optimizers/", "invariance/",
                                                        "studies/"))


def _where(exc: BaseException) -> str:
    """Where it broke, as ``path:line: source``, in the exception that started it
    (the end of the ``__cause__`` chain): the innermost frame in a third party's
    code (neither torch nor ours), else the innermost explicit ``raise``, else the
    innermost frame outside torch (the call that torch rejected)."""
    while exc.__cause__ is not None:
        exc = exc.__cause__
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    inner = list(reversed(frames))
    chosen = next((f for f in inner if _third_party(f.filename)), None) \
        or next((f for f in inner if (f.line or "").lstrip().startswith("raise")), None) \
        or next((f for f in inner if not _short_path(f.filename).startswith("torch/")), frames[-1])
    return f"{_short_path(chosen.filename)}:{chosen.lineno}: {(chosen.line or '').strip()}"


def not_runnable(exc: BaseException, **extra: Any) -> NotRunnable:
    """Classify why a third-party optimizer crashed (one line)."""
    detail, where = _first_line(exc), _where(exc)
    # the message first; the source line where it broke tells more than some messages do
    kind = next((k for k, pattern in _KINDS if pattern.search(detail)), None) \
        or next((k for k, pattern in _KINDS if pattern.search(where)), "crashes")
    if kind == "requires extra constructor arguments":
        missing = re.findall(r"'(\w+)'", detail.split("missing", 1)[1])
        kind = f"requires constructor argument(s) {', '.join(missing)}" if missing else kind
    return NotRunnable(f"{kind}: {detail}" + (f" (at {where})" if where else ""), kind, detail, where, **extra)


# --------------------------------------------------------------------------- the study


class AtlasStudy(Study):
    name = "atlas"
    description = "the symmetries of every optimizer in torch.optim, pytorch-optimizer and ours"
    defaults = {
        "seed": 0,
        "optimizers": default_specs(),
        "groups": list(GROUPS),
        # the checker's settings: symbench check's defaults, but K = 16 runs per side of the
        # distributional test instead of 32 (most optimizers cannot batch, so the K runs train one
        # by one and K = 32 would double the study's time)
        "steps": 200,
        "width": 32,
        "depth": 2,
        "init": "gaussian",
        "seeds": 16,
        "elements": 3,
        "permutations": 999,
        # the learning-rate probe (module docstring)
        "lr_ladder": list(LR_LADDER),
        "loss_factor": LOSS_FACTOR,
    }
    quick = {
        "optimizers": ["sgd", "adam", "torch.optim:SGD", "torch.optim:LBFGS",
                       *(["pto:adabelief"] if pto_specs() else [])],
        "steps": 60,
        "seeds": 8,
        "elements": 1,
        "permutations": 199,
    }
    design_keys = frozenset({"optimizers"})
    max_batch = 1

    # ------------------------------------------------------------------ config
    def validate(self, config: Mapping[str, Any]) -> None:
        import optimizers
        from studies.equivariance import check_settings

        check_settings(config, "optimizers", {"elements": 1, "seeds": 0, "steps": 1, "width": 1, "depth": 1,
                                              "permutations": 1})
        if not config["loss_factor"] > 1:
            raise ValueError(f"loss_factor must be greater than 1, got {config['loss_factor']}")
        if not all(lr > 0 for lr in config["lr_ladder"]):
            raise ValueError(f"lr_ladder must hold positive learning rates, got {config['lr_ladder']}")
        for spec in config["optimizers"]:
            optimizers.resolve(spec)  # a bad spec fails here, before anything runs

    # ------------------------------------------------------------------ the grid
    def trials(self, config: Mapping[str, Any]) -> list[dict[str, Any]]:
        return [{"optimizer": spec, "source": source_of(spec)} for spec in config["optimizers"]]

    # ------------------------------------------------------------------ running
    def run_batch(self, config: Mapping[str, Any], batch: Sequence[TrialSpec]) -> list[Outcome]:
        return [self.run_trial(config, trial) for trial in batch]

    def run_trial(self, config: Mapping[str, Any], trial: TrialSpec) -> Outcome:
        from invariance.checker import one_thread

        spec = trial.coords["optimizer"]
        try:
            with one_thread(), warnings.catch_warnings():
                # third-party optimizers warn about deprecations and member-by-member batching
                warnings.simplefilter("ignore")
                return Outcome("ok", self.measure(config, spec, trial.seed))
        except NotRunnable as exc:
            return Outcome("ok", exc.metrics())
        except Exception as exc:  # noqa: BLE001 - only our own optimizers get here: a bug, kept with its traceback
            return Outcome("failed", {"traceback": traceback.format_exc()}, error=_first_line(exc))

    def measure(self, config: Mapping[str, Any], spec: str, trial_seed: int) -> dict[str, Any]:
        """Choose the lr (module docstring), then run the checker; raise NotRunnable if it cannot run."""
        from invariance.algorithms import TrainingDiverged

        ours = source_of(spec) == "symbench"
        network = {k: config[k] for k in ("steps", "width", "depth", "init")}
        probe_seed = derive_seed(trial_seed, "lr probe") % 2**31
        defaults = default_lrs(spec)
        tried: list[dict[str, Any]] = []

        def guarded(function, *args, **kwargs):
            """Run one probe or check; a third-party crash becomes NotRunnable, ours propagates."""
            try:
                return function(*args, **kwargs)
            except TrainingDiverged:
                raise
            except Exception as exc:
                if ours:
                    raise
                raise not_runnable(exc, lr_tried=tried, default_lr=describe_lrs(defaults)) from exc

        def check(lr):
            """The checker's report at ``lr``, or None (recorded) if a run of the check diverges."""
            try:
                return guarded(self.check, config, with_lr(spec, lr), network)
            except TrainingDiverged as exc:
                tried.append({"lr": lr, "trains": False, "stage": "check", "why": f"the check diverges ({exc})"})
                return None

        untrained: list[Probe] = []  # finite runs that do not train: the last resort, best first
        for lr in ladder(defaults, config["lr_ladder"]):
            result = guarded(probe, spec, lr, network, probe_seed, config["loss_factor"])
            tried.append({**result.to_dict(), "stage": "probe"})
            if result.trains:
                if (report := check(lr)) is not None:
                    source = "ladder" if lr is not None else "no lr parameter" if defaults is None else "default"
                    return self._metrics(spec, lr, True, source, defaults, tried, report)
            elif math.isfinite(result.final_loss):
                untrained.append(result)
        for result in sorted(untrained, key=lambda p: p.final_loss):
            if (report := check(result.lr)) is not None:
                return self._metrics(spec, result.lr, False, "best of the ladder (none trains)", defaults, tried,
                                     report)
        lrs = ", ".join(f"default {describe_lrs(defaults)}" if t["lr"] is None else f"{t['lr']:g}"
                        for t in tried if t["stage"] == "probe")
        raise NotRunnable(f"diverges at every learning rate of the ladder ({lrs})",
                          "diverges at every learning rate", lr_tried=tried, default_lr=describe_lrs(defaults))

    @staticmethod
    def check(config: Mapping[str, Any], spec: str, network: Mapping[str, Any]):
        from invariance.checker import check_equivariance

        return check_equivariance(spec, config["groups"], n_elements=config["elements"], seeds=config["seeds"],
                                  seed=config["seed"], n_permutations=config["permutations"], **network)

    @staticmethod
    def _metrics(spec: str, lr: float | None, trains: bool, lr_source: str, defaults, tried,
                 report) -> dict[str, Any]:
        summary = report.to_dict()
        used = defaults if lr is None else [lr] * len(defaults or [lr])
        why = next((t["why"] for t in reversed(tried) if t["lr"] == lr and t["stage"] == "probe"), "")
        return {
            "runnable": True, "reason": "", "checked_spec": with_lr(spec, lr), "lr": describe_lrs(used),
            "lr_value": used[0] if used and len(set(used)) == 1 else None,
            "default_lr": describe_lrs(defaults), "lr_source": lr_source, "trains": trains, "lr_why": why,
            "lr_tried": tried, "groups": summary["groups"], "settings": summary["settings"],
        }


STUDY = AtlasStudy()
