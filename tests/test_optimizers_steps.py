"""One or two steps of each optimizer against the paper's update computed by hand (numpy, float64)."""

import numpy as np
import pytest
import torch

import optimizers
from optimizers import newton_schulz5

TOL = 1e-14


def _params(seed: int = 0):
    """A tiny 2-layer network as a flat list: W1 (3, 2), b1 (3,), W2 (2, 3), b2 (2,)."""
    gen = torch.Generator().manual_seed(seed)
    shapes = [(3, 2), (3,), (2, 3), (2,)]
    return [torch.randn(s, generator=gen, dtype=torch.float64).requires_grad_() for s in shapes]


def _grads(params, seed: int):
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(p.shape, generator=gen, dtype=torch.float64) for p in params]
    for p, g in zip(params, grads):
        p.grad = g.clone()
    return [g.numpy() for g in grads]


def _numpy(params):
    return [p.detach().numpy().copy() for p in params]


def _run(spec, steps=1):
    """Run ``steps`` steps; return the initial values, the gradients of each step and the final values."""
    params = _params()
    start = _numpy(params)
    opt = optimizers.create(spec, params)
    grads = []
    for t in range(steps):
        grads.append(_grads(params, 10 + t))
        opt.step()
    return start, grads, _numpy(params)


def _check(final, expected):
    for got, want in zip(final, expected):
        np.testing.assert_allclose(got, want, rtol=0, atol=TOL)


# ---- torch's own classes at the registry's defaults ----------------------------------------


@pytest.mark.parametrize(
    "spec, update",
    [
        ("sgd", lambda g: -0.1 * g),
        ("momentum", lambda g: -0.01 * g),  # first step: the buffer is the gradient
        ("nesterov", lambda g: -0.01 * (g + 0.9 * g)),
        ("adam", lambda g: -1e-3 * g / (np.abs(g) + 1e-8)),
        ("adamw", lambda g: -1e-3 * g / (np.abs(g) + 1e-8)),  # plus decay, added below
        ("rmsprop", lambda g: -1e-3 * g / (np.sqrt(0.01 * g * g) + 1e-8)),
        ("adagrad", lambda g: -1e-2 * g / (np.abs(g) + 1e-10)),
    ],
)
def test_builtin_first_step(spec, update):
    start, (grads,), final = _run(spec)
    decay = 1 - 1e-3 * 0.01 if spec == "adamw" else 1.0
    _check(final, [decay * w + update(g) for w, g in zip(start, grads)])


def test_adam_layerwise_uses_each_layers_lr_and_betas():
    lrs, betas = [0.1, 0.01], [(0.5, 0.6), (0.8, 0.9)]
    start, (g1, g2), final = _run(f"adam-layerwise(lrs={lrs}, betas={betas})", steps=2)
    for i, (w, a, b) in enumerate(zip(start, g1, g2)):
        lr, (beta1, beta2) = lrs[i // 2], betas[i // 2]  # params 0, 1 are layer 1; 2, 3 layer 2
        m1, v1 = (1 - beta1) * a, (1 - beta2) * a * a
        w = w - lr * (m1 / (1 - beta1)) / (np.sqrt(v1 / (1 - beta2)) + 1e-8)
        m2, v2 = beta1 * m1 + (1 - beta1) * b, beta2 * v1 + (1 - beta2) * b * b
        w = w - lr * (m2 / (1 - beta1**2)) / (np.sqrt(v2 / (1 - beta2**2)) + 1e-8)
        np.testing.assert_allclose(final[i], w, rtol=0, atol=TOL)


def test_adam_layerwise_last_entry_covers_remaining_layers_and_bad_lists():
    opt = optimizers.create("adam-layerwise(lrs=[0.1], betas=(0.8, 0.9))", _params())
    assert [(g["lr"], g["betas"]) for g in opt.param_groups] == [(0.1, (0.8, 0.9))] * 2
    for bad in ("adam-layerwise(lrs=[])", "adam-layerwise(lrs=[-1.0])", "adam-layerwise(betas=[(0.9,)])"):
        with pytest.raises(ValueError, match="lrs|betas"):
            optimizers.create(bad, _params())


# ---- ours ---------------------------------------------------------------------------------


def test_signsgd_and_signum():
    start, (grads,), final = _run("signsgd(lr=0.01)")
    _check(final, [w - 0.01 * np.sign(g) for w, g in zip(start, grads)])
    start, (g1, g2), final = _run("signsgd(lr=0.01, momentum=0.9)", steps=2)
    expected = []
    for w, a, b in zip(start, g1, g2):
        m = 0.1 * a
        w = w - 0.01 * np.sign(m)
        m = 0.9 * m + 0.1 * b
        expected.append(w - 0.01 * np.sign(m))
    _check(final, expected)


def test_lion_two_steps():
    lr, (beta1, beta2), lam = 0.01, (0.9, 0.99), 0.5
    start, (g1, g2), final = _run(f"lion(lr={lr}, betas=({beta1}, {beta2}), weight_decay={lam})", steps=2)
    expected = []
    for w, a, b in zip(start, g1, g2):
        m = np.zeros_like(w)
        for g in (a, b):
            c = beta1 * m + (1 - beta1) * g
            w = w - lr * (np.sign(c) + lam * w)
            m = beta2 * m + (1 - beta2) * g
        expected.append(w)
    _check(final, expected)


def test_lars_two_steps():
    lr, mom, beta, eta = 0.5, 0.9, 0.01, 0.02
    start, (g1, g2), final = _run(
        f"lars(lr={lr}, momentum={mom}, weight_decay={beta}, trust_coefficient={eta})", steps=2
    )
    expected = []
    for w, a, b in zip(start, g1, g2):
        v = np.zeros_like(w)
        for g in (a, b):
            local = eta * np.linalg.norm(w) / (np.linalg.norm(g) + beta * np.linalg.norm(w))
            v = mom * v + lr * local * (g + beta * w)
            w = w - v
        expected.append(w)
    _check(final, expected)


def test_lars_lamb_trust_ratio_is_one_for_zero_weights():
    for spec, first_step in (("lars(lr=1.0, momentum=0.0)", lambda g: -1e-3 * g), ("lamb", None)):
        w = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        w.grad = torch.tensor([1.0, -2.0, 0.5], dtype=torch.float64)
        optimizers.create(spec, [w]).step()
        assert torch.isfinite(w).all() and (w != 0).all()
        if first_step is not None:
            assert torch.allclose(w.detach(), first_step(w.grad), rtol=0, atol=TOL)


def test_lamb_two_steps():
    lr, (beta1, beta2), eps, lam = 0.01, (0.9, 0.999), 1e-6, 0.1
    start, (g1, g2), final = _run(f"lamb(lr={lr}, betas=({beta1}, {beta2}), eps={eps}, weight_decay={lam})", steps=2)
    expected = []
    for w, a, b in zip(start, g1, g2):
        m, v = np.zeros_like(w), np.zeros_like(w)
        for t, g in enumerate((a, b), start=1):
            m, v = beta1 * m + (1 - beta1) * g, beta2 * v + (1 - beta2) * g * g
            r = (m / (1 - beta1**t)) / (np.sqrt(v / (1 - beta2**t)) + eps)
            u = r + lam * w
            w = w - lr * np.linalg.norm(w) / np.linalg.norm(u) * u
        expected.append(w)
    _check(final, expected)


# ---- muon ---------------------------------------------------------------------------------


def _ns5(g, steps=5):
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g.T if g.shape[0] > g.shape[1] else g
    x = x / (np.linalg.norm(x) + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if g.shape[0] > g.shape[1] else x


def test_muon_two_steps_matrices_muon_biases_adamw():
    lr, beta, wd = 0.02, 0.95, 0.1
    start, (g1, g2), final = _run(f"muon(lr={lr}, momentum={beta}, weight_decay={wd})", steps=2)
    for i in (0, 2):  # weights: nesterov momentum, then NS5, scaled by sqrt(max(1, rows/cols))
        w, buf = start[i], np.zeros_like(start[i])
        for g in (g1[i], g2[i]):
            buf = beta * buf + (1 - beta) * g
            update = (1 - beta) * g + beta * buf
            w = (1 - lr * wd) * w - lr * np.sqrt(max(1, w.shape[0] / w.shape[1])) * _ns5(update)
        np.testing.assert_allclose(final[i], w, rtol=0, atol=TOL)
    for i in (1, 3):  # biases: AdamW with betas (0.9, 0.95), eps 1e-10, lr 1e-3
        w, m, v = start[i], 0.0, 0.0
        for t, g in enumerate((g1[i], g2[i]), start=1):
            m, v = 0.9 * m + 0.1 * g, 0.95 * v + 0.05 * g * g
            w = w - 1e-3 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.95**t)) + 1e-10)
        np.testing.assert_allclose(final[i], w, rtol=0, atol=TOL)


def test_muon_first_and_last_layer_options():
    params = _params()
    opt = optimizers.create("muon(first_layer='adamw')", params)
    muon_params = [p for g in opt.children[0].param_groups for p in g["params"]]
    adamw_params = [p for g in opt.children[1].param_groups for p in g["params"]]
    assert [id(p) for p in muon_params] == [id(params[2])]
    assert {id(p) for p in adamw_params} == {id(params[0]), id(params[1]), id(params[3])}
    opt = optimizers.create("muon(last_layer='adamw')", params)
    assert [id(p) for g in opt.children[0].param_groups for p in g["params"]] == [id(params[0])]
    with pytest.raises(ValueError, match="first_layer"):
        optimizers.create("muon(first_layer='sgd')", params)


def test_newton_schulz_is_rotation_equivariant_and_near_orthogonal():
    gen = torch.Generator().manual_seed(0)
    g = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    p, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64))
    q, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    # f(P G Q^T) = P f(G) Q^T up to rounding (the Frobenius normalisation is rotation invariant too)
    assert torch.allclose(newton_schulz5(p @ g @ q.T), p @ newton_schulz5(g) @ q.T, rtol=0, atol=1e-13)
    sv = torch.linalg.svdvals(newton_schulz5(g))
    assert sv.min() > 0.6 and sv.max() < 1.25  # Keller Jordan's coefficients: S' roughly in [0.7, 1.2]
