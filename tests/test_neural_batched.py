"""Batched seeds: K networks trained as one computation equal the same networks trained alone."""

import warnings

import numpy as np
import pytest
import torch

import optimizers
from learners.neural import BatchedMLP, BatchingFallbackWarning, batching_fallbacks, train, train_batched

# Largest member-vs-alone difference measured in this file's setting (float64, 3 members,
# 12-24-24-3 MLP, 28 steps): 2e-15 (Muon), 6e-16 or less for every other registry
# optimizer. bmm and mm round differently, and training amplifies that a little; the
# tolerance leaves a factor of about 500 above that floor.
TOLERANCE = 1e-12
SEEDS = [1, 2, 3]
ORDER_SEEDS = [10, 11, 12]


class LoopOnlySGD(torch.optim.SGD):
    """An optimizer the registry knows nothing about, so it cannot be batched."""


def data(n=160, d=12, seed=0):
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=generator, dtype=torch.float64)
    return X, ((X[:, 0] * X[:, 1] > 0).long() + (X[:, 2] > 1).long())


def batched_net(bias=True, init="orthogonal"):
    return BatchedMLP(12, 3, width=24, depth=3, activation="relu_sqrt2", bias=bias, init=init, seeds=SEEDS,
                      dtype="float64")


def max_difference(a, b):
    return max((p - q).abs().max().item() for p, q in zip(a.parameters(), b.parameters()))


def assert_members_match_alone(batched_result, alone_results, tolerance=TOLERANCE):
    for member, alone in zip(batched_result.members, alone_results):
        assert (member.status, member.diverged_at_step, member.steps) == (alone.status, alone.diverged_at_step,
                                                                          alone.steps)
        if alone.status == "ok":  # a diverged member's parameters are meaningless (cleared when batched)
            assert max_difference(member.model, alone.model) <= tolerance
        frame, alone_frame = member.to_frame(), alone.to_frame()
        assert frame.shape == alone_frame.shape
        assert np.allclose(frame.to_numpy(), alone_frame.to_numpy(), rtol=0, atol=tolerance, equal_nan=True)


BATCHABLE = [name for name in optimizers.names() if optimizers.supports_batching(name)]


@pytest.mark.parametrize("spec", BATCHABLE + ["layers: [sgd(lr=0.1), adam]"])
def test_each_member_equals_its_network_trained_alone(spec):
    X, y = data()
    bias = spec not in ("agd", "agd-l2")  # AGD's reference net has no biases; check both kinds across the list
    net = batched_net(bias=bias)
    members = [net.member(k) for k in range(len(SEEDS))]
    options = dict(epochs=4, batch_size=32, loss="mse", X_test=X[:50], y_test=y[:50])
    result = train_batched(net, spec, X, y, order_seed=ORDER_SEEDS, **options)
    assert result.batched
    alone = [train(m, spec, X, y, order_seed=s, **options) for m, s in zip(members, ORDER_SEEDS)]
    assert_members_match_alone(result, alone)


def test_shared_order_and_holdout_early_stopping_match_alone_runs():
    X, y = data(n=90)
    X = X + 2 * torch.randn(X.shape, generator=torch.Generator().manual_seed(5), dtype=X.dtype)  # overfits
    net = batched_net(init="gaussian")
    members = [net.member(k) for k in range(len(SEEDS))]
    options = dict(epochs=60, batch_size=16, loss="cross_entropy", holdout=0.3, patience=2)
    result = train_batched(net, "adam(lr=0.03)", X, y, order_seed=4, **options)
    alone = [train(m, "adam(lr=0.03)", X, y, order_seed=4, **options) for m in members]
    assert any(r.stopped_early for r in alone)
    assert len({len(r.history["epoch"]) for r in alone}) > 1  # members stop at different epochs
    assert [r.best_epoch for r in result.members] == [r.best_epoch for r in alone]
    assert_members_match_alone(result, alone)
    for k in range(len(SEEDS)):  # the batched network holds each member's best epoch
        assert max_difference(net.member(k), alone[k].model) <= TOLERANCE


def test_per_member_holdout_splits_and_full_train_metrics_match_alone_runs():
    X, y = data()
    net = batched_net(init="torch-default")
    members = [net.member(k) for k in range(len(SEEDS))]
    options = dict(epochs=3, batch_size=25, loss="cross_entropy", holdout=0.2, patience=5, train_metrics="full")
    result = train_batched(net, "nesterov", X, y, order_seed=ORDER_SEEDS, **options)
    alone = [train(m, "nesterov", X, y, order_seed=s, **options) for m, s in zip(members, ORDER_SEEDS)]
    assert_members_match_alone(result, alone)
    losses = [r.history["holdout_loss"][0] for r in result.members]
    assert len(set(losses)) == 3  # each member is scored on its own hold-out rows


@pytest.mark.parametrize("spec", BATCHABLE)
def test_a_diverging_member_is_masked_and_the_others_continue(spec):
    X, y = data()
    net = batched_net()
    with torch.no_grad():
        net.layers[0].weight[1, 0, 0] = float("nan")
    members = [net.member(k) for k in range(len(SEEDS))]
    options = dict(epochs=2, batch_size=32, loss="mse", X_test=X[:40], y_test=y[:40])
    result = train_batched(net, spec, X, y, order_seed=ORDER_SEEDS, **options)
    assert result.statuses == ["ok", "diverged", "ok"] and result.members[1].diverged_at_step == 0
    alone = [train(m, spec, X, y, order_seed=s, **options) for m, s in zip(members, ORDER_SEEDS)]
    assert_members_match_alone(result, alone)
    assert all(torch.isfinite(p).all() for p in net.parameters())  # the diverged member was cleared


def test_huge_learning_rate_diverges_every_member_without_raising():
    X, y = data()
    result = train_batched(batched_net(), "sgd(lr=1e8)", X, y, order_seed=ORDER_SEEDS, epochs=50, batch_size=32,
                           loss="mse")
    assert result.statuses == ["diverged"] * 3
    assert all(0 <= m.diverged_at_step < m.steps for m in result.members)
    assert max(m.steps for m in result.members) < 50 * 5  # stopped once every member had diverged


def test_batched_runs_are_bit_identical():
    X, y = data()
    runs = [train_batched(batched_net(), "agd", X, y, order_seed=ORDER_SEEDS, epochs=2, batch_size=32, loss="mse")
            for _ in range(2)]
    assert all(torch.equal(p, q) for p, q in zip(runs[0].model.parameters(), runs[1].model.parameters()))
    assert all(a.to_frame().equals(b.to_frame()) for a, b in zip(runs[0].members, runs[1].members))


def test_unbatchable_optimizer_falls_back_to_a_loop_with_a_warning():
    spec = f"{__name__}:LoopOnlySGD(lr=0.1)"
    assert not optimizers.supports_batching(spec)
    assert batching_fallbacks(["adam", spec]) == [spec]
    assert batching_fallbacks() == [name for name in optimizers.names() if name not in BATCHABLE]
    X, y = data()
    net = batched_net()
    members = [net.member(k) for k in range(len(SEEDS))]
    with pytest.warns(BatchingFallbackWarning, match="one after another"):
        result = train_batched(net, spec, X, y, order_seed=ORDER_SEEDS, epochs=2, batch_size=32)
    assert not result.batched
    alone = [train(m, spec, X, y, order_seed=s, epochs=2, batch_size=32) for m, s in zip(members, ORDER_SEEDS)]
    assert_members_match_alone(result, alone, tolerance=0)
    for k in range(len(SEEDS)):
        assert max_difference(net.member(k), alone[k].model) == 0


def test_batched_arguments_are_checked():
    X, y = data()
    with pytest.raises(ValueError, match="one seed per member"):
        train_batched(batched_net(), "sgd", X, y, order_seed=[1, 2], epochs=1)
    with pytest.raises(TypeError, match="BatchedMLP"):
        train_batched(batched_net().member(0), "sgd", X, y, order_seed=[1, 2, 3], epochs=1)
    with pytest.raises(TypeError, match="train_batched"):
        train(batched_net(), "sgd", X, y, order_seed=1, epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a batchable optimizer must not warn
        train_batched(batched_net(), "sgd", X, y, order_seed=0, epochs=1)
