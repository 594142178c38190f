"""Neural sample learners (issue 10): the batched full-batch trainer and mlp:SPEC.

* a batched member equals its network trained alone (float64, same data, same spec);
* members with different data stay independent;
* a diverging member does not stop its batch;
* the hold-out selection picks the step size a direct search (each value trained alone) would."""

import numpy as np
import pytest
import torch

import optimizers
from learners import sample
from learners.neural import BatchedMLP
from learners.neural.fullbatch import train_full_batch

K, M, P, D = 4, 24, 10, 5
SPECS = ["sgd(lr=0.5)", "adam(lr=0.01)", "agd(gain=1.0)", "layers: [adam(lr=0.01), sgd(lr=0.5)]"]


def _data(seed):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(K, M + P, D, generator=g, dtype=torch.float64)
    y = (X[..., 0] > 0).double()
    return X[:, :M], y[:, :M], X[:, M:], y[:, M:]


def _net(seeds):
    return BatchedMLP(D, 1, seeds=seeds, width=8, depth=2, init="gaussian", dtype=torch.float64)


def _train(model, spec, data, **options):
    return train_full_batch(model, spec, *data, loss="logistic", steps=options.pop("steps", 40), eval_every=5,
                            patience=options.pop("patience", 3), **options)


@pytest.mark.parametrize("spec_index", range(len(SPECS)))
def test_a_batched_member_equals_its_network_trained_alone(spec_index):
    data = _data(0)
    specs = [SPECS[(spec_index + k) % len(SPECS)] for k in range(K)]
    batched = _train(_net(range(K)), optimizers.PerMember(specs), data)
    for k in range(K):
        alone = _train(_net([k]), specs[k], [t[k:k + 1] for t in data])
        assert alone.best_step[0] == batched.best_step[k] and alone.status[0] == batched.status[k]
        for p_alone, p_batched in zip(alone.model.parameters(), batched.model.parameters()):
            torch.testing.assert_close(p_batched[k], p_alone[0], rtol=1e-10, atol=1e-12,
                                       msg=f"member {k} ({specs[k]}) differs from its network trained alone")


def test_members_with_different_data_stay_independent():
    data = _data(1)
    changed = [t.clone() for t in data]
    changed[0][2] = -changed[0][2]   # member 2's inputs and labels change, nobody else's
    changed[1][2] = 1 - changed[1][2]
    a = _train(_net(range(K)), "adam(lr=0.01)", data)
    b = _train(_net(range(K)), "adam(lr=0.01)", changed)
    for pa, pb in zip(a.model.parameters(), b.model.parameters()):
        for k in (0, 1, 3):
            assert torch.equal(pa[k], pb[k]), f"member {k} moved when member 2's data changed"
        assert not torch.equal(pa[2], pb[2])


def test_a_diverging_member_does_not_stop_its_batch():
    data = _data(2)
    specs = ["sgd(lr=0.5)", "sgd(lr=1e30)", "sgd(lr=0.5)", "sgd(lr=0.2)"]
    result = train_full_batch(_net(range(K)), optimizers.PerMember(specs), *data, loss="square", steps=30,
                              eval_every=5, patience=100)
    assert list(result.status) == ["ok", "diverged", "ok", "ok"]
    assert 0 < result.diverged_at[1] <= 5 and result.steps[0] == 30
    for k in (0, 2, 3):
        alone = train_full_batch(_net([k]), specs[k], *[t[k:k + 1] for t in data], loss="square", steps=30,
                                 eval_every=5, patience=100)
        for p_alone, p_batched in zip(alone.model.parameters(), result.model.parameters()):
            torch.testing.assert_close(p_batched[k], p_alone[0], rtol=1e-10, atol=1e-12)


def test_the_holdout_selection_picks_what_a_direct_search_would():
    g = torch.Generator().manual_seed(3)
    X = torch.randn(5, 40, D, generator=g, dtype=torch.float64)
    y = (X[..., 0] + 0.3 * torch.randn(5, 40, generator=g, dtype=torch.float64) > 0).double()
    grid = [0.1, 1.0, 10.0]
    learner = sample.make("mlp:sgd", width=8, grid=grid, steps=60, eval_every=5, patience=3, dtype="float64")
    seeds = [11, 12, 13, 14, 15]
    fit = learner.fit(X, y, "classification", seed=seeds)
    X_fit, y_fit, X_hold, y_hold = learner.split(X, y)
    for t in range(5):
        scores = []
        for factor in grid:   # the direct search: each grid value trained alone on trial t
            net = BatchedMLP(D, 1, seeds=[seeds[t]], width=8, depth=2, init="gaussian", dtype=torch.float64)
            r = train_full_batch(net, f"sgd(lr={0.1 * factor!r})", X_fit[t:t + 1], y_fit[t:t + 1],
                                 X_hold[t:t + 1], y_hold[t:t + 1], loss="logistic", steps=60, eval_every=5,
                                 patience=3)
            scores.append((r.best_metric[0], r.best_loss[0]))
        best = min(range(len(grid)), key=lambda i: (scores[i][0], scores[i][1], i))
        assert fit.selected["lr"][t] == pytest.approx(0.1 * grid[best]), f"trial {t}: {scores}"
        assert fit.selected["lr_at_edge"][t] == (best in (0, len(grid) - 1))
    assert fit.predict(X).shape == (5, 40) and list(fit.status) == ["ok"] * 5


def test_mlp_learner_names_and_bad_input():
    assert sample.is_known("mlp:adam") and sample.is_known("mlp:layers: [adam, sgd]")
    assert not sample.is_known("mlp:")
    with pytest.raises(ValueError, match="unknown optimizer|unknown"):
        sample.make("mlp:nonsense-optimizer")
    with pytest.raises(ValueError, match="grid must be"):
        sample.make("mlp:sgd", grid=[-1.0])
    with pytest.raises(ValueError, match="unknown option 'wdth'"):
        sample.make("mlp:sgd", wdth=3)
    learner = sample.make("mlp:agd")
    assert learner.step_sizes[0].startswith("agd(gain=")
    with pytest.raises(ValueError, match="seed must be an int or a list of 2 ints"):
        learner.fit(np.zeros((2, 10, 3)), np.zeros((2, 10)), seed=[1, 2, 3])
