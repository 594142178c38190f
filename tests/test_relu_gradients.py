"""The hand-written gradients of a batched ReLU MLP equal autograd's (float64), chunked or not."""

import pytest
import torch

from learners.neural import BatchedMLP, relu_gradients
from learners.neural.fullbatch import member_losses

TOLERANCE = 1e-12  # float64, a handful of roundings per entry


def _network(depth, bias, activation="relu"):
    return BatchedMLP(5, 1, seeds=range(6), width=7, depth=depth, bias=bias, activation=activation,
                      init="gaussian", dtype=torch.float64)


def _data(loss):
    g = torch.Generator().manual_seed(3)
    X = torch.randn(6, 11, 5, generator=g, dtype=torch.float64)
    y = (torch.rand(6, 11, generator=g) > 0.5).double() if loss == "logistic" else torch.randn(6, 11, generator=g,
                                                                                                 dtype=torch.float64)
    return X, y


@pytest.mark.parametrize("loss", ["logistic", "square"])
@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("chunk_bytes", [1, 8 * 11 * 7 * 2, 2 ** 20])  # one member, two, all six at once
def test_gradients_equal_autograd(loss, depth, bias, chunk_bytes, monkeypatch):
    monkeypatch.setattr(relu_gradients, "CHUNK_BYTES", chunk_bytes)
    net = _network(depth, bias)
    X, y = _data(loss)
    expected_losses = member_losses(net(X)[..., 0], y, loss)
    expected_losses.sum().backward()
    expected = [p.grad.clone() for p in net.parameters()]
    for p in net.parameters():
        p.grad = None
    losses = relu_gradients.losses_and_gradients(net, X, y, loss)
    assert torch.allclose(losses, expected_losses.detach(), rtol=0, atol=TOLERANCE)
    for (name, p), want in zip(net.named_parameters(), expected):
        assert torch.allclose(p.grad, want, rtol=0, atol=TOLERANCE), f"{name}: gradient differs from autograd"


def test_stale_gradients_are_overwritten():
    net, (X, y) = _network(2, True), _data("logistic")
    for p in net.parameters():
        p.grad = torch.full_like(p, 7.0)
    relu_gradients.losses_and_gradients(net, X, y, "logistic")
    first = [p.grad.clone() for p in net.parameters()]
    relu_gradients.losses_and_gradients(net, X, y, "logistic")
    assert all(torch.equal(a, p.grad) for a, p in zip(first, net.parameters()))


def test_only_one_score_relu_networks_qualify():
    assert relu_gradients.supports(_network(2, True))
    assert not relu_gradients.supports(_network(2, True, activation="tanh"))
    assert not relu_gradients.supports(BatchedMLP(5, 3, seeds=[0], width=4))


def test_chunk_holds_at_least_one_member(monkeypatch):
    monkeypatch.setattr(relu_gradients, "CHUNK_BYTES", 1)
    assert relu_gradients.chunk_size(_network(2, True), 10 ** 6) == 1


def test_a_subset_of_members_gets_the_same_gradients_and_the_others_zero():
    net, (X, y) = _network(3, True), _data("logistic")
    full = relu_gradients.losses_and_gradients(net, X, y, "logistic")
    expected = [p.grad.clone() for p in net.parameters()]
    members = torch.tensor([1, 2, 4])
    part = relu_gradients.losses_and_gradients(net, X[members], y[members], "logistic", members=members)
    others = torch.tensor([0, 3, 5])
    assert torch.equal(part[members], full[members]) and torch.all(part[others] == 0)
    for (name, p), want in zip(net.named_parameters(), expected):
        assert torch.allclose(p.grad[members], want[members], rtol=0, atol=TOLERANCE), name
        assert torch.all(p.grad[others] == 0), f"{name}: a finished member got a gradient"
