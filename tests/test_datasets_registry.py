"""The registry: the always-available datasets (digits, mnist1d), split/subsample/standardise/transform
options, provenance, reproducibility, bad input, and the data folder rules."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from invariance import groups
from studies.datasets import DATASETS, DataNotFoundError, DatasetError, available, describe, load
from studies.datasets.mnist1d import MNIST1DConfig, generate
from studies.datasets.preprocess import stratified_indices
from tests.test_datasets_formats import write_idx_folder

F64 = {"dtype": "float64"}


def test_describe_lists_every_dataset_in_one_line():
    names = describe()
    assert list(names) == ["digits", "mnist1d", "mnist", "fashion-mnist", "cifar10"]
    assert all(text and "\n" not in text for text in names.values())


@pytest.mark.parametrize("name, shape, sizes", [("digits", (1, 8, 8), (1438, 359)), ("mnist1d", (1, 40), (4000, 1000))])
def test_builtin_datasets_always_load(name, shape, sizes):
    ds = load(name)
    assert (ds.n_train, ds.n_test) == sizes and ds.input_shape == shape and ds.n_classes == 10
    assert ds.X_train.dtype == torch.float32 and ds.y_train.dtype == torch.int64
    assert tuple(ds.X_train.shape) == (sizes[0], *shape) and tuple(ds.X_test.shape) == (sizes[1], *shape)
    assert set(ds.y_train.tolist()) == set(range(10))
    assert torch.isfinite(ds.X_train).all() and torch.isfinite(ds.X_test).all()
    assert name in ds.summary() and str(sizes[0]) in ds.summary()


def test_digits_are_scikit_learns_images_scaled_to_unit_interval():
    from sklearn.datasets import load_digits

    ds = load("digits", standardize="none", **F64)
    pixels = np.concatenate([ds.X_train.numpy(), ds.X_test.numpy()]).reshape(-1, 64)
    labels = np.concatenate([ds.y_train.numpy(), ds.y_test.numpy()])
    reference = load_digits()
    order = np.lexsort(np.column_stack([pixels, labels]).T)
    reference_order = np.lexsort(np.column_stack([reference.data / 16.0, reference.target]).T)
    np.testing.assert_array_equal(pixels[order], reference.data[reference_order] / 16.0)
    np.testing.assert_array_equal(labels[order], reference.target[reference_order])
    assert "no official train/test split" in ds.notes[0]


def test_mnist1d_reproduces_the_reference_package_bit_for_bit():
    mnist1d_data = pytest.importorskip("mnist1d.data", reason="the optional mnist1d package is not installed")
    numpy_state, python_state = np.random.get_state(), random.getstate()
    try:  # the reference seeds numpy's global RNG; restore it for the rest of the session
        reference = mnist1d_data.make_dataset(mnist1d_data.get_dataset_args())
        args = mnist1d_data.get_dataset_args()
        args.num_samples, args.seed, args.shuffle_seq = 1000, 7, True
        shuffled_reference = mnist1d_data.make_dataset(args)
    finally:
        np.random.set_state(numpy_state)
        random.setstate(python_state)
    ours = generate()
    for our_key, their_key in (("x_train", "x"), ("y_train", "y"), ("x_test", "x_test"), ("y_test", "y_test")):
        np.testing.assert_array_equal(ours[our_key], reference[their_key])
    shuffled = generate(MNIST1DConfig(num_samples=1000, seed=7, shuffle_seq=True))
    np.testing.assert_array_equal(shuffled["x_train"], shuffled_reference["x"])


def test_mnist1d_load_is_the_generator_output_and_leaves_global_rng_alone():
    numpy_state, python_state, torch_state = np.random.get_state(), random.getstate(), torch.get_rng_state()
    ds = load("mnist1d", standardize="none", n_samples=1000, generator_seed=3, **F64)
    assert np.array_equal(np.random.get_state()[1], numpy_state[1]) and random.getstate() == python_state
    assert torch.equal(torch.get_rng_state(), torch_state)
    data = generate(MNIST1DConfig(num_samples=1000, seed=3))
    np.testing.assert_array_equal(ds.X_train.numpy()[:, 0, :], data["x_train"])
    np.testing.assert_array_equal(ds.y_test.numpy(), data["y_test"])
    assert "num_samples=1000, seed=3" in ds.provenance["source"]


def test_loads_are_reproducible_and_seeds_matter():
    first, again = load("digits", seed=4), load("digits", seed=4)
    assert torch.equal(first.X_train, again.X_train) and torch.equal(first.y_test, again.y_test)
    other = load("digits", seed=5)
    assert not torch.equal(first.y_train, other.y_train)


def test_float32_is_the_float64_load_rounded():
    single, double = load("digits", seed=1), load("digits", seed=1, **F64)
    assert double.X_train.dtype == torch.float64
    assert torch.equal(single.X_train, double.X_train.float()) and torch.equal(single.X_test, double.X_test.float())


@pytest.mark.parametrize("mode", ["global", "channel", "feature"])
def test_standardisation_uses_training_statistics(mode):
    ds = load("digits", standardize=mode, **F64)
    X = ds.X_train.numpy().reshape(ds.n_train, -1)
    if mode == "feature":
        std = X.std(axis=0)
        constant = std == 0  # digits has always-blank corner pixels: they map to 0
        assert constant.any() and np.all(X[:, constant] == 0)
        np.testing.assert_allclose(X.mean(axis=0), 0, atol=1e-13)
        np.testing.assert_allclose(std[~constant], 1, rtol=1e-12)
    else:
        np.testing.assert_allclose(X.mean(), 0, atol=1e-13)
        np.testing.assert_allclose(X.std(), 1, rtol=1e-12)
        record = ds.provenance["standardize"]
        raw = load("digits", standardize="none", **F64).X_train.numpy()
        np.testing.assert_allclose(record["mean"], [raw.mean()], rtol=1e-14)
    # the test set is standardised with the training statistics, not its own
    assert abs(float(ds.X_test.mean())) > 1e-6


def test_channel_standardisation_of_one_channel_signals():
    ds_raw = load("mnist1d", standardize="none", **F64)
    ds = load("mnist1d", standardize="channel", **F64)
    raw = ds_raw.X_train.numpy()
    np.testing.assert_allclose(ds.X_train.numpy(), (raw - raw.mean()) / raw.std(), rtol=1e-12, atol=1e-14)


def test_subsampling_is_stratified_seeded_and_independent_per_split():
    full = load("mnist1d", seed=2)
    small = load("mnist1d", seed=2, n_train=500, n_test=100)
    counts = np.bincount(small.y_train.numpy(), minlength=10)
    expected = np.bincount(full.y_train.numpy(), minlength=10) * 500 / full.n_train
    assert counts.sum() == 500 and np.all(np.abs(counts - expected) < 1)
    # changing n_test does not change which training examples are drawn
    other = load("mnist1d", seed=2, n_train=500, n_test=200)
    assert torch.equal(small.X_train, other.X_train)
    assert small.provenance["subsample"] == {"n_train": 500, "n_test": 100, "rule": "stratified, seeded"}
    with pytest.raises(DatasetError, match="n_train=5000 exceeds the 4000 examples available"):
        load("mnist1d", n_train=5000)


def test_stratified_indices_partition_and_proportions():
    labels = np.repeat(np.arange(3), [50, 30, 20])
    first, rest = stratified_indices(labels, 33, np.random.default_rng(0))
    assert len(first) == 33 and np.array_equal(np.sort(np.concatenate([first, rest])), np.arange(100))
    # exact shares 16.5, 9.9, 6.6 -> floors 16, 9, 6 and the two spare slots to the largest remainders
    assert np.bincount(labels[first]).tolist() == [16, 10, 7]
    assert np.all(np.diff(first) > 0)


@settings(max_examples=60, deadline=None)
@given(
    counts=st.lists(st.integers(0, 40), min_size=1, max_size=6).filter(lambda c: sum(c) > 0),
    share=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_stratified_indices_properties(counts, share, seed):
    labels = np.random.default_rng(seed).permutation(np.repeat(np.arange(len(counts)), counts))
    n_first = int(round(share * len(labels)))
    first, rest = stratified_indices(labels, n_first, np.random.default_rng(seed))
    assert len(first) == n_first and np.array_equal(np.sort(np.concatenate([first, rest])), np.arange(len(labels)))
    taken = np.bincount(labels[first], minlength=len(counts))
    assert np.all(np.abs(taken - np.array(counts) * n_first / len(labels)) < 1)


def test_holdout_split_of_a_dataset_with_an_official_split():
    ds = load("mnist1d", split="holdout", holdout_fraction=0.5)
    assert (ds.n_train, ds.n_test) == (500, 500)
    assert "split='holdout' leaves the official training set unused" in ds.notes[-1]
    with pytest.raises(DataNotFoundError, match="digits: split='official' needs the training split"):
        load("digits", split="official")


@pytest.mark.parametrize("group", ["orthogonal", "permutation", "sign_flip"])
def test_transform_applies_a_seeded_group_element_to_every_input(group):
    plain = load("digits", seed=1, **F64)
    moved = load("digits", seed=1, transform=group, transform_seed=3, **F64)
    element = groups.sample(group, 64, seed=3)
    for original, transformed in ((plain.X_train, moved.X_train), (plain.X_test, moved.X_test)):
        expected = element.apply(original.numpy().reshape(len(original), 64)).reshape(original.shape)
        np.testing.assert_array_equal(transformed.numpy(), expected)
    assert torch.equal(plain.y_train, moved.y_train)
    record = moved.provenance["transform"]
    assert record["group"] == group and record["seed"] == 3 and record["element"] == element.to_dict()
    np.testing.assert_array_equal(groups.from_dict(record["element"]).matrix(), element.matrix())
    # an orthogonal change of basis keeps every norm (to rounding)
    norms = [torch.linalg.vector_norm(ds.X_train, dim=(1, 2, 3)) for ds in (moved, plain)]
    np.testing.assert_allclose(norms[0], norms[1], rtol=1e-12)


def test_transform_seed_defaults_to_the_seed_and_image_actions_get_the_shape():
    moved = load("digits", seed=6, transform="image_rot90", transform_options={"k": 1}, **F64)
    plain = load("digits", seed=6, **F64)
    assert moved.provenance["transform"]["seed"] == 6
    np.testing.assert_array_equal(moved.X_train.numpy(), np.rot90(plain.X_train.numpy(), 1, axes=(2, 3)))


def test_transform_refuses_output_groups_and_unknown_names():
    with pytest.raises(DatasetError, match="acts on outputs"):
        load("digits", transform="label_permutation")
    with pytest.raises(DatasetError, match="unknown transform 'rotate'; accepted: identity, orthogonal"):
        load("digits", transform="rotate")
    with pytest.raises(DatasetError, match="image_shape|acts on \\(C, H, W\\) images"):
        load("mnist1d", transform="image_rot90")


@pytest.mark.parametrize(
    "kwargs, error, phrase",
    [
        ({"name": "imagenet"}, DatasetError, "unknown dataset 'imagenet'; accepted: digits, mnist1d"),
        ({"split": "random"}, DatasetError, "unknown split 'random'; accepted: auto, official, holdout"),
        ({"standardize": "l2"}, DatasetError, "unknown standardize mode 'l2'; accepted: none, global"),
        ({"dtype": "float16"}, DatasetError, "unknown dtype 'float16'; accepted: float32, float64"),
        ({"seed": -1}, DatasetError, "seed must be an int ≥ 0, got -1"),
        ({"seed": 1.5}, TypeError, "seed must be an int ≥ 0"),
        ({"n_train": 0}, DatasetError, "n_train must be an int ≥ 1"),
        ({"holdout_fraction": 1.0}, DatasetError, "holdout_fraction must be a number in (0, 1)"),
        ({"format": "binary"}, DatasetError, "digits got unknown options ['format']; its own options: none"),
        ({"transform_options": {"k": 1}}, DatasetError, "transform_options given without a transform"),
    ],
)
def test_bad_arguments_give_one_line_errors(kwargs, error, phrase):
    kwargs = {"name": "digits", **kwargs}
    with pytest.raises(error) as caught:
        load(**kwargs)
    assert phrase in str(caught.value) and "\n" not in str(caught.value)


def test_mnist1d_options_are_checked():
    with pytest.raises(DatasetError, match="mnist1d n_samples must be an int ≥ 10"):
        load("mnist1d", n_samples=5)


def test_file_datasets_need_a_data_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("SYMBENCH_DATA", raising=False)
    with pytest.raises(DataNotFoundError, match=r"pass data_dir=... or set \$SYMBENCH_DATA"):
        load("mnist")
    assert not available("mnist") and available("digits")
    with pytest.raises(DataNotFoundError, match="mnist: test files not found"):
        load("mnist", tmp_path)
    with pytest.raises(DataNotFoundError, match="does not exist"):
        load("cifar10", tmp_path / "nowhere")
    write_idx_folder(tmp_path / "mnist", np.random.default_rng(0), n_train=None, n_test=50)
    monkeypatch.setenv("SYMBENCH_DATA", str(tmp_path))
    assert available("mnist") and not available("fashion-mnist")
    assert load("mnist").n_test == 10


def test_torchvision_layout_is_recognised(tmp_path):
    write_idx_folder(tmp_path / "MNIST" / "raw", np.random.default_rng(0), n_train=30, n_test=20, gz=False)
    ds = load("mnist", tmp_path)
    assert (ds.n_train, ds.n_test) == (30, 20) and "MNIST/raw" in ds.provenance["source"]


def test_provenance_is_json_serialisable():
    import json

    ds = load("digits", n_train=100, transform="orthogonal", transform_seed=1)
    assert json.loads(json.dumps(ds.provenance)) == ds.provenance
    expected = {"dataset", "source", "files", "split", "scaling", "transform", "dtype", "notes", "seed"}
    assert set(ds.provenance) >= expected


def test_registry_options_match_readers():
    assert DATASETS["mnist1d"].options == ("n_samples", "generator_seed")
    assert DATASETS["cifar10"].options == ("format",)
    assert DATASETS["mnist"].options == ()
