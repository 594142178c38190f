"""Networks, initialisations and losses of learners.neural."""

import copy
import math
import pickle

import pytest
import torch
import torch.nn.functional as F

from learners.neural import MLP, BatchedMLP, SmallCNN, make_loss
from learners.neural.initialisation import INITS, haar_semi_orthogonal


def singular_values(weight: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(weight.reshape(weight.shape[0], -1).double())


def test_depth_counts_weight_layers_and_width_sets_hidden_size():
    model = MLP(7, 3, width=11, depth=4)
    assert [tuple(layer.weight.shape) for layer in model.layers] == [(11, 7), (11, 11), (11, 11), (3, 11)]
    assert [tuple(layer.weight.shape) for layer in MLP(7, 3, width=11, depth=1).layers] == [(3, 7)]
    assert all(layer.bias is None for layer in MLP(7, 3, depth=3, bias=False).layers)
    assert model.first_layer is model.layers[0]


def test_seed_alone_fixes_the_network_and_global_rng_is_untouched():
    state = torch.get_rng_state()
    for init in INITS:
        a, b = MLP(5, 2, width=8, depth=3, init=init, seed=4), MLP(5, 2, width=8, depth=3, init=init, seed=4)
        c = MLP(5, 2, width=8, depth=3, init=init, seed=5)
        assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
        assert not torch.equal(a.layers[0].weight, c.layers[0].weight)
    SmallCNN((1, 6, 6), 2, seed=3)
    assert torch.equal(torch.get_rng_state(), state)


def test_float32_and_float64_networks_with_one_seed_agree_to_float32_rounding():
    single = MLP(6, 3, width=9, depth=3, init="orthogonal", seed=2, dtype="float32")
    double = MLP(6, 3, width=9, depth=3, init="orthogonal", seed=2, dtype=torch.float64)
    for p, q in zip(single.parameters(), double.parameters()):
        assert p.dtype == torch.float32 and q.dtype == torch.float64
        assert torch.equal(p, q.float())


def test_orthogonal_init_has_every_singular_value_sqrt_dout_over_din():
    model = MLP(30, 4, width=50, depth=3, init="orthogonal", bias=True, seed=0)
    for layer in model.layers:
        d_out, d_in = layer.weight.shape
        torch.testing.assert_close(singular_values(layer.weight),
                                   torch.full((min(d_out, d_in),), math.sqrt(d_out / d_in), dtype=torch.float64),
                                   rtol=1e-6, atol=0)
        assert torch.count_nonzero(layer.bias) == 0


def test_haar_semi_orthogonal_has_orthonormal_rows_or_columns_and_unbiased_signs():
    generator = torch.Generator().manual_seed(0)
    wide, tall = haar_semi_orthogonal(3, 8, generator), haar_semi_orthogonal(8, 3, generator)
    torch.testing.assert_close(wide @ wide.T, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-14)
    torch.testing.assert_close(tall.T @ tall, torch.eye(3, dtype=torch.float64), rtol=0, atol=1e-14)
    # Without the sign correction of QR, Q[0, 0] would be negative for every draw (LAPACK's
    # Householder convention); Haar makes it symmetric about zero.
    firsts = torch.stack([haar_semi_orthogonal(4, 4, generator)[0, 0] for _ in range(400)])
    assert 0.4 < (firsts > 0).double().mean() < 0.6


def test_gaussian_init_has_variance_one_over_fan_in():
    weight = MLP(400, 2, width=300, depth=2, init="gaussian", seed=1).layers[0].weight.double()
    # 120,000 entries: the sample variance is within 1.5 % of 1/400 with overwhelming probability.
    assert abs(weight.var().item() * 400 - 1) < 0.015
    assert abs(weight.mean().item()) < 4 / math.sqrt(weight.numel() * 400)


def test_torch_default_init_is_uniform_within_one_over_sqrt_fan_in():
    layer = MLP(64, 2, width=128, depth=2, init="torch-default", seed=1).layers[0]
    bound = 1 / math.sqrt(64)
    for values in (layer.weight, layer.bias):
        assert values.abs().max() <= bound and values.abs().max() > 0.95 * bound


def test_activations():
    x = torch.linspace(-3, 3, 13, dtype=torch.float64).reshape(1, 13)
    for name, expected in [("relu", F.relu(x)), ("relu_sqrt2", math.sqrt(2) * F.relu(x)),
                           ("tanh", torch.tanh(x)), ("gelu", F.gelu(x))]:
        model = MLP(13, 13, depth=2, width=13, activation=name, bias=False, dtype="float64")
        with torch.no_grad():
            for layer in model.layers:
                layer.weight.copy_(torch.eye(13))
        torch.testing.assert_close(model(x), expected, rtol=0, atol=1e-15)


@pytest.mark.parametrize("kwargs, error", [
    (dict(width=0), ValueError), (dict(depth=1.5), TypeError), (dict(activation="sigmoid"), ValueError),
    (dict(init="xavier"), ValueError), (dict(seed=-1), ValueError), (dict(dtype="float16"), ValueError),
])
def test_bad_arguments_get_one_line_errors(kwargs, error):
    with pytest.raises(error) as raised:
        MLP(3, 2, **kwargs)
    assert "\n" not in str(raised.value)


def test_cnn_accepts_images_or_flattened_rows_and_orthogonal_kernels_are_scaled():
    model = SmallCNN((3, 9, 7), 4, channels=(5, 6), init="orthogonal", seed=0, dtype="float64")
    images = torch.randn(2, 3, 9, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    assert model(images).shape == (2, 4)
    torch.testing.assert_close(model(images.flatten(1)), model(images), rtol=0, atol=0)
    for layer in model.layers:
        d_out = layer.weight.shape[0]
        fan_in = layer.weight[0].numel()
        torch.testing.assert_close(singular_values(layer.weight),
                                   torch.full((min(d_out, fan_in),), math.sqrt(d_out / fan_in), dtype=torch.float64))
    with pytest.raises(ValueError, match="input_shape"):
        SmallCNN((9, 7), 4)


def test_square_loss_is_agd_convention_and_cross_entropy_is_torch():
    outputs = torch.randn(5, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    labels = torch.tensor([0, 2, 1, 1, 0])
    square = make_loss("mse")
    targets = square.prepare_targets(labels, 3, torch.float64)
    torch.testing.assert_close(targets.sum(1), torch.full((5,), math.sqrt(3), dtype=torch.float64))
    expected = sum((outputs[i, c] - math.sqrt(3) * (c == int(labels[i]))) ** 2 for i in range(5) for c in range(3)) / 15
    torch.testing.assert_close(square(outputs, targets), expected, rtol=1e-15, atol=0)
    torch.testing.assert_close(make_loss("cross_entropy")(outputs, labels), F.cross_entropy(outputs, labels))
    with pytest.raises(ValueError, match="accepted: cross_entropy, mse"):
        make_loss("hinge")


@pytest.mark.parametrize("name", ["mse", "cross_entropy"])
def test_losses_reduce_per_member_for_stacked_outputs(name):
    loss = make_loss(name)
    outputs = torch.randn(4, 6, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    labels = torch.tensor([0, 1, 2, 2, 1, 0])
    targets = loss.prepare_targets(labels, 3, torch.float64)
    per_member = loss(outputs, targets)  # targets shared by all members (broadcast)
    assert per_member.shape == (4,)
    for k in range(4):
        torch.testing.assert_close(per_member[k], loss(outputs[k], targets), rtol=1e-15, atol=0)


def test_batched_member_k_is_the_network_of_seed_k():
    seeds = [3, 7, 11]
    for init in INITS:
        batched = BatchedMLP(6, 4, width=10, depth=3, init=init, seeds=seeds, dtype="float64")
        for k, seed in enumerate(seeds):
            alone = MLP(6, 4, width=10, depth=3, init=init, seed=seed, dtype="float64")
            member = batched.member(k)
            assert all(torch.equal(p, q) for p, q in zip(member.parameters(), alone.parameters()))
    x = torch.randn(3, 5, 6, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    outputs = batched(x)
    shared = batched(x[0])  # one set of rows for every member
    for k in range(3):
        torch.testing.assert_close(outputs[k], batched.member(k)(x[k]), rtol=0, atol=1e-14)
        torch.testing.assert_close(shared[k], batched.member(k)(x[0]), rtol=0, atol=1e-14)


def test_batched_parameters_are_tagged_and_keep_the_tag_through_copies():
    batched = BatchedMLP(4, 2, width=5, depth=2, seeds=[0, 1])
    shapes = [tuple(p.shape) for p in batched.parameters()]
    assert shapes == [(2, 5, 4), (2, 5), (2, 2, 5), (2, 2)]
    for clone in (batched, copy.deepcopy(batched), pickle.loads(pickle.dumps(batched)), batched.to(torch.float64)):
        assert [p.batch_dims for p in clone.parameters()] == [1, 1, 1, 1]


def test_from_members_set_member_and_member_round_trip():
    members = [MLP(4, 3, width=6, depth=2, seed=s, dtype="float64") for s in (5, 6)]
    batched = BatchedMLP.from_members(members)
    assert batched.num_members == 2 and batched.seeds == [5, 6]
    replacement = MLP(4, 3, width=6, depth=2, seed=9, dtype="float64")
    batched.set_member(1, replacement)
    assert all(torch.equal(p, q) for p, q in zip(batched.member(1).parameters(), replacement.parameters()))
    assert all(torch.equal(p, q) for p, q in zip(batched.member(0).parameters(), members[0].parameters()))
    with pytest.raises(ValueError, match="one architecture"):
        BatchedMLP.from_members([members[0], MLP(4, 3, width=7, depth=2)])
    with pytest.raises(ValueError, match=r"member index must be in \[0, 2\)"):
        batched.member(2)
