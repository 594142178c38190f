"""Batched parameters (p.batch_dims = 1): member k of a K-stack must move exactly as network k alone."""

import pytest
import torch

import optimizers
from optimizers.registry import _PTO_ELEMENTWISE

K = 3
SHAPES = [(5, 3), (4, 5), (2, 4)]  # a 3-layer MLP 3 -> 5 -> 4 -> 2, weights d_out x d_in, with biases
STEPS = 3
TOL = 1e-12  # float64; measured differences are 0 or a few ulps


def _stacked_network(seed: int, bias: bool = True):
    gen = torch.Generator().manual_seed(seed)
    params = []
    for d_out, d_in in SHAPES:
        weight = torch.randn(K, d_out, d_in, generator=gen, dtype=torch.float64) / d_in**0.5
        weight.batch_dims = 1
        params.append(weight.requires_grad_())
        if bias:
            b = torch.randn(K, d_out, generator=gen, dtype=torch.float64) * 0.1
            b.batch_dims = 1
            params.append(b.requires_grad_())
    return params


def _gradients(params, seed: int):
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    for g in grads[:2]:  # member 1's first layer gets a zero gradient: a per-member edge case
        g[1] = 0.0
    return grads


def _run(spec, bias=True):
    """Final parameters of the stacked run and of the K separate runs."""
    stacked = _stacked_network(0, bias)
    separate = [[p.detach()[k].clone().requires_grad_() for p in stacked] for k in range(K)]
    opt_stacked = optimizers.create(spec, stacked)
    opts = [optimizers.create(spec, params) for params in separate]
    for t in range(STEPS):
        grads = _gradients(stacked, 100 + t)
        for p, g in zip(stacked, grads):
            p.grad = g.clone()
        opt_stacked.step()
        for k in range(K):
            for p, g in zip(separate[k], grads):
                p.grad = g[k].clone()
            opts[k].step()
    return stacked, separate


BATCHED_SPECS = [name for name in optimizers.names()] + [
    "agd-l2(weight_decay=0.1)",
    "agd-momentum(momentum=0.5)",
    "lars(weight_decay=0.01)",
    "signsgd(momentum=0.9)",
    "lion(weight_decay=0.1)",
    "muon(first_layer='adamw', last_layer='adamw')",
    "muon(nesterov=False, weight_decay=0.1)",
    "layers: [sgd(lr=0.1), adam, agd]",
    "torch.optim:NAdam",
] + [f"pto:{name}" for name in sorted(_PTO_ELEMENTWISE)]


@pytest.mark.parametrize("spec", BATCHED_SPECS)
def test_batched_step_equals_separate_steps(spec):
    assert optimizers.supports_batching(spec)
    stacked, separate = _run(spec)
    moved = False
    for i, p in enumerate(stacked):
        for k in range(K):
            assert torch.allclose(p.detach()[k], separate[k][i].detach(), rtol=0, atol=TOL), (spec, i, k)
        moved |= not torch.equal(p.detach(), _stacked_network(0)[i].detach())
    assert moved, f"{spec} did not move any parameter"


@pytest.mark.parametrize("spec", ["agd", "agd-l2", "muon", "lars", "lamb"])
def test_batched_bias_free(spec):
    stacked, separate = _run(spec, bias=False)
    for i, p in enumerate(stacked):
        for k in range(K):
            assert torch.allclose(p.detach()[k], separate[k][i].detach(), rtol=0, atol=TOL)


def test_agd_step_size_is_per_member():
    stacked = _stacked_network(0)
    opt = optimizers.create("agd", stacked)
    for p, g in zip(stacked, _gradients(stacked, 7)):
        p.grad = g
    opt.step()
    eta = opt.last_step_size
    assert eta.shape == (K,)
    assert len(set(eta.tolist())) == K  # members see different gradients, hence different steps


@pytest.mark.parametrize("spec", ["pto:soap", "pto:adahessian", "pytorch_optimizer:Shampoo", "torch.optim:LBFGS"])
def test_non_elementwise_third_party_is_not_batched(spec):
    assert not optimizers.supports_batching(spec)


def test_pto_batching_claim_needs_known_hyperparameters():
    assert optimizers.supports_batching("pto:adabelief(lr=1e-2, weight_decay=0.1)")
    assert not optimizers.supports_batching("pto:adabelief(rectify=True)")  # not in the checked list


def test_mismatched_batch_shapes_are_rejected():
    w = torch.zeros(3, 4, 2, dtype=torch.float64, requires_grad=True)
    w.batch_dims = 1
    v = torch.zeros(2, 5, 4, dtype=torch.float64, requires_grad=True)
    v.batch_dims = 1
    with pytest.raises(ValueError, match="batch shape"):
        optimizers.create("agd", [w, v])
