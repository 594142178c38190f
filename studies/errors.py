"""The one base of the project's expected errors.

An *expected* error is the user's input being wrong or missing: a config key or
value, a study or spec name, an import path, a data file, a results database,
a cluster address. Its message is one line naming what is wrong and what is
accepted; the CLI prints that line and exits 2 (``--debug`` adds the traceback).
Anything else is a bug: the CLI shows its traceback and exits 1.

:class:`SymbenchError` subclasses ``ValueError`` because the packages that
``studies`` uses (``optimizers``, ``learners``, ``invariance``) never import
``studies`` and report bad input as plain ``ValueError``: the CLI treats both
alike, and code that caught ``ValueError`` keeps working.
"""

from __future__ import annotations


class SymbenchError(ValueError):
    """Bad or missing input, reported as one line (exit 2): never a bug."""


class ClusterError(SymbenchError):
    """The Dask scheduler cannot be reached, was lost, or the cluster extra is not installed."""
