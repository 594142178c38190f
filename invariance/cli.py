"""``symbench check SPEC``: which symmetries does this optimizer or learner have?

SPEC is an optimizer (registry name, spec string such as ``adam(lr=1e-3)``,
``package.module:Class(lr=0.1)``, ``pto:NAME``, ``layers: [sgd, adam]``), a named
learner from ``symbench list learners`` (``l2-logistic``, ``svm-rbf``, ...), or a
scikit-learn estimator by import path (``sklearn.svm:SVC(C=2.0)``).

The network options (``--init``, ``--steps``, ``--width``, ``--depth``) apply to
optimizers only; ``--probe axes`` moves the distributional test's probe points
onto the coordinate axes (see :func:`invariance.algorithms.default_task`).

Exit status: 0 whatever the verdicts, unless ``--expect GROUP=VERDICT,...`` is
given: then 1 when any named group's verdict differs (the mismatches go to
stderr), for use in CI. Bad input exits 2 with one line.
"""

from __future__ import annotations

import argparse
import sys


def cmd_check(args: argparse.Namespace) -> int:
    from invariance.algorithms import default_task, resolve_spec
    from invariance.checker import check_equivariance

    if args.elements < 1 or args.seeds < 0:
        raise ValueError(f"--elements must be at least 1 and --seeds at least 0, got {args.elements} and {args.seeds}")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    expected = None
    if args.expect is not None:
        from invariance.formatting import parse_expectations

        expected = parse_expectations(args.expect, groups)  # bad expectations fail before any training
    options = {name: getattr(args, name) for name in ("init", "steps", "width", "depth")
               if getattr(args, name) is not None}
    algorithm, name = resolve_spec(args.spec)
    if not isinstance(algorithm, str):
        if options:
            flags = ", ".join(f"--{k}" for k in options)
            raise ValueError(f"{flags} apply to optimizers (trained in the checker's MLP), not to the learner {name!r}")
        options = {"name": name}
    report = check_equivariance(algorithm, groups, seeds=args.seeds, n_elements=args.elements,
                                init_draws=args.init_draws,
                                distributional=args.seeds >= 2, seed=args.seed,
                                task=default_task(probe=args.probe), **options)
    if args.format == "json":
        print(report.to_json())
    elif args.format == "markdown":
        print(report.to_markdown())
    else:
        print(f"{report.algorithm}:")
        print(report.to_table())
        for line in report.notes():
            print(f"  {line}")
    if expected is not None:
        from invariance.formatting import mismatches

        wrong = mismatches(report, expected)
        for line in wrong:
            print(f"symbench check: {line}", file=sys.stderr)
        return 1 if wrong else 0
    return 0


def add_arguments(sub) -> None:
    from invariance.algorithms import PROBES
    from invariance.checker import DEFAULT_GROUPS

    check = sub.add_parser("check", help="which symmetries an optimizer or learner has")
    check.add_argument("spec", help="optimizer spec, learner name, or package.module:Class(...)")
    check.add_argument("--groups", default=",".join(DEFAULT_GROUPS),
                       help="comma-separated groups (symbench list groups; default: %(default)s)")
    check.add_argument("--seeds", type=int, default=32, help="K seeds per side of the distributional test (0: skip it)")
    check.add_argument("--elements", type=int, default=3, help="random group elements per group (coupled test)")
    check.add_argument("--init", choices=["gaussian", "orthogonal", "torch-default", "auto"],
                       help="the checker network's initialisation (default gaussian)")
    check.add_argument("--steps", type=int, help="training steps of the checker network (default 200; 0: untrained)")
    check.add_argument("--width", type=int, help="hidden width of the checker network (default 32)")
    check.add_argument("--depth", type=int, help="weight layers of the checker network (default 2; 1: linear)")
    check.add_argument("--probe", choices=list(PROBES), default="test",
                       help="probe points of the distributional test (default: %(default)s)")
    check.add_argument("--init-draws", type=int, default=256, dest="init_draws",
                       help="initialisations per side of the initialisation test (default %(default)s)")
    check.add_argument("--expect", metavar="GROUP=VERDICT,...",
                       help="exit 1 unless each named group gets this verdict (equivariant, not_equivariant, "
                            "inconclusive)")
    check.add_argument("--seed", type=int, default=0)
    check.add_argument("--format", choices=["table", "json", "markdown"], default="table")
    check.set_defaults(func=cmd_check)
