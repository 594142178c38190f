"""One importer of ``package.module:Object`` paths (optimizers, estimators, studies).

User code is imported only from an import path the user wrote; any failure
inside the import is the path's fault and becomes a one-line ValueError.
"""

from __future__ import annotations

import importlib
from typing import Any


def is_import_path(text: str) -> bool:
    module, sep, attr = text.partition(":")
    return bool(sep and module and attr) and all(part.isidentifier() for part in module.split(".")) \
        and all(part.isidentifier() for part in attr.split("."))


def import_object(path: str, what: str = "object") -> Any:
    """The object at ``package.module:Name`` (``Name`` may be dotted); ``what`` names it in errors."""
    module_name, sep, attr = path.partition(":")
    if not (sep and module_name and attr):
        raise ValueError(f"{what} {path!r} is not an import path package.module:Name")
    try:
        obj = importlib.import_module(module_name)
    except Exception as err:  # any failure inside the import is the path's fault
        raise ValueError(f"cannot import {path!r} ({err})") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError as err:
            raise ValueError(f"cannot import {path!r} ({err})") from None
    return obj
