"""optimizers.PerMember: one batched network, one optimizer spec per member.

Member k trained in the batch must move exactly as its network trained alone under
its own spec (float64, same data), for element-wise, per-member-norm and per-layer
optimizers; a run of equal specs is one child; a diverging member does not stop the rest."""

import warnings

import pytest
import torch

import optimizers
from learners.neural import BatchedMLP, train, train_batched

SPECS = {
    "sgd": ["sgd(lr=0.05)", "sgd(lr=0.2)", "sgd(lr=0.2)"],
    "adam": ["adam(lr=1e-3)", "adam(lr=1e-2)", "adam(lr=3e-2)"],
    "agd": ["agd(gain=0.5)", "agd(gain=1.0)", "agd(gain=2.0)"],
    "muon": ["muon(lr=0.01)", "muon(lr=0.02)", "muon(lr=0.05)"],
    "layers": ["layers: [adam(lr=1e-3), sgd(lr=0.1)]", "layers: [adam(lr=1e-2), sgd(lr=0.1)]",
               "layers: [adam(lr=1e-2), sgd(lr=0.3)]"],
}


def _data(seed=0, n=64, d=6):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, d, generator=g, dtype=torch.float64)
    return X, (X[:, 0] + 0.5 * X[:, 1] > 0).long()


@pytest.mark.parametrize("name", sorted(SPECS))
def test_each_member_moves_as_it_would_alone(name):
    X, y = _data()
    specs = SPECS[name]
    seeds = [11, 12, 13]
    batched = BatchedMLP(6, 2, seeds=seeds, width=16, depth=3, init="gaussian", dtype=torch.float64)
    result = train_batched(batched, optimizers.PerMember(specs), X, y, order_seed=[1, 2, 3], epochs=3,
                           batch_size=16)
    assert result.batched
    for k, (spec, seed) in enumerate(zip(specs, seeds)):
        alone = BatchedMLP(6, 2, seeds=[seed], width=16, depth=3, init="gaussian", dtype=torch.float64).member(0)
        train(alone, spec, X, y, order_seed=k + 1, epochs=3, batch_size=16)
        for p_alone, p_batched in zip(alone.parameters(), result.members[k].model.parameters()):
            torch.testing.assert_close(p_batched, p_alone, rtol=1e-10, atol=1e-12,
                                       msg=f"member {k} ({spec}) differs from its network trained alone")


def test_runs_of_equal_specs_share_one_child():
    spec = optimizers.PerMember(["sgd(lr=0.1)"] * 3 + ["adam"] * 2 + ["sgd(lr=0.1)"])
    assert [(a, b) for a, b, _ in spec.runs()] == [(0, 3), (3, 5), (5, 6)]
    model = BatchedMLP(4, 2, seeds=range(6), width=8, depth=2)
    opt = optimizers.create(spec, model)
    assert len(opt.children) == 3
    assert optimizers.supports_batching(spec)


def test_a_diverging_member_does_not_stop_the_others():
    X, y = _data(1)
    specs = ["sgd(lr=0.1)", "sgd(lr=1e12)", "sgd(lr=0.3)"]
    batched = BatchedMLP(6, 2, seeds=[1, 2, 3], width=16, depth=3, init="gaussian", dtype=torch.float64)
    result = train_batched(batched, optimizers.PerMember(specs), X, y, order_seed=7, epochs=4, batch_size=16,
                           loss="mse")
    assert result.statuses == ["ok", "diverged", "ok"]
    for k in (0, 2):
        alone = BatchedMLP(6, 2, seeds=[k + 1], width=16, depth=3, init="gaussian", dtype=torch.float64).member(0)
        train(alone, specs[k], X, y, order_seed=7, epochs=4, batch_size=16, loss="mse")
        for p_alone, p_batched in zip(alone.parameters(), result.members[k].model.parameters()):
            torch.testing.assert_close(p_batched, p_alone, rtol=1e-10, atol=1e-12)


def test_bad_input_is_one_line():
    model = BatchedMLP(4, 2, seeds=range(3), width=8, depth=2)
    with pytest.raises(ValueError, match="2 specs.*leading size 2"):
        optimizers.create(optimizers.PerMember(["sgd"] * 2), BatchedMLP(4, 2, seeds=range(3), width=8, depth=2))
    with pytest.raises(ValueError, match="unknown"):
        optimizers.create(optimizers.PerMember(["sgd", "nonsense-opt", "sgd"]), model)
    with pytest.raises(ValueError, match="empty"):
        optimizers.PerMember([])


def test_a_non_batching_spec_falls_back_member_by_member():
    X, y = _data(2)
    spec = optimizers.PerMember(["pto:adabelief(lr=1e-3)", "pto:adabelief(lr=1e-2)"])
    if optimizers.supports_batching(spec):
        pytest.skip("adabelief is batched here")
    batched = BatchedMLP(6, 2, seeds=[1, 2], width=8, depth=2, dtype=torch.float64)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train_batched(batched, spec, X, y, order_seed=3, epochs=1, batch_size=16)
    assert not result.batched and any("one after another" in str(w.message) for w in caught)
