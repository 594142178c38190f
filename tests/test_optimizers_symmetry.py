"""Which update rules commute with a transform of the inputs (science.md section 1).

An input transform x -> M x acts on the first layer as W1 -> W1 M^T and on its
gradient the same way; every other parameter and gradient is unchanged.  An
update rule is equivariant under M when running it on the transformed weights
and gradients gives the transformed result of the original run.
"""

import pytest
import torch

import optimizers

ROTATION_EQUIVARIANT = ["sgd", "momentum", "nesterov", "agd", "agd-momentum", "agd-layerwise", "agd-l2", "muon", "lars",
                        "layers: [sgd, adam]"]  # fmt: skip
NOT_ROTATION_EQUIVARIANT = ["adam", "adamw", "rmsprop", "adagrad", "adam-layerwise", "lion", "signsgd", "lamb",
                            "layers: [adam, sgd]", "muon(first_layer='adamw')"]  # fmt: skip
D_IN = 4
#: what rounding can do in 3 steps of a 4-6-3 network: each entry passes through ~10² float64 operations
#: of O(1) values, so its error is at most ~10² ε per step; 10⁴ ε (2.2e-12) leaves a factor 30 on top.
#: A broken rule errs by O(lr · |g|) ≥ 1e-4 (measured).
ROUNDING = 1e4 * torch.finfo(torch.float64).eps
BROKEN = 1e-4


def _network(seed: int):
    gen = torch.Generator().manual_seed(seed)
    shapes = [(6, D_IN), (6,), (3, 6), (3,)]
    return [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]


def _transform(tensors, m):
    return [tensors[0] @ m.T] + [t.clone() for t in tensors[1:]]


def _gap(spec, m, steps=3):
    """max |run(transformed) - transform(run(original))| after ``steps`` steps."""
    plain = [t.clone().requires_grad_() for t in _network(0)]
    moved = [t.clone().requires_grad_() for t in _transform(_network(0), m)]
    opt_plain, opt_moved = optimizers.create(spec, plain), optimizers.create(spec, moved)
    for t in range(steps):
        grads = _network(100 + t)
        for p, g in zip(plain, grads):
            p.grad = g
        for p, g in zip(moved, _transform(grads, m)):
            p.grad = g
        opt_plain.step(), opt_moved.step()
    expected = _transform([p.detach() for p in plain], m)
    return max(float((p.detach() - e).abs().max()) for p, e in zip(moved, expected))


def _rotation(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(D_IN, D_IN, generator=gen, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))


def _signed_permutation(seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    perm = torch.randperm(D_IN, generator=gen)
    signs = torch.randint(0, 2, (D_IN,), generator=gen).double() * 2 - 1
    return torch.eye(D_IN, dtype=torch.float64)[perm] * signs[:, None]


@pytest.mark.parametrize("spec", ROTATION_EQUIVARIANT)
def test_rotation_equivariant_rules(spec):
    assert _gap(spec, _rotation(1)) < ROUNDING


@pytest.mark.parametrize("spec", NOT_ROTATION_EQUIVARIANT)
def test_rules_that_break_rotation_equivariance(spec):
    assert _gap(spec, _rotation(1)) > BROKEN


@pytest.mark.parametrize("spec", ROTATION_EQUIVARIANT + NOT_ROTATION_EQUIVARIANT)
def test_every_rule_is_signed_permutation_equivariant(spec):
    # norms and matmuls may sum in another order after a permutation: a few ulps, not exact zero
    assert _gap(spec, _signed_permutation(2)) < ROUNDING
