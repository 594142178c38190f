"""The optimizer registry: spec -> ``torch.optim.Optimizer``.

A spec is a registry name (``"adam"``), a name with hyperparameters
(``"adam(lr=3e-4, betas=(0.9, 0.99))"``), ``"pto:NAME"`` (an optimizer of the
``pytorch_optimizer`` package), an import path of any Optimizer subclass
(``"torch.optim:SGD(lr=0.1)"``), or a per-layer rule
(``"layers: [sgd(lr=0.1), adam]"`` or ``{"layers": ["sgd(lr=0.1)", "adam"]}``:
the model's layers get the rules in order, the last rule covering the rest).

    opt = create(spec, model_or_params)   # model: its layers in order (optimizers.layers)
    resolve(spec)                         # checks a spec without building anything
    supports_batching(spec)               # honours p.batch_dims (ARCHITECTURE.md)?
"""

from __future__ import annotations

import difflib
import inspect
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.optim import Optimizer

from optimizers.adam_layerwise import AdamLayerwise
from optimizers.agd import AGD
from optimizers.agd_l2 import AGDL2
from optimizers.composite import CompositeOptimizer
from optimizers.lamb import LAMB
from optimizers.lars import LARS
from optimizers.layers import layer_groups, layer_param_groups
from optimizers.lion import Lion
from optimizers.muon import Muon, MuonMatrices
from optimizers.signsgd import SignSGD
from optimizers.per_member import PerMember, PerMemberOptimizer
from optimizers.spec import OptimizerSpec, PerLayerSpec, parse_spec


@dataclass(frozen=True)
class Entry:
    cls: type[Optimizer]
    defaults: dict
    description: str


# Our optimizers take one param group per layer and honour p.batch_dims.
_OURS = (AGD, AGDL2, AdamLayerwise, Muon, MuonMatrices, Lion, SignSGD, LARS, LAMB)

_ENTRIES: dict[str, Entry] = {
    "sgd": Entry(torch.optim.SGD, {"lr": 0.1}, "plain SGD (torch.optim.SGD), lr 0.1"),
    "momentum": Entry(torch.optim.SGD, {"lr": 0.01, "momentum": 0.9}, "SGD with heavy-ball momentum 0.9, lr 0.01"),
    "nesterov": Entry(
        torch.optim.SGD, {"lr": 0.01, "momentum": 0.9, "nesterov": True}, "SGD with Nesterov momentum 0.9, lr 0.01"
    ),
    "adam": Entry(torch.optim.Adam, {"lr": 1e-3}, "Adam (torch.optim.Adam), lr 1e-3"),
    "adamw": Entry(
        torch.optim.AdamW, {"lr": 1e-3, "weight_decay": 0.01}, "AdamW, lr 1e-3, decoupled weight decay 0.01"
    ),
    "rmsprop": Entry(torch.optim.RMSprop, {"lr": 1e-3}, "RMSprop (torch.optim.RMSprop), lr 1e-3"),
    "adagrad": Entry(torch.optim.Adagrad, {"lr": 1e-2}, "Adagrad (torch.optim.Adagrad), lr 1e-2"),
    "adam-layerwise": Entry(
        AdamLayerwise, {}, "Adam with per-layer lrs/betas lists (last entry covers the remaining layers)"
    ),
    "agd": Entry(AGD, {}, "Automatic Gradient Descent (Bernstein et al. 2023): no learning rate, gain 1"),
    "agd-momentum": Entry(AGD, {"momentum": 0.9}, "AGD stepping along a momentum average (0.9) of the gradients"),
    "agd-layerwise": Entry(AGD, {"layerwise": True}, "AGD with layer k's step divided by k (1 = input layer)"),
    "agd-l2": Entry(AGDL2, {}, "AGD for an L2-regularised loss, step size from the regularised majorant"),
    "muon": Entry(Muon, {}, "Muon: momentum + Newton-Schulz orthogonalised weight updates, AdamW for the rest"),
    "lion": Entry(Lion, {"lr": 3e-4}, "Lion (Chen et al. 2023): sign of interpolated momentum, lr 3e-4"),
    "signsgd": Entry(SignSGD, {}, "signSGD (Bernstein et al. 2018), Signum with momentum > 0, lr 1e-3"),
    "lars": Entry(LARS, {}, "LARS (You et al. 2017): momentum SGD with per-layer trust ratio"),
    "lamb": Entry(LAMB, {}, "LAMB (You et al. 2019): Adam direction with per-layer trust ratio"),
}

# Optimizers whose update is element-wise (so batched parameters need nothing special).
_ELEMENTWISE = (
    torch.optim.SGD,
    torch.optim.Adam,
    torch.optim.AdamW,
    torch.optim.RMSprop,
    torch.optim.Adagrad,
    torch.optim.Adamax,
    torch.optim.NAdam,
    torch.optim.RAdam,
    torch.optim.Adadelta,
    torch.optim.Rprop,
    torch.optim.ASGD,
)
# pytorch_optimizer names whose update is element-wise (checked in tests/test_optimizers_batched.py),
# as long as only these hyperparameters are set.
_PTO_ELEMENTWISE = frozenset({"lion", "signsgd", "adabelief", "yogi"})
_PTO_ELEMENTWISE_KWARGS = frozenset({"lr", "betas", "eps", "momentum", "weight_decay", "weight_decouple", "maximize"})


@dataclass(frozen=True)
class ResolvedSpec:
    """A spec resolved to an Optimizer class and the full keyword arguments it will get."""

    name: str
    cls: type[Optimizer]
    kwargs: dict = field(default_factory=dict)
    batched: bool = False  # honours p.batch_dims
    layered: bool = False  # takes one param group per layer

    def build(self, model_or_params) -> Optimizer:
        if self.layered:
            params = layer_param_groups(model_or_params)
        elif isinstance(model_or_params, nn.Module):
            params = [p for layer in layer_groups(model_or_params) for p in layer]
        else:
            params = list(model_or_params)
        try:
            return self.cls(params, **self.kwargs)
        except (TypeError, ValueError) as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            kind = TypeError if isinstance(err, TypeError) else ValueError
            raise kind(f"cannot build {self.name} with {self.kwargs}: {first_line}") from err


@dataclass(frozen=True)
class PerLayerResolved:
    """Per-layer rules: rule i optimises layer i, the last rule the remaining layers.

    Each rule builds its own child optimizer over its layers only, so a
    layer-aware child (AGD's depth L, Muon's first/last layer) sees just those.
    """

    rules: tuple[ResolvedSpec, ...]

    @property
    def name(self) -> str:
        return "layers: [" + ", ".join(rule.name for rule in self.rules) + "]"

    @property
    def batched(self) -> bool:
        return all(rule.batched for rule in self.rules)

    def build(self, model_or_params) -> CompositeOptimizer:
        if not isinstance(model_or_params, nn.Module):
            model_or_params = list(model_or_params)
            if any(isinstance(item, dict) for item in model_or_params):
                raise TypeError("per-layer rules need an nn.Module or a flat list of parameters, not param groups")
        layers = layer_groups(model_or_params)
        if len(self.rules) > len(layers):
            raise ValueError(f"{len(self.rules)} per-layer rules for a model with {len(layers)} layers")
        assigned = [[layer] for layer in layers[: len(self.rules) - 1]] + [layers[len(self.rules) - 1 :]]
        return CompositeOptimizer(
            [rule.build([{"params": layer} for layer in group]) for rule, group in zip(self.rules, assigned)]
        )


def _accepted(cls: type[Optimizer], strict: bool = False) -> list[str] | None:
    """Keyword arguments of ``cls`` besides ``params``; None when it takes **kwargs (unless ``strict``)."""
    parameters = list(inspect.signature(cls.__init__).parameters.values())[1:]
    if not strict and any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters):
        return None
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    return [p.name for p in parameters if p.name != "params" and p.kind not in skip]


def _check_kwargs(name: str, cls: type[Optimizer], kwargs: dict, strict: bool = False) -> None:
    accepted = _accepted(cls, strict)
    unknown = [key for key in kwargs if accepted is not None and key not in accepted]
    if unknown:
        raise ValueError(f"{name} does not accept {', '.join(map(repr, unknown))}; accepted: {', '.join(accepted)}")


def _unknown_name(name: str) -> ValueError:
    close = difflib.get_close_matches(name, list(_ENTRIES), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return ValueError(
        f"unknown optimizer {name!r}{hint}; accepted: {', '.join(_ENTRIES)}, "
        "pto:NAME, package.module:Class or layers: [spec, ...]"
    )


def _import_class(path: str) -> type[Optimizer]:
    from symbench.imports import import_object

    try:
        cls = import_object(path, "optimizer")
    except ValueError as err:
        if "has no attribute" not in str(err):
            raise
        cls = None
    if not (isinstance(cls, type) and issubclass(cls, Optimizer)):
        found = "nothing" if cls is None else type(cls).__name__ if not isinstance(cls, type) else cls.__name__
        raise ValueError(f"{path!r} is not a torch.optim.Optimizer subclass (found {found})")
    return cls


def _pto_class(name: str) -> type[Optimizer]:
    try:
        import pytorch_optimizer
    except ImportError:
        raise ValueError(
            f"optimizer 'pto:{name}' needs the pytorch_optimizer package: pip install pytorch-optimizer"
        ) from None
    supported = pytorch_optimizer.get_supported_optimizers()
    if name.lower() not in supported:
        close = difflib.get_close_matches(name.lower(), supported, n=3)
        hint = f"; close: {', '.join(close)}" if close else ""
        raise ValueError(f"pytorch_optimizer has no optimizer {name!r}{hint} (see get_supported_optimizers())")
    return pytorch_optimizer.load_optimizer(name.lower())


def _resolve_one(spec: OptimizerSpec) -> ResolvedSpec:
    name = spec.name
    if name.startswith("pto:"):
        cls = _pto_class(name[len("pto:") :])
        # pytorch_optimizer classes swallow unknown keywords in **kwargs: check against the named ones
        _check_kwargs(name, cls, spec.kwargs, strict=True)
        elementwise = name[len("pto:") :].lower() in _PTO_ELEMENTWISE and set(spec.kwargs) <= _PTO_ELEMENTWISE_KWARGS
        batched = elementwise or cls in _ELEMENTWISE
        return ResolvedSpec(name, cls, dict(spec.kwargs), batched=batched)
    if ":" in name:
        cls = _import_class(name)
        _check_kwargs(name, cls, spec.kwargs)
        ours = cls in _OURS
        return ResolvedSpec(name, cls, dict(spec.kwargs), batched=ours or cls in _ELEMENTWISE, layered=ours)
    entry = _ENTRIES.get(name)
    if entry is None:
        raise _unknown_name(name)
    _check_kwargs(name, entry.cls, spec.kwargs)
    ours = entry.cls in _OURS
    return ResolvedSpec(name, entry.cls, {**entry.defaults, **spec.kwargs}, batched=True, layered=ours)


def resolve(spec) -> ResolvedSpec | PerLayerResolved:
    """Check a spec and resolve it to the class(es) and keyword arguments it builds."""
    parsed = parse_spec(spec)
    if isinstance(parsed, PerLayerSpec):
        return PerLayerResolved(tuple(_resolve_one(rule) for rule in parsed.rules))
    return _resolve_one(parsed)


def create(spec, model_or_params) -> Optimizer:
    """Build the optimizer a spec names for a model (its layers in order) or a list of parameters.

    ``spec`` may be :class:`optimizers.PerMember` (one spec per member of a batched network)."""
    if isinstance(spec, PerMember):
        for member_spec in spec.specs:
            resolve(member_spec)  # a bad spec fails before anything is built
        return PerMemberOptimizer(spec, model_or_params, build=create)
    return resolve(spec).build(model_or_params)


def supports_batching(spec) -> bool:
    """Whether the optimizer treats the leading ``p.batch_dims`` dimensions as independent members."""
    if isinstance(spec, PerMember):
        return all(resolve(member_spec).batched for member_spec in spec.specs)
    return resolve(spec).batched


def describe() -> dict[str, str]:
    """One line per registry name, for ``symbench list optimizers``."""
    return {name: entry.description for name, entry in _ENTRIES.items()}


def names() -> list[str]:
    """The registry names."""
    return list(_ENTRIES)
