"""The step size of a spec, and the same spec with its step size scaled.

A learning-rate grid must mean the same thing for every optimizer: here it is a grid
of factors applied to the spec's own step size — ``lr`` for most optimizers, the gain
for AGD and its variants (which have no learning rate), every entry of ``lrs`` for
``adam-layerwise``, and each rule's step size for a per-layer spec (so
``layers: [adam, sgd]`` × 10 is ``layers: [adam(lr=0.01), sgd(lr=1.0)]``). A step size
the spec does not set is the optimizer's default (its registry entry, else its
constructor's default).
"""

from __future__ import annotations

import inspect

from optimizers.spec import OptimizerSpec, PerLayerSpec, parse_spec

#: hyperparameters that are a step size, in the order they are looked for
STEP_SIZE_KEYS = ("gain", "lr", "lrs")


def _resolved(rule: OptimizerSpec):
    from optimizers.registry import _resolve_one  # imported late: the registry is this module's user

    return _resolve_one(rule)


def _step_key_and_value(rule: OptimizerSpec) -> tuple[str, object]:
    resolved = _resolved(rule)
    parameters = inspect.signature(resolved.cls.__init__).parameters
    for key in STEP_SIZE_KEYS:
        if key in resolved.kwargs:
            return key, resolved.kwargs[key]
        if key in parameters and parameters[key].default is not inspect.Parameter.empty:
            return key, parameters[key].default
    raise ValueError(f"optimizer {rule.name!r} has no step size (none of {', '.join(STEP_SIZE_KEYS)}) to put on a grid")


def _round(value: float) -> float:
    """12 significant digits: 3e-4 × 10 is written 0.003, not 0.0029999999999999996."""
    return float(f"{value:.12g}")


def _format(rule: OptimizerSpec, kwargs: dict) -> str:
    if not kwargs:
        return rule.name
    return f"{rule.name}(" + ", ".join(f"{key}={value!r}" for key, value in kwargs.items()) + ")"


def _scaled_rule(rule: OptimizerSpec, factor: float) -> str:
    key, value = _step_key_and_value(rule)
    if value is None:
        raise ValueError(f"optimizer {rule.name!r} has no default {key}; give one in the spec")
    scaled = [_round(float(v) * factor) for v in value] if key == "lrs" else _round(float(value) * factor)
    return _format(rule, {**rule.kwargs, key: scaled})


def scale_step_size(spec, factor: float) -> str:
    """The spec (as a string) with every step size multiplied by ``factor``."""
    parsed = parse_spec(spec)
    if isinstance(parsed, PerLayerSpec):
        return "layers: [" + ", ".join(_scaled_rule(rule, factor) for rule in parsed.rules) + "]"
    return _scaled_rule(parsed, factor)


def step_size(spec) -> float:
    """The step size of the spec's first rule (its first ``lrs`` entry for adam-layerwise)."""
    parsed = parse_spec(spec)
    rule = parsed.rules[0] if isinstance(parsed, PerLayerSpec) else parsed
    key, value = _step_key_and_value(rule)
    if value is None:
        raise ValueError(f"optimizer {rule.name!r} has no default {key}; give one in the spec")
    return float(value[0]) if key == "lrs" else float(value)
