"""AGD and its variants against the formulas of Bernstein et al. 2023 and docs/agd_l2.md, computed by hand."""

import math

import numpy as np
import pytest
import scipy.stats
import torch
from torch import nn

import optimizers
from optimizers import AGD, agd_init_, regularised_step_size

DIMS = [3, 5, 4, 2]  # d_0 .. d_L, L = 3


def _mlp(bias: bool, seed: int = 0) -> nn.Sequential:
    layers = []
    for d_in, d_out in zip(DIMS[:-1], DIMS[1:]):
        layers += [nn.Linear(d_in, d_out, bias=bias, dtype=torch.float64), nn.ReLU()]
    model = nn.Sequential(*layers[:-1])
    agd_init_(model, seed)
    return model


def _set_grads(model: nn.Module, seed: int) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    grads = []
    for p in model.parameters():
        p.grad = torch.randn(p.shape, generator=gen, dtype=torch.float64)
        grads.append(p.grad.clone())
    return grads


def _linears(model):
    return [m for m in model if isinstance(m, nn.Linear)]


def _snapshot(model):
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("bias", [False, True])
def test_init_singular_values_equal_s_k(bias):
    model = _mlp(bias)
    for layer in _linears(model):
        d_out, d_in = layer.weight.shape
        matrix = layer.weight.detach()
        if bias:
            matrix = torch.cat([matrix, layer.bias.detach()[:, None]], dim=1)
        s_k = math.sqrt(d_out / (d_in + bias))
        sv = torch.linalg.svdvals(matrix)
        assert torch.allclose(sv, torch.full_like(sv, s_k), rtol=0, atol=1e-14)
        assert optimizers.layer_scale(layer.weight, layer.bias if bias else None) == pytest.approx(s_k, abs=1e-15)


def test_init_is_seeded_and_haar():
    a, b, c = _mlp(True, seed=1), _mlp(True, seed=1), _mlp(True, seed=2)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    assert not torch.equal(a[0].weight, c[0].weight)
    # Haar on O(3): the first column is uniform on the sphere, so Q[0, 0] ~ Uniform(-1, 1)
    # (2000 members of one batched parameter: each member is its own draw)
    w = torch.empty(2000, 3, 3, dtype=torch.float64, requires_grad=True)
    w.batch_dims = 1
    agd_init_([w], 0)
    eye = torch.eye(3, dtype=torch.float64).expand(2000, 3, 3)
    assert torch.allclose(w.detach().mT @ w.detach(), eye, atol=1e-14)
    draws = w.detach()[:, 0, 0].numpy()
    assert scipy.stats.kstest(draws, scipy.stats.uniform(-1, 2).cdf).pvalue > 1e-3
    assert len(np.unique(draws)) == 2000


def test_init_rejects_bad_generator():
    with pytest.raises(TypeError, match="generator"):
        agd_init_(_mlp(False), generator=None)


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_agd_step_matches_formulas(bias, gain):
    model = _mlp(bias)
    before = _snapshot(model)
    grads = _set_grads(model, 3)
    opt = optimizers.create(f"agd(gain={gain})", model)
    opt.step()
    L = 3
    # by hand: per layer the (augmented) gradient norm and s_k
    per_layer = []
    i = 0
    for layer in _linears(model):
        d_out, d_in = layer.weight.shape
        parts = grads[i : i + 1 + bias]
        i += 1 + bias
        norm = math.sqrt(sum(float((g**2).sum()) for g in parts))
        per_layer.append((math.sqrt(d_out / (d_in + bias)), norm, parts))
    G = sum(s * n for s, n, _ in per_layer) / L
    eta = math.log((1 + math.sqrt(1 + 4 * G)) / 2)
    assert float(opt.last_step_size) == pytest.approx(eta, rel=1e-14)
    j = 0
    after = _snapshot(model)
    for s, n, parts in per_layer:
        delta_sq = 0.0
        for g in parts:
            expected = before[j] - gain * (eta / L) * s * g / n
            assert torch.allclose(after[j], expected, rtol=0, atol=1e-14)
            delta_sq += float(((after[j] - before[j]) ** 2).sum())
            j += 1
        assert math.sqrt(delta_sq) == pytest.approx(gain * eta * s / L, rel=1e-12)


def test_agd_eta_minimises_majorant():
    G = 0.37
    eta = math.log((1 + math.sqrt(1 + 4 * G)) / 2)
    grid = np.linspace(0, 2, 200001)
    majorant = -grid * G + 0.5 * (np.exp(grid) - 1) ** 2
    assert abs(grid[np.argmin(majorant)] - eta) <= 1e-5


def test_zero_gradient_gives_zero_update():
    model = _mlp(True)
    before = _snapshot(model)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    opt = optimizers.create("agd", model)
    opt.step()
    assert float(opt.last_step_size) == 0.0
    assert all(torch.equal(p, q) for p, q in zip(before, _snapshot(model)))


def test_zero_gradient_layer_does_not_move_and_others_do():
    model = _mlp(False)
    before = _snapshot(model)
    _set_grads(model, 4)
    model[2].weight.grad.zero_()
    optimizers.create("agd", model).step()
    after = _snapshot(model)
    assert torch.equal(after[1], before[1])
    assert not torch.equal(after[0], before[0]) and not torch.equal(after[2], before[2])
    assert all(torch.isfinite(p).all() for p in after)


def test_missing_gradient_counts_as_zero():
    model = _mlp(False)
    before = _snapshot(model)
    optimizers.create("agd", model).step()
    assert all(torch.equal(p, q) for p, q in zip(before, _snapshot(model)))


def test_conv_kernel_slices_follow_the_reference():
    conv = nn.Conv2d(3, 4, kernel_size=2, bias=False, dtype=torch.float64)
    agd_init_(conv, 0)
    s = math.sqrt(4 / 3) / math.sqrt(4)
    for x in range(2):
        for y in range(2):
            sv = torch.linalg.svdvals(conv.weight.detach()[:, :, x, y])
            assert torch.allclose(sv, torch.full_like(sv, s), atol=1e-14)
    before = conv.weight.detach().clone()
    conv.weight.grad = torch.randn(conv.weight.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    opt = AGD(conv.parameters())
    opt.step()
    slice_norms = torch.linalg.matrix_norm(conv.weight.grad.permute(2, 3, 0, 1))
    eta = math.log((1 + math.sqrt(1 + 4 * s * float(slice_norms.sum()))) / 2)
    assert float(opt.last_step_size) == pytest.approx(eta, rel=1e-14)
    moved = torch.linalg.matrix_norm((conv.weight.detach() - before).permute(2, 3, 0, 1))
    assert torch.allclose(moved, torch.full_like(moved, eta * s), rtol=1e-12)


def test_agd_layer_structure_errors():
    with pytest.raises(ValueError, match="weight matrix"):
        AGD(nn.LayerNorm(4).parameters())
    conv = nn.Conv2d(3, 4, 2)
    with pytest.raises(ValueError, match="dense layers only"):
        AGD(conv.parameters())
    with pytest.raises(ValueError, match="gain"):
        AGD(nn.Linear(2, 2).parameters(), gain=0)


def test_agd_layerwise_divides_layer_k_by_k():
    plain, layerwise = _mlp(False), _mlp(False)
    before = _snapshot(plain)
    _set_grads(plain, 5), _set_grads(layerwise, 5)
    optimizers.create("agd", plain).step()
    opt = optimizers.create("agd-layerwise", layerwise)
    opt.step()
    for k, (b, p, q) in enumerate(zip(before, _snapshot(plain), _snapshot(layerwise)), start=1):
        assert torch.allclose(q - b, (p - b) / k, rtol=0, atol=1e-15)


def test_agd_momentum_uses_bias_corrected_average():
    model = _mlp(False)
    opt = optimizers.create("agd-momentum(momentum=0.5)", model)
    beta, L = 0.5, 3
    m = [torch.zeros_like(p) for p in model.parameters()]
    for t in (1, 2):
        before = _snapshot(model)
        grads = _set_grads(model, 10 + t)
        m = [beta * mi + (1 - beta) * g for mi, g in zip(m, grads)]
        m_hat = [mi / (1 - beta**t) for mi in m]
        scales = [math.sqrt(d_out / d_in) for d_in, d_out in zip(DIMS[:-1], DIMS[1:])]
        G = sum(s * float(mh.norm()) for s, mh in zip(scales, m_hat)) / L
        eta = math.log((1 + math.sqrt(1 + 4 * G)) / 2)
        opt.step()
        assert float(opt.last_step_size) == pytest.approx(eta, rel=1e-13)
        for b, a, s, mh in zip(before, _snapshot(model), scales, m_hat):
            assert torch.allclose(a, b - (eta / L) * s * mh / mh.norm(), rtol=0, atol=1e-14)


# ---- agd-l2 ---------------------------------------------------------------------------


def _majorant(eta, G, c):
    return -eta * G + 0.5 * (np.exp(eta) - 1) ** 2 + 0.5 * c * eta**2


@pytest.mark.parametrize("G", [0.0, 1e-6, 0.05, 0.8, 7.0, 300.0])
@pytest.mark.parametrize("c", [0.0, 1e-3, 0.3, 5.0])
def test_regularised_eta_minimises_majorant(G, c):
    eta = float(regularised_step_size(torch.tensor(G, dtype=torch.float64), c))
    e = math.exp(eta)
    assert abs(-G + (e - 1) * e + c * eta) <= 1e-12 * max(1.0, G)  # M'(eta) = 0
    grid = np.linspace(0.0, 2 * eta + 0.1, 400001)
    best = grid[np.argmin(_majorant(grid, G, c))]
    assert abs(best - eta) <= 2 * (grid[1] - grid[0])
    assert _majorant(eta, G, c) <= _majorant(grid, G, c).min() + 1e-15 * max(1.0, G)
    if c == 0:
        # AGD's eta, log((1 + sqrt(1 + 4G)) / 2), in a form free of cancellation for small G
        assert eta == pytest.approx(math.log1p(2 * G / (1 + math.sqrt(1 + 4 * G))), rel=1e-14, abs=1e-300)


def test_regularised_eta_decreases_with_lambda():
    etas = [float(regularised_step_size(torch.tensor(0.5, dtype=torch.float64), c)) for c in (0, 0.1, 1, 10)]
    assert all(a > b for a, b in zip(etas, etas[1:]))


def test_agd_l2_equals_agd_at_zero_lambda():
    a, b = _mlp(True), _mlp(True)
    _set_grads(a, 6), _set_grads(b, 6)
    opt_a, opt_b = optimizers.create("agd", a), optimizers.create("agd-l2(weight_decay=0.0)", b)
    opt_a.step(), opt_b.step()
    assert float(opt_a.last_step_size) == float(opt_b.last_step_size)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_agd_l2_step_matches_formulas():
    lam, L = 0.2, 3
    model = _mlp(False)
    before = _snapshot(model)
    grads = _set_grads(model, 8)
    opt = optimizers.create(f"agd-l2(weight_decay={lam})", model)
    opt.step()
    reg_grads = [g + lam * w for g, w in zip(grads, before)]
    scales = [math.sqrt(d_out / d_in) for d_in, d_out in zip(DIMS[:-1], DIMS[1:])]
    G = sum(s * float(g.norm()) for s, g in zip(scales, reg_grads)) / L
    dtilde = sum(d_out / d_in for d_in, d_out in zip(DIMS[:-1], DIMS[1:])) / L
    # root of -G + (e^eta - 1) e^eta + (lam dtilde / L) eta by bisection, independently of the Newton solver
    lo, hi = 0.0, 5.0
    for _ in range(200):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if -G + (math.exp(mid) - 1) * math.exp(mid) + lam * dtilde / L * mid < 0 else (lo, mid)
    eta = (lo + hi) / 2
    assert float(opt.last_step_size) == pytest.approx(eta, rel=1e-13)
    for b, a, s, g in zip(before, _snapshot(model), scales, reg_grads):
        assert torch.allclose(a, b - (eta / L) * s * g / g.norm(), rtol=0, atol=1e-14)


def test_agd_trains_deep_bias_free_net():
    """Smoke test: 6-layer bias-free ReLU*sqrt(2) MLP with square loss (the paper's setting)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(128, 8, generator=gen, dtype=torch.float64)
    x = x / x.norm(dim=1, keepdim=True) * math.sqrt(8)
    y = (x[:, 0] > 0).long()
    target = nn.functional.one_hot(y, 2).double() * math.sqrt(2)

    class ScaledReLU(nn.Module):
        def forward(self, h):
            return torch.relu(h) * math.sqrt(2)

    blocks = [nn.Linear(8, 32, bias=False, dtype=torch.float64)]
    for _ in range(4):
        blocks += [ScaledReLU(), nn.Linear(32, 32, bias=False, dtype=torch.float64)]
    model = nn.Sequential(*blocks, ScaledReLU(), nn.Linear(32, 2, bias=False, dtype=torch.float64))
    agd_init_(model, 0)
    opt = optimizers.create("agd", model)
    losses = []
    for _ in range(100):
        opt.zero_grad()
        loss = ((model(x) - target) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    accuracy = (model(x).argmax(1) == y).double().mean().item()
    assert losses[-1] < 0.5 * losses[0] and accuracy > 0.9
