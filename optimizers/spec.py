"""Parse optimizer spec strings without evaluating code.

Grammar (whitespace is free)::

    spec      := name [ "(" keyword "=" literal { "," keyword "=" literal } ")" ]
    name      := registry name ("adam", "agd-l2")
               | "pto:" NAME                      (pytorch_optimizer by name)
               | dotted.module ":" ClassName      (import path)
    per-layer := "layers:" "[" spec { "," spec } "]"   or   {"layers": [spec, ...]}

Hyperparameter values are Python literals read by ``ast.literal_eval`` (numbers,
strings, tuples, lists, dicts, booleans, None); anything else (a name, a call,
an attribute) is rejected, so a spec can never run code.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

_NAME = r"[A-Za-z_][\w.\-]*(?::[A-Za-z_][\w.\-]*)?"
_SPEC = re.compile(rf"\s*(?P<name>{_NAME})\s*(?P<args>\(.*\))?\s*", re.DOTALL)
_LAYERS = re.compile(r"\s*layers\s*:\s*\[(?P<items>.*)\]\s*", re.DOTALL)


@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer: its name and the hyperparameters the spec sets."""

    name: str
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class PerLayerSpec:
    """One spec per layer, in layer order; the last one covers the remaining layers."""

    rules: tuple[OptimizerSpec, ...]


def _kwargs(spec: str, args: str) -> dict:
    try:
        call = ast.parse("f" + args, mode="eval").body
    except SyntaxError as err:
        raise ValueError(f"bad optimizer spec {spec!r}: {err.msg}") from None
    if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.func.id != "f":
        raise ValueError(f"bad optimizer spec {spec!r}: expected name(key=value, ...)")
    if call.args:
        raise ValueError(f"bad optimizer spec {spec!r}: hyperparameters must be given as key=value")
    kwargs = {}
    for kw in call.keywords:
        if kw.arg is None:
            raise ValueError(f"bad optimizer spec {spec!r}: '**' is not allowed")
        if kw.arg in kwargs:
            raise ValueError(f"bad optimizer spec {spec!r}: hyperparameter {kw.arg!r} repeated")
        try:
            kwargs[kw.arg] = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise ValueError(
                f"bad optimizer spec {spec!r}: the value of {kw.arg!r} is not a Python literal "
                "(numbers, strings, tuples, lists, dicts, True/False/None)"
            ) from None
    return kwargs


def parse_one(spec: str) -> OptimizerSpec:
    """Parse ``name`` or ``name(key=literal, ...)``."""
    if not isinstance(spec, str):
        raise TypeError(f"an optimizer spec must be a str, got {type(spec).__name__}")
    match = _SPEC.fullmatch(spec)
    if match is None:
        raise ValueError(
            f"bad optimizer spec {spec!r}: expected name, name(key=value, ...), pto:NAME or package.module:Class(...)"
        )
    args = match.group("args")
    return OptimizerSpec(match.group("name"), _kwargs(spec, args) if args else {})


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside brackets and quotes."""
    items, depth, quote, start = [], 0, None, 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote and text[i - 1] != "\\":
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    items.append(text[start:])
    return [item.strip() for item in items]


def _rule(item, spec) -> OptimizerSpec:
    if isinstance(item, str) and item[:1] in "'\"":
        try:
            item = ast.literal_eval(item)
        except (ValueError, SyntaxError):
            raise ValueError(f"bad per-layer spec {spec!r}: unterminated string {item!r}") from None
    if not isinstance(item, str):
        raise ValueError(f"bad per-layer spec {spec!r}: each layer rule must be a spec string, got {item!r}")
    if _LAYERS.fullmatch(item):
        raise ValueError(f"bad per-layer spec {spec!r}: per-layer rules cannot be nested")
    return parse_one(item)


def parse_spec(spec) -> OptimizerSpec | PerLayerSpec:
    """Parse a spec string or a ``{"layers": [...]}`` dict (see the module docstring)."""
    if isinstance(spec, dict):
        if set(spec) != {"layers"}:
            raise ValueError(f"a per-layer spec dict takes exactly one key, 'layers'; got keys {sorted(spec)}")
        items = spec["layers"]
        if isinstance(items, str) or not isinstance(items, (list, tuple)):
            raise ValueError(f"'layers' must be a list of spec strings, got {items!r}")
    elif isinstance(spec, str) and (match := _LAYERS.fullmatch(spec)):
        items = [] if not match.group("items").strip() else _split_top_level(match.group("items"))
    elif isinstance(spec, str):
        return parse_one(spec)
    else:
        raise TypeError(f"an optimizer spec must be a str or a {{'layers': [...]}} dict, got {type(spec).__name__}")
    if not items:
        raise ValueError(f"bad per-layer spec {spec!r}: the list of layer rules is empty")
    return PerLayerSpec(tuple(_rule(item, spec) for item in items))
