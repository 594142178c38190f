"""A pytest helper: one test case per (algorithm, group), with readable ids and
strict expected failures (modelled on scikit-learn's ``parametrize_with_checks``).

    from invariance.testing import parametrize_equivariance

    @parametrize_equivariance(["sgd", "adam"], groups=["orthogonal", "permutation"],
                              expected_failures={("adam", "orthogonal"): "element-wise update"})
    def test_equivariance(algorithm, group, check):
        check()

``expected_failures`` maps a group, or an (algorithm id, group) pair, to the
reason (a pair overrides its group; a reason of None clears it); such a case
is an ``xfail(strict=True)``: if it unexpectedly passes, the test fails, so a
fixed or a newly broken symmetry is never silent. Other keyword arguments go
to :func:`invariance.checker.check_equivariance` (``steps``, ``n_elements``,
``seeds``, ...), e.g. to keep a suite fast.
"""

from __future__ import annotations

from functools import partial
from typing import Any, Mapping, Sequence

from invariance.checker import DEFAULT_GROUPS, assert_equivariant


def algorithm_id(algorithm: Any) -> str:
    """A readable test id: the spec text, a class's name, a per-layer rule as text,
    or an estimator's class name."""
    if isinstance(algorithm, str):
        return algorithm
    if isinstance(algorithm, type):
        return algorithm.__qualname__
    if isinstance(algorithm, dict) and "layers" in algorithm:
        return "layers: [" + ", ".join(map(str, algorithm["layers"])) + "]"
    return type(algorithm).__name__


def equivariance_cases(algorithms: Sequence[Any], groups: Sequence[str] = DEFAULT_GROUPS,
                       expected_failures: Mapping[Any, str] | None = None, **options):
    """``pytest.param(algorithm, group, check, id=..., marks=...)`` for each pair."""
    import pytest

    expected_failures = dict(expected_failures or {})
    cases = []
    for algorithm in algorithms:
        name = algorithm_id(algorithm)
        for group in groups:
            reason = expected_failures.get((name, group), expected_failures.get(group))
            marks = [pytest.mark.xfail(reason=reason, strict=True, raises=AssertionError)] if reason else []
            check = partial(assert_equivariant, algorithm, group, **options)
            cases.append(pytest.param(algorithm, group, check, id=f"{name}-{group}", marks=marks))
    return cases


def parametrize_equivariance(algorithms: Sequence[Any], groups: Sequence[str] = DEFAULT_GROUPS,
                             expected_failures: Mapping[Any, str] | None = None, **options):
    """A ``pytest.mark.parametrize("algorithm, group, check", ...)`` decorator."""
    import pytest

    return pytest.mark.parametrize("algorithm, group, check",
                                   equivariance_cases(algorithms, groups, expected_failures, **options))
