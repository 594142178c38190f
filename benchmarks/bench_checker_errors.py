"""How often can ``symbench check`` be wrong? Its false-verdict rate and its power, measured.

* **False verdicts.** Checks (4 groups each: orthogonal, permutation, sign flip,
  signed permutation) of algorithms known to be equivariant under all four:
  SGD, momentum, Nesterov, AGD, Muon and LARS in the checker's network with its
  Gaussian initialisation (rotation-equivariant update rules, rotation
  invariant initialisation: science.md §1). Each check uses its own seed, so
  every group element, initialisation, minibatch order and permutation is new.
  Reported: the share of checks with any ``not_equivariant`` verdict (goal
  ≤ 1 %), and the share with any ``inconclusive`` one, with Clopper–Pearson
  95 % intervals.
* **Power.** The same checks of three true breaks of the rotation symmetry:
  Adam (element-wise update), SGD from torch's default initialisation
  (uniform per entry: a cube), and the per-layer rule ``layers: [adam, sgd]``
  (Adam on the input layer). Reported: the share whose orthogonal verdict is
  ``not_equivariant``, and (a false verdict again) any ``not_equivariant``
  verdict under the three signed-permutation groups, which all three keep.

Checks run at the checker's defaults (200 steps, 3 elements, K = 32 seeds per
side, 256 initialisations per side) unless ``--steps`` says otherwise, on
``--jobs`` processes of one thread each.

    python benchmarks/bench_checker_errors.py                  # 204 + 60 checks; rewrites its RESULTS.md section
    python benchmarks/bench_checker_errors.py --quick          # a smoke test: 4 tiny checks, writes nothing
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchlib import DEFAULT_RESULTS, machine_line, publish

SECTION = "## bench_checker_errors"
GROUPS = ("orthogonal", "permutation", "sign_flip", "signed_permutation")
EQUIVARIANT = ("sgd", "momentum", "nesterov", "agd", "muon", "lars")
#: name -> (spec, network options); each breaks rotations only
BREAKS = {"adam": ("adam", {}), "sgd (torch-default init)": ("sgd", {"init": "torch-default"}),
          "layers: [adam, sgd]": ("layers: [adam, sgd]", {})}
GOAL_FALSE = 0.01


def clopper_pearson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    from scipy.stats import beta

    a = (1 - level) / 2
    low = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    high = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return low, high


#: --quick: tiny checks (a smoke test of the script, not of the checker's error rates)
QUICK_OPTIONS = {"steps": 5, "seeds": 4, "n_elements": 1, "init_draws": 32}


def one_check(name: str, spec: str, options: dict, seed: int, extra: dict) -> dict:
    from invariance.checker import check_equivariance

    options = {**options, **extra}
    start = time.perf_counter()
    report = check_equivariance(spec, GROUPS, seed=seed, **options)
    return {"name": name, "seed": seed, "seconds": time.perf_counter() - start,
            "verdicts": {g: r.verdict for g, r in report.results.items()},
            "notes": report.notes()}


def plan(checks: int, break_checks: int) -> list[tuple[str, str, dict, int]]:
    jobs = [(EQUIVARIANT[i % len(EQUIVARIANT)], EQUIVARIANT[i % len(EQUIVARIANT)], {}, 1000 + i)
            for i in range(checks)]
    jobs += [(name, spec, options, 5000 + i) for name, (spec, options) in BREAKS.items() for i in range(break_checks)]
    return jobs


def run(checks: int, break_checks: int, jobs: int, extra: dict) -> list[dict]:
    from joblib import Parallel, delayed, parallel_config

    work = plan(checks, break_checks)
    # one thread per worker (the checker trains on one thread; BLAS in the permutation tests too)
    with parallel_config(backend="loky", inner_max_num_threads=1):
        return Parallel(n_jobs=jobs, verbose=2)(delayed(one_check)(n, s, o, seed, extra) for n, s, o, seed in work)


def summarise(results: list[dict]) -> dict:
    equivariant = [r for r in results if r["name"] in EQUIVARIANT]
    breaks = [r for r in results if r["name"] in BREAKS]
    false_any = [r for r in equivariant if "not_equivariant" in r["verdicts"].values()]
    unsure_any = [r for r in equivariant if "inconclusive" in r["verdicts"].values()]
    kept = [g for g in GROUPS if g != "orthogonal"]
    power = {}
    for name in BREAKS:
        mine = [r for r in breaks if r["name"] == name]
        found = sum(r["verdicts"]["orthogonal"] == "not_equivariant" for r in mine)
        false_kept = sum(any(r["verdicts"][g] == "not_equivariant" for g in kept) for r in mine)
        power[name] = (found, len(mine), false_kept)
    return {"n": len(equivariant), "false": len(false_any), "inconclusive": len(unsure_any), "power": power,
            "false_cases": [(r["name"], r["seed"], r["verdicts"], r["notes"]) for r in false_any],
            "seconds": [r["seconds"] for r in results]}


def section(summary: dict, args, wall: float) -> str:
    n, k = summary["n"], summary["false"]
    low, high = clopper_pearson(k, n)
    u_low, u_high = clopper_pearson(summary["inconclusive"], n)
    met = "yes" if k / n <= GOAL_FALSE else "no"
    lines = [
        SECTION, "",
        f"False verdicts and power of `symbench check` (4 groups per check: {', '.join(GROUPS)}; checker "
        f"defaults{'' if args.steps is None or args.quick else f' but {args.steps} steps'})"
        + (" — QUICK MODE, not the goal's setting" if args.quick else "") + ".", "",
        "| measure | checks | share [95 % Clopper–Pearson] | goal | met |", "|---|---|---|---|---|",
        f"| any false `not_equivariant` ({', '.join(EQUIVARIANT)}) | {n} | {k / n:.3f} [{low:.3f}, {high:.3f}] "
        f"| ≤ {GOAL_FALSE:.0%} | {met} |",
        f"| any `inconclusive` (same checks) | {n} | {summary['inconclusive'] / n:.3f} [{u_low:.3f}, {u_high:.3f}] "
        "| | |",
    ]
    for name, (found, total, false_kept) in summary["power"].items():
        p_low, p_high = clopper_pearson(found, total)
        f_low, f_high = clopper_pearson(false_kept, total)
        lines.append(f"| power: `{name}` called `not_equivariant` under orthogonal | {total} | "
                     f"{found / total:.3f} [{p_low:.3f}, {p_high:.3f}] | | |")
        lines.append(f"| false `not_equivariant` of `{name}` under the signed-permutation groups | {total} | "
                     f"{false_kept / total:.3f} [{f_low:.3f}, {f_high:.3f}] | | |")
    seconds = sorted(summary["seconds"])
    lines += ["", f"{len(seconds)} checks in {wall:.0f} s wall on {args.jobs} process(es); per check median "
              f"{seconds[len(seconds) // 2]:.1f} s, max {seconds[-1]:.1f} s."]
    if summary["false_cases"]:
        lines += ["", "Checks with a false verdict:", ""]
        lines += [f"* `{name}` seed {seed}: {verdicts} — {'; '.join(notes)}"
                  for name, seed, verdicts, notes in summary["false_cases"]]
    lines += ["", f"Machine: {machine_line()}.", f"Recorded {time.strftime('%Y-%m-%d %H:%M %Z')}.", ""]
    return "\n".join(lines)


def main(argv=None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 tiny checks (a smoke test of this script)")
    parser.add_argument("--checks", type=int, default=204, help="checks of equivariant algorithms (default %(default)s)")
    parser.add_argument("--break-checks", type=int, default=20, dest="break_checks",
                        help="checks of each true break (default %(default)s)")
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: the checker's)")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--results", type=Path, default=None,
                        help=f"file whose '{SECTION}' section is rewritten (default: {DEFAULT_RESULTS} "
                             "for a full run, none for --quick)")
    args = parser.parse_args(argv)
    if args.quick:
        args.checks, args.break_checks, args.jobs = 2, 1, 1
    if args.checks < 1 or args.break_checks < 1 or args.jobs < 1:
        parser.error("--checks, --break-checks and --jobs must be at least 1")
    start = time.perf_counter()
    extra = dict(QUICK_OPTIONS) if args.quick else ({} if args.steps is None else {"steps": args.steps})
    results = run(args.checks, args.break_checks, args.jobs, extra)
    text = section(summarise(results), args, time.perf_counter() - start)
    return publish(text, SECTION, args.results, args.quick)


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
