"""Backtracking line searches on a halving ladder of step sizes, for many members at once."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from learners.logistic.numerics import DTYPE, softplus

ARMIJO = 1e-4
STEPS = 2.0 ** -torch.arange(0, 30, dtype=DTYPE)  # line-search candidates 1, 1/2, ..., 2^-29
FIRST_STEPS = 2  # candidates tried for every member before the rest of the ladder


def backtrack(evaluate, R: int):
    """Backtracking over the step ladder for R members at once: every member tries the first
    ``FIRST_STEPS`` candidates, and only those that accept none try the rest.

    ``evaluate(rows, steps)`` returns (ok (r, T), values: tensors (r, T, ...)); the result is the
    values at each member's first acceptable candidate, and whether it found one."""
    rows = torch.arange(R)
    ok, values = evaluate(rows, STEPS[:FIRST_STEPS])
    first, found = first_true(ok)
    chosen = [value[rows, first] for value in values]
    if not bool(found.all()):
        bad = (~found).nonzero()[:, 0]
        ok, values = evaluate(bad, STEPS[FIRST_STEPS:])
        first, again = first_true(ok)
        r = torch.arange(bad.numel())
        for c, value in zip(chosen, values):
            c[bad] = value[r, first]
        found[bad] = again
    return chosen, found


def slack(F: torch.Tensor) -> torch.Tensor:
    """Rounding allowance in sufficient-decrease tests: a few ulps of the objective."""
    return 8 * torch.finfo(DTYPE).eps * (F.abs() + 1.0)


def first_true(ok: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Index of the first True in each row (0 if none) and whether there is one."""
    found = ok.any(1)
    first = torch.where(found, ok.to(torch.int8).argmax(1), torch.zeros_like(found, dtype=torch.int64))
    return first, found


@dataclass
class AffineLine:
    """An L2 objective along a line w + t·d: the margins are affine, z + t·dz, and the penalty
    (λ/2)|w + t·d|² = (λ/2)(ww + 2t·wd + t²·dd) is a quadratic in t."""

    z: torch.Tensor      # (R, m) margins at t = 0
    dz: torch.Tensor     # (R, m) their change per unit step
    sign: torch.Tensor   # (R, m) ỹ = 2y − 1
    lam: torch.Tensor    # (R,)
    ww: torch.Tensor     # (R,) |w|²
    wd: torch.Tensor     # (R,) wᵀd
    dd: torch.Tensor     # (R,) |d|²


def affine_line_search(line: AffineLine, F: torch.Tensor, slope: torch.Tensor):
    """Armijo backtracking along ``line`` from objective F with directional derivative ``slope``.
    Returns (t, z + t·dz, found)."""

    def evaluate(r, steps):
        t = steps[None, :]
        z_t = line.z[r, None, :] + t[..., None] * line.dz[r, None, :]
        F_t = softplus(-line.sign[r, None, :] * z_t).mean(2) \
            + 0.5 * line.lam[r, None] * (line.ww[r, None] + 2 * t * line.wd[r, None] + t * t * line.dd[r, None])
        ok = F_t <= F[r, None] + ARMIJO * t * slope[r, None] + slack(F[r])[:, None]
        return ok, (t.expand_as(F_t), z_t)

    (t_best, z_best), found = backtrack(evaluate, line.z.shape[0])
    return t_best, z_best, found
