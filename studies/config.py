"""Study configuration: defaults, ``--quick``, a TOML file and ``--set key=value``.

Every key must exist in the study's defaults and keep its type (an int is
accepted where a float is expected). Errors are one line naming the key and
what is accepted, raised as ``ConfigError``; the CLI turns them into exit 2
before anything is written.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Mapping

from studies.errors import SymbenchError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


class ConfigError(SymbenchError):
    """A bad config: unknown key, wrong type, out-of-range value, unreadable TOML file."""


def _type_name(value: Any) -> str:
    return {bool: "bool", int: "int", float: "float", str: "str", list: "list"}.get(type(value), type(value).__name__)


def _coerce(key: str, value: Any, default: Any) -> Any:
    """Check ``value`` against the type of ``default``; return the value to use."""
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, float):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    elif isinstance(default, list):
        if isinstance(value, list):
            if default:
                return [_coerce(f"{key}[{i}]", v, default[0]) for i, v in enumerate(value)]
            return value
    elif isinstance(default, dict):
        if isinstance(value, dict):
            return value
    else:
        return value
    raise ConfigError(f"bad value for {key!r}: {value!r} is not a {_type_name(default)} (default: {default!r})")


def merge(defaults: Mapping[str, Any], overrides: Mapping[str, Any], source: str = "config") -> dict[str, Any]:
    config = dict(defaults)
    for key, value in overrides.items():
        if key not in defaults:
            raise ConfigError(
                f"unknown key {key!r} in {source}; accepted: {', '.join(sorted(defaults))}"
            )
        config[key] = _coerce(key, value, defaults[key])
    return config


def parse_assignment(text: str, defaults: Mapping[str, Any]) -> tuple[str, Any]:
    """Parse ``key=value``; the value is a TOML value (``3``, ``0.1``, ``[10, 100]``,
    ``true``, ``"x"``), and a bare word is taken as a string where a string is expected."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"bad --set {text!r}: expected key=value")
    if key not in defaults:
        raise ConfigError(f"unknown key {key!r} in --set; accepted: {', '.join(sorted(defaults))}")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if isinstance(defaults[key], str):
            value = raw
        elif isinstance(defaults[key], list) and defaults[key] and isinstance(defaults[key][0], str):
            value = [w.strip() for w in raw.strip("[]").split(",") if w.strip()]
        else:
            raise ConfigError(
                f"bad value for {key!r}: {raw!r} is not a {_type_name(defaults[key])} (default: {defaults[key]!r})"
            ) from None
    return key, value


def load_toml(path: str | Path, study: str) -> dict[str, Any]:
    """Read a TOML config. Keys may sit at the top level or under a ``[STUDY]`` table."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    except OSError as exc:  # a folder, no permission, ...
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror or exc})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    if study in data and isinstance(data[study], dict):
        nested = data.pop(study)
        data.update(nested)
    return data


class Config(dict):
    """A resolved config: a plain dict of every key, plus ``named``, the keys the
    user set (config file, overrides, ``--set``) rather than left at the study's
    defaults or ``--quick``. A study may treat a named value more strictly (a
    dataset the user names must exist; a default one may have a substitute)."""

    named: frozenset[str]

    def __init__(self, values: Mapping[str, Any] = (), named=()):
        super().__init__(values)
        self.named = frozenset(named)


def named_keys(config: Mapping[str, Any], defaults: Mapping[str, Any]) -> frozenset[str]:
    """The keys the user named: ``config.named`` for a resolved :class:`Config`; for a
    plain mapping (built in code), the keys whose value differs from the default."""
    named = getattr(config, "named", None)
    if named is not None:
        return frozenset(named)
    return frozenset(k for k, v in config.items() if k not in defaults or defaults[k] != v)


def resolve(study, *, quick: bool = False, config_file: str | Path | None = None,
            assignments: list[str] | tuple[str, ...] = (), overrides: Mapping[str, Any] | None = None) -> Config:
    """The full config of a run: defaults < quick < file < overrides < --set."""
    config = dict(study.defaults)
    named: set[str] = set()
    if quick:
        config = merge(config, study.quick, "the study's quick settings")
    if config_file is not None:
        values = load_toml(config_file, study.name)
        config = merge(config, values, str(config_file))
        named |= set(values)
    if overrides:
        config = merge(config, overrides, "overrides")
        named |= set(overrides)
    for text in assignments:
        key, value = parse_assignment(text, study.defaults)
        config = merge(config, {key: value}, "--set")
        named.add(key)
    config = Config(config, named)
    try:
        study.validate(config)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(str(exc).splitlines()[0] if str(exc) else type(exc).__name__) from None
    return config
