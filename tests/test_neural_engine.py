"""The training engine learners.neural.train: schedule, metrics, divergence, reproducibility."""

import copy
import math

import numpy as np
import pytest
import torch

from learners.neural import MLP, SmallCNN, train
from learners.neural.minibatches import MinibatchOrder


def blobs(n=240, d=8, classes=3, seed=0, dtype=torch.float64):
    """Gaussian classes around seeded centres: learnable, not trivially separable."""
    generator = torch.Generator().manual_seed(seed)
    centres = 1.5 * torch.randn(classes, d, generator=generator, dtype=dtype)
    labels = torch.randint(0, classes, (n,), generator=generator)
    return centres[labels] + torch.randn(n, d, generator=generator, dtype=dtype), labels


def small_mlp(seed=0, **kwargs):
    options = dict(width=16, depth=2, dtype="float64", init="gaussian") | kwargs
    return MLP(8, 3, seed=seed, **options)


def parameters_equal(a, b):
    return all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_training_learns_and_reports_per_epoch_metrics():
    X, y = blobs(n=400)
    X, y, X_test, y_test = X[:240], y[:240], X[240:], y[240:]
    result = train(small_mlp(), "adam(lr=0.01)", X, y, order_seed=0, epochs=6, batch_size=32,
                   X_test=X_test, y_test=y_test)
    frame = result.to_frame()
    assert result.status == "ok" and result.diverged_at_step is None
    assert list(frame.epoch) == [1, 2, 3, 4, 5, 6]
    assert list(frame.step) == [8, 16, 24, 32, 40, 48] and result.steps == 48  # ceil(240 / 32) = 8 per epoch
    assert frame.train_loss.iloc[-1] < frame.train_loss.iloc[0] and frame.test_loss.iloc[-1] < frame.test_loss.iloc[0]
    assert result.final["test_acc"] > 0.8  # chance is 1/3
    assert frame[["holdout_loss", "holdout_acc"]].isna().all().all()


def test_running_train_metrics_are_the_sample_weighted_means_of_the_minibatches():
    X, y = blobs(n=50)
    # Plain SGD with lr 0: the model never changes, so the running means equal a full evaluation.
    running = train(small_mlp(), "sgd(lr=0.0)", X, y, order_seed=0, epochs=1, batch_size=16, loss="mse")
    full = train(small_mlp(), "sgd(lr=0.0)", X, y, order_seed=0, epochs=1, batch_size=16, loss="mse",
                 train_metrics="full")
    assert running.history["train_acc"] == full.history["train_acc"]
    assert math.isclose(running.history["train_loss"][0], full.history["train_loss"][0], rel_tol=1e-14)


def test_steps_end_in_a_partial_epoch_and_full_batch_is_batch_size_none():
    X, y = blobs(n=100)
    result = train(small_mlp(), "sgd", X, y, order_seed=0, steps=10, batch_size=25)
    assert result.history["step"] == [4, 8, 10] and result.steps == 10
    full_batch = train(small_mlp(), "sgd", X, y, order_seed=0, steps=3, batch_size=None)
    assert full_batch.history["step"] == [1, 2, 3]
    oversized = train(small_mlp(), "sgd", X, y, order_seed=0, steps=3, batch_size=1000)
    assert parameters_equal(full_batch.model, oversized.model)


def test_seeded_runs_are_bit_identical():
    X, y = blobs()
    runs = [train(small_mlp(seed=3, init="orthogonal"), "agd", X, y, order_seed=5, epochs=3, batch_size=32,
                  loss="mse", X_test=X, y_test=y) for _ in range(2)]
    assert parameters_equal(runs[0].model, runs[1].model)
    assert runs[0].to_frame().equals(runs[1].to_frame())  # NaN-aware, exact
    other_order = train(small_mlp(seed=3, init="orthogonal"), "agd", X, y, order_seed=6, epochs=3, batch_size=32,
                        loss="mse")
    assert not parameters_equal(runs[0].model, other_order.model)


def test_minibatch_order_depends_on_seed_and_row_count_only():
    first, second = MinibatchOrder(50, seed=9, holdout=0.2), MinibatchOrder(50, seed=9, holdout=0.2)
    assert torch.equal(first.holdout_rows, second.holdout_rows) and len(first.holdout_rows) == 10
    assert sorted(first.train_rows.tolist() + first.holdout_rows.tolist()) == list(range(50))
    for _ in range(3):
        order = first.next_epoch()
        assert torch.equal(order, second.next_epoch())
        assert sorted(order.tolist()) == first.train_rows.tolist()


def test_coupled_runs_on_rotated_data_agree_for_sgd():
    """The use the engine exists for: train on S from W1 and on M·S from W1·Mᵀ with one order.

    SGD's update is rotation equivariant, so the two networks agree as functions up to
    rounding; Adam's is not, so they differ. (The study itself lives in invariance/.)
    """
    X, y = blobs(n=170)
    X, y, X_test = X[:120], y[:120], X[120:]
    rotation, _ = torch.linalg.qr(torch.randn(8, 8, generator=torch.Generator().manual_seed(4), dtype=torch.float64))
    gaps = {}
    for spec in ("momentum(lr=0.05)", "adam(lr=0.01)"):
        original, transported = small_mlp(seed=1), small_mlp(seed=1)
        with torch.no_grad():
            transported.first_layer.weight.copy_(original.first_layer.weight @ rotation.T)
        a = train(original, spec, X, y, order_seed=3, epochs=5, batch_size=16).model
        b = train(transported, spec, X @ rotation.T, y, order_seed=3, epochs=5, batch_size=16).model
        with torch.no_grad():
            gaps[spec] = (a(X_test) - b(X_test @ rotation.T)).abs().max().item()
    # the checker's rule for a small floor (√ε): rounding amplified by less than 1/√ε
    assert gaps["momentum(lr=0.05)"] < torch.finfo(torch.float64).eps ** 0.5
    assert gaps["adam(lr=0.01)"] > 1e-4


def test_huge_learning_rate_diverges_at_the_exact_step_without_raising():
    X, y = blobs()
    result = train(small_mlp(), "sgd(lr=1e8)", X, y, order_seed=0, epochs=20, batch_size=32, loss="mse")
    assert result.status == "diverged"
    step = result.diverged_at_step
    assert isinstance(step, int) and 0 <= step < 8 * 20
    assert len(result.history["epoch"]) == step // 8 + 1  # the run stops at the end of that epoch
    assert math.isnan(result.history["train_loss"][-1])
    # Exactness: `step` steps leave every minibatch loss finite, one more does not.
    before = train(small_mlp(), "sgd(lr=1e8)", X, y, order_seed=0, steps=step, batch_size=32, loss="mse") \
        if step > 0 else None
    if before is not None:
        assert before.diverged_at_step in (None, step)  # parameters after `step` steps may already be inf
        assert all(np.isfinite(before.history["train_loss"]))
    after = train(small_mlp(), "sgd(lr=1e8)", X, y, order_seed=0, steps=step + 1, batch_size=32, loss="mse")
    assert after.status == "diverged" and after.diverged_at_step == step


def test_a_non_finite_initial_model_diverges_at_step_zero():
    X, y = blobs()
    model = small_mlp()
    with torch.no_grad():
        model.first_layer.weight[0, 0] = float("inf")
    result = train(model, "adam", X, y, order_seed=0, epochs=3, batch_size=32)
    assert (result.status, result.diverged_at_step, result.steps) == ("diverged", 0, 8)


def test_holdout_early_stopping_restores_the_best_epoch():
    X, y = blobs(n=80, d=8)
    X = X + 3 * torch.randn(X.shape, generator=torch.Generator().manual_seed(7), dtype=X.dtype)  # noisy: overfits
    model = small_mlp(width=64)
    result = train(model, "adam(lr=0.05)", X, y, order_seed=2, epochs=200, batch_size=16, holdout=0.25, patience=3)
    frame = result.to_frame()
    assert result.stopped_early and len(frame) < 200
    assert result.best_epoch == int(frame.epoch[frame.holdout_loss.idxmin()]) == len(frame) - 3
    holdout_rows = MinibatchOrder(80, seed=2, holdout=0.25).holdout_rows
    with torch.no_grad():
        loss = torch.nn.functional.cross_entropy(result.model(X[holdout_rows]), y[holdout_rows]).item()
    assert math.isclose(loss, result.final["holdout_loss"], rel_tol=1e-12)


def test_dtype_and_numpy_inputs_are_converted():
    X, y = blobs()
    model = small_mlp(dtype="float32")
    result = train(model, "sgd", X.numpy(), y.numpy(), order_seed=0, epochs=1, batch_size=64, dtype="float64")
    assert result.model is model and next(model.parameters()).dtype == torch.float64


def test_cnn_trains_on_flattened_images():
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(64, 1 * 8 * 8, generator=generator)
    labels = (images.reshape(64, 8, 8)[:, :4].sum((1, 2)) > 0).long()
    result = train(SmallCNN((1, 8, 8), 2, channels=(4, 8), seed=0), "adam(lr=0.01)", images, labels,
                   order_seed=0, epochs=10, batch_size=16)
    assert result.status == "ok" and result.history["train_acc"][-1] > 0.8


@pytest.mark.parametrize("kwargs, error, message", [
    (dict(epochs=None), ValueError, "exactly one of epochs and steps"),
    (dict(steps=5), ValueError, "exactly one of epochs and steps"),
    (dict(loss="hinge"), ValueError, "accepted: cross_entropy, mse"),
    (dict(batch_size=0), ValueError, "batch_size"),
    (dict(holdout=1.5), ValueError, "holdout"),
    (dict(train_metrics="exact"), ValueError, "accepted: running, full"),
    (dict(X_test=np.zeros((3, 8))), ValueError, "both X_test and y_test"),
    (dict(order_seed=-2), ValueError, "order_seed"),
    (dict(dtype="int64"), ValueError, "dtype"),
])
def test_bad_arguments_get_one_line_errors(kwargs, error, message):
    X, y = blobs(n=20)
    arguments = dict(order_seed=0, epochs=1) | kwargs
    with pytest.raises(error, match=message) as raised:
        train(small_mlp(), "sgd", X, y, **arguments)
    assert "\n" not in str(raised.value)


def test_bad_data_gets_one_line_errors():
    X, y = blobs(n=20)
    for data, message in [((X, y + 3), r"labels in 0..2"), ((X, y[:5]), "one label per row"),
                          ((X[0], y), "one row per sample"), ((X * math.nan, y), "non-finite"),
                          ((X, y.double()), "integer class labels")]:
        with pytest.raises((ValueError, TypeError), match=message):
            train(small_mlp(), "sgd", *data, order_seed=0, epochs=1)
    with pytest.raises(ValueError, match="unknown optimizer"):
        train(small_mlp(), "adma", X, y, order_seed=0, epochs=1)


def test_training_does_not_touch_global_rng():
    X, y = blobs()
    state = torch.get_rng_state()
    train(copy.deepcopy(small_mlp()), "adam", X, y, order_seed=0, epochs=2, batch_size=32, holdout=0.2)
    assert torch.equal(torch.get_rng_state(), state)
