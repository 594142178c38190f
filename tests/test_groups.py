"""Tests for invariance.groups: group elements, their actions, inverses and seeding."""

import json
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from invariance import groups
from invariance.groups import GROUPS, DenseElement, MonomialElement, describe, from_dict, sample

ARCHITECTURE_NAMES = {
    "identity", "orthogonal", "special_orthogonal", "permutation", "sign_flip", "signed_permutation",
    "general_linear", "diagonal_scaling", "image_rot90", "image_flip", "image_shift", "label_permutation",
}
IMAGE_GROUPS = ("image_rot90", "image_flip", "image_shift")
# dense float64 round trips, M x vs X Mᵀ, etc.: measured ≤ 1e-14 for d ≤ 20, cond ≤ 16
DENSE_TOL = 1e-12


@st.composite
def elements(draw, names=tuple(GROUPS)):
    """(element, d) for any group, with a valid image_shape for image actions."""
    name = draw(st.sampled_from(names))
    seed = draw(st.integers(0, 2**32))
    options = {}
    if name in IMAGE_GROUPS:
        channels, height = draw(st.integers(1, 3)), draw(st.integers(1, 5))
        width = height if name == "image_rot90" else draw(st.integers(1, 5))
        if name == "image_shift" and height * width == 1:
            width = 2
        options["image_shape"] = (channels, height, width)
        d = channels * height * width
    else:
        d = draw(st.integers(1, 20))
    return sample(name, d, seed=seed, **options)


def _data(d, n=7, seed=0):
    return np.random.default_rng(seed).standard_normal((n, d))


def _one_line_error(excinfo):
    assert "\n" not in str(excinfo.value)


# ---------------------------------------------------------------------------
# algebra shared by every group


@settings(max_examples=60, deadline=None)
@given(elements())
def test_apply_matches_matrix_and_inverse_undoes_it(g):
    X = _data(g.d)
    M = g.matrix()
    Xg = g.apply(X)
    back = g.inverse().apply(Xg)
    if g.exact:
        np.testing.assert_array_equal(Xg, X @ M.T)
        np.testing.assert_array_equal(back, X)
    else:
        np.testing.assert_allclose(Xg, X @ M.T, rtol=0, atol=DENSE_TOL)
        np.testing.assert_allclose(back, X, rtol=0, atol=DENSE_TOL)
    np.testing.assert_allclose(g.inverse().matrix() @ M, np.eye(g.d), rtol=0, atol=DENSE_TOL)
    assert g.inverse().inverse() is g


@settings(max_examples=60, deadline=None)
@given(elements(), st.integers(0, 2**32))
def test_compose_matches_matrix_product(g, seed):
    h = sample(g.name, g.d, seed=seed, **g.to_dict()["options"])
    gh = g.compose(h)
    np.testing.assert_allclose(gh.matrix(), g.matrix() @ h.matrix(), rtol=0, atol=DENSE_TOL)
    X = _data(g.d)
    expected = g.apply(h.apply(X))
    if gh.exact:
        np.testing.assert_array_equal(gh.apply(X), expected)
    else:
        np.testing.assert_allclose(gh.apply(X), expected, rtol=0, atol=DENSE_TOL)
    assert isinstance(gh, MonomialElement) == (isinstance(g, MonomialElement) and isinstance(h, MonomialElement))


@settings(max_examples=60, deadline=None)
@given(elements())
def test_transported_first_layer_sees_the_same_preactivations(g):
    W = np.random.default_rng(1).standard_normal((3, 5, g.d))  # batched (K, h, d)
    X = _data(g.d)
    moved = g.transport_first_layer(W)
    assert moved.shape == W.shape
    np.testing.assert_allclose(moved @ g.apply(X).T, W @ X.T, rtol=0, atol=DENSE_TOL)
    np.testing.assert_allclose(moved, W @ g.inverse().matrix(), rtol=0, atol=DENSE_TOL)


@settings(max_examples=40, deadline=None)
@given(elements())
def test_record_recreates_a_bit_identical_element(g):
    record = json.loads(json.dumps(g.to_dict()))
    again = from_dict(record)
    assert type(again) is type(g) and again.name == g.name and again.d == g.d
    assert again.matrix().tobytes() == g.matrix().tobytes()
    X = _data(g.d)
    assert again.apply(X).tobytes() == g.apply(X).tobytes()


def test_records_of_inverses_and_compositions():
    g = sample("orthogonal", 6, seed=3)
    h = sample("signed_permutation", 6, seed=4)
    for element in (g.inverse(), g.compose(h), h.compose(g).inverse(), h.inverse().compose(h)):
        again = from_dict(json.loads(json.dumps(element.to_dict())))
        assert again.matrix().tobytes() == element.matrix().tobytes()
    assert g.compose(h).name == "orthogonal*signed_permutation"
    assert h.inverse().compose(h).name == "signed_permutation"


# ---------------------------------------------------------------------------
# orthogonal groups


@pytest.mark.parametrize("name", ["orthogonal", "special_orthogonal"])
@pytest.mark.parametrize("d", [1, 2, 3, 50])
def test_orthogonal_matrices_are_orthogonal(name, d):
    for seed in range(5):
        M = sample(name, d, seed=seed).matrix()
        np.testing.assert_allclose(M.T @ M, np.eye(d), rtol=0, atol=1e-12)
        np.testing.assert_allclose(M @ M.T, np.eye(d), rtol=0, atol=1e-12)


@pytest.mark.parametrize("d", [1, 2, 3, 8])
def test_special_orthogonal_has_determinant_one_and_orthogonal_has_both(d):
    special = [np.linalg.det(sample("special_orthogonal", d, seed=s).matrix()) for s in range(40)]
    np.testing.assert_allclose(special, 1.0, rtol=0, atol=1e-12)
    full = np.round([np.linalg.det(sample("orthogonal", d, seed=s).matrix()) for s in range(40)], 9)
    assert set(full) == {-1.0, 1.0}


def _first_entry_cdf(t, d):
    """CDF of one entry of a Haar O(d) matrix: a coordinate of a uniform unit
    vector, symmetric with square ~ Beta(1/2, (d-1)/2)."""
    return 0.5 + 0.5 * np.sign(t) * stats.beta.cdf(t**2, 0.5, (d - 1) / 2)


def _naive_qr(d, rng):
    """Negative control: QR without Mezzadri's sign correction (not Haar)."""
    q, _ = np.linalg.qr(rng.standard_normal((d, d)))
    return q


def _haar_rejections(matrices, d, n):
    """Names of the Haar-law checks that the sample of matrices fails.

    Entries M[0,0] and M[d-1,d-1] follow the exact law above (KS test); the
    trace of Haar O(d) has mean 0 and E[tr²] = 1, with Var(tr²) = 2 for d ≥ 4
    (Diaconis–Shahshahani), ≤ 2 for smaller d: 5-sigma z-tests.
    """
    alpha = 1e-3
    failed = []
    for label, entries in (("first", matrices[:, 0, 0]), ("last", matrices[:, -1, -1])):
        if stats.kstest(entries, lambda t: _first_entry_cdf(t, d)).pvalue < alpha:
            failed.append(f"ks_{label}")
    trace = np.trace(matrices, axis1=1, axis2=2)
    if abs(trace.mean()) > 5 / np.sqrt(n):
        failed.append("trace_mean")
    if abs((trace**2).mean() - 1) > 5 * np.sqrt(2 / n):
        failed.append("trace_second_moment")
    return failed


@pytest.mark.parametrize("d", [2, 3, 10])
def test_orthogonal_sampler_is_haar_and_naive_qr_is_not(d):
    n = 2000
    rng = np.random.default_rng(2024)
    haar = np.stack([sample("orthogonal", d, rng=rng).matrix() for _ in range(n)])
    assert _haar_rejections(haar, d, n) == []
    rng = np.random.default_rng(2024)
    naive = np.stack([_naive_qr(d, rng) for _ in range(n)])
    assert "ks_first" in _haar_rejections(naive, d, n)
    # The exported helper must agree with the sampler (same draws, same matrix).
    np.testing.assert_array_equal(
        groups.haar_orthogonal(d, np.random.default_rng(5)), sample("orthogonal", d, seed=5).matrix()
    )


@pytest.mark.parametrize("d", [2, 5])
def test_special_orthogonal_first_column_is_uniform_on_the_sphere(d):
    rng = np.random.default_rng(7)
    entries = [sample("special_orthogonal", d, rng=rng).matrix()[0, 0] for _ in range(2000)]
    assert stats.kstest(entries, lambda t: _first_entry_cdf(t, d)).pvalue > 1e-3


# ---------------------------------------------------------------------------
# other continuous groups


def test_general_linear_singular_values_and_exact_factor_inverse():
    for kappa in (1.0, 4.0, 10.0):
        g = sample("general_linear", 30, seed=1, kappa=kappa)
        singular_values = np.linalg.svd(g.matrix(), compute_uv=False)
        assert singular_values.max() <= kappa * (1 + 1e-12) and singular_values.min() >= (1 - 1e-12) / kappa
        np.testing.assert_allclose(g.inverse().matrix() @ g.matrix(), np.eye(30), rtol=0, atol=DENSE_TOL)
    default = np.linalg.svd(sample("general_linear", 200, seed=1).matrix(), compute_uv=False)
    assert 1.0 < default.max() <= 4.0 and 0.25 <= default.min() < 1.0
    # log-uniform on [-log 4, log 4]: mean 0, sd 0.80, so the sample mean of 200 has sd 0.057
    assert abs(np.log(default).mean()) < 0.2


def test_diagonal_scaling_range_and_positivity():
    g = sample("diagonal_scaling", 1000, seed=0, low=0.5, high=2.0)
    assert isinstance(g, MonomialElement) and not g.exact
    np.testing.assert_array_equal(g.perm, np.arange(1000))
    assert g.scales.min() >= 0.5 and g.scales.max() <= 2.0
    assert g.scales.min() < 0.55 and g.scales.max() > 1.8  # log-uniform spreads over the range
    assert abs(np.log(g.scales).mean()) < 0.1


# ---------------------------------------------------------------------------
# permutation types: indexing, never a dense matrix


def test_permutation_types_never_build_a_matrix(monkeypatch):
    def forbidden(self, dtype=np.float64):
        raise AssertionError("matrix() called")

    monkeypatch.setattr(MonomialElement, "matrix", forbidden)
    d = 10**6  # a dense float64 matrix would need 8 TB
    X = np.random.default_rng(0).standard_normal((2, d))
    p = sample("permutation", d, seed=1)
    s = sample("sign_flip", d, seed=2)
    sp = sample("signed_permutation", d, seed=3)
    np.testing.assert_array_equal(p.apply(X), X[:, p.perm])
    np.testing.assert_array_equal(s.apply(X), X * s.scales)
    for g in (p, s, sp, p.compose(s), sp.inverse()):
        np.testing.assert_array_equal(g.inverse().apply(g.apply(X)), X)
        # (W M⁻¹)(M x) = W x term by term: the products w_j x_j are only reordered
        products = np.sort(g.transport_first_layer(X) * g.apply(X[:1]), axis=-1)
        np.testing.assert_array_equal(products, np.sort(X * X[:1], axis=-1))
    composed = sp.compose(p)
    assert isinstance(composed, MonomialElement) and composed.exact
    np.testing.assert_array_equal(composed.apply(X), sp.apply(p.apply(X)))
    Xt = torch.from_numpy(X[:, :1000].copy()).float()
    small = sample("signed_permutation", 1000, seed=4)
    assert torch.equal(small.apply(Xt), torch.from_numpy(small.apply(X[:, :1000].astype(np.float32))))


def test_sign_flip_and_permutation_samplers_draw_the_whole_group():
    signs = sample("sign_flip", 10_000, seed=0).scales
    assert set(np.unique(signs)) == {-1.0, 1.0} and abs(signs.mean()) < 0.05
    perm = sample("permutation", 10_000, seed=0).perm
    assert sorted(perm) == list(range(10_000)) and (perm == np.arange(10_000)).mean() < 0.01


def test_integer_inputs_work_for_exact_actions_only():
    X = np.arange(12, dtype=np.int64).reshape(2, 6)
    g = sample("signed_permutation", 6, seed=0)
    assert g.apply(X).dtype == np.int64
    np.testing.assert_array_equal(g.apply(X), (X @ g.matrix(np.int64).T))
    with pytest.raises(TypeError, match="floating"):
        sample("orthogonal", 6, seed=0).apply(X)
    with pytest.raises(TypeError, match="floating"):
        sample("diagonal_scaling", 6, seed=0).apply(X)


# ---------------------------------------------------------------------------
# numpy / torch, dtypes


@pytest.mark.parametrize("name", sorted(ARCHITECTURE_NAMES - set(IMAGE_GROUPS)))
def test_numpy_and_torch_inputs_keep_type_and_dtype(name):
    g = sample(name, 9, seed=11)
    X = _data(9)
    for dtype, torch_dtype in ((np.float64, torch.float64), (np.float32, torch.float32)):
        # exact actions agree bit for bit; matrix products differ between BLAS
        # kernels by a few ulps (measured ≤ 4 eps for d = 9, |x| ≤ 3)
        tol = 0.0 if g.exact else 5 * np.finfo(dtype).eps
        Xn = X.astype(dtype)
        out_numpy = g.apply(Xn)
        assert isinstance(out_numpy, np.ndarray) and out_numpy.dtype == dtype
        out_torch = g.apply(torch.from_numpy(Xn))
        assert isinstance(out_torch, torch.Tensor) and out_torch.dtype == torch_dtype
        np.testing.assert_allclose(out_torch.numpy(), out_numpy, rtol=0, atol=tol * 10)
        # applied in the input's dtype: the float64 matrix cast once to it
        np.testing.assert_allclose(out_numpy, Xn @ g.matrix(dtype).T, rtol=0, atol=tol * 10)
        moved = g.transport_first_layer(torch.from_numpy(Xn))
        assert isinstance(moved, torch.Tensor) and moved.dtype == torch_dtype
        assert np.array_equal(g.apply(Xn), out_numpy)  # repeated calls (cached cast) are identical
    X_before = X.copy()
    g.apply(X)
    np.testing.assert_array_equal(X, X_before)  # the input is never modified


def test_torch_autograd_flows_through_apply():
    X = torch.randn(4, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0), requires_grad=True)
    for name in ("orthogonal", "signed_permutation"):
        g = sample(name, 5, seed=0)
        (grad,) = torch.autograd.grad(g.apply(X).sum(), X)
        np.testing.assert_allclose(grad.numpy(), np.ones((4, 5)) @ g.matrix(), rtol=0, atol=DENSE_TOL)


def test_elements_pickle_without_their_caches():
    g = sample("orthogonal", 4, seed=0)
    g.apply(torch.zeros(1, 4))
    again = pickle.loads(pickle.dumps(g))
    assert again._operand_cache == {} and again.matrix().tobytes() == g.matrix().tobytes()


# ---------------------------------------------------------------------------
# seeding


def test_seeding_is_reproducible_and_rng_is_accepted():
    a = sample("general_linear", 7, seed=42)
    b = sample("general_linear", 7, seed=42)
    assert a.matrix().tobytes() == b.matrix().tobytes()
    assert a.matrix().tobytes() != sample("general_linear", 7, seed=43).matrix().tobytes()
    r1, r2 = np.random.default_rng(9), np.random.default_rng(9)
    x1, x2 = sample("orthogonal", 5, rng=r1), sample("orthogonal", 5, rng=r2)
    assert x1.matrix().tobytes() == x2.matrix().tobytes()
    y1 = sample("orthogonal", 5, rng=r1)  # the generator advances: a new element
    assert y1.matrix().tobytes() != x1.matrix().tobytes()
    # an rng-drawn element records its seed and can be re-created from it
    assert from_dict(y1.to_dict()).matrix().tobytes() == y1.matrix().tobytes()
    assert isinstance(y1.to_dict()["seed"], int)


def test_deterministic_choices_need_no_seed():
    X = _data(4)
    np.testing.assert_array_equal(sample("identity", 4).apply(X), X)
    np.testing.assert_array_equal(
        sample("image_rot90", 4, image_shape=(1, 2, 2), k=2).apply(X),
        np.rot90(X.reshape(-1, 1, 2, 2), 2, axes=(2, 3)).reshape(-1, 4),
    )


# ---------------------------------------------------------------------------
# image actions


def _images(shape, n=3, seed=0):
    return np.random.default_rng(seed).standard_normal((n, *shape))


def _act_on_images(g, images):
    n = images.shape[0]
    return g.apply(images.reshape(n, -1)).reshape(images.shape)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 4, 4), (3, 5, 5), (2, 6, 6)])
def test_rot90_matches_numpy_and_four_turns_are_the_identity(shape):
    images = _images(shape)
    d = int(np.prod(shape))
    for k in range(-1, 6):
        g = sample("image_rot90", d, image_shape=shape, k=k)
        np.testing.assert_array_equal(_act_on_images(g, images), np.rot90(images, k, axes=(2, 3)))
    quarter = sample("image_rot90", d, image_shape=shape, k=1)
    full_turn = quarter.compose(quarter).compose(quarter).compose(quarter)
    np.testing.assert_array_equal(full_turn.perm, np.arange(d))
    turned = images.reshape(3, -1)
    for _ in range(4):
        turned = quarter.apply(turned)
    np.testing.assert_array_equal(turned, images.reshape(3, -1))


def test_random_rot90_is_a_non_trivial_quarter_turn():
    images = _images((1, 4, 4))
    seen = set()
    for seed in range(30):
        out = _act_on_images(sample("image_rot90", 16, seed=seed, image_shape=(1, 4, 4)), images)
        matches = [k for k in range(4) if np.array_equal(out, np.rot90(images, k, axes=(2, 3)))]
        assert len(matches) == 1 and matches[0] != 0
        seen.add(matches[0])
    assert seen == {1, 2, 3}


@pytest.mark.parametrize("shape", [(1, 3, 5), (2, 4, 1), (3, 6, 6)])
def test_flip_matches_numpy(shape):
    images = _images(shape)
    d = int(np.prod(shape))
    for axis, image_axis in (("horizontal", 3), ("vertical", 2)):
        g = sample("image_flip", d, image_shape=shape, axis=axis)
        np.testing.assert_array_equal(_act_on_images(g, images), np.flip(images, axis=image_axis))
        assert g.compose(g).perm.tolist() == list(range(d))
    drawn = {sample("image_flip", d, seed=s, image_shape=shape).perm.tobytes() for s in range(20)}
    both = {sample("image_flip", d, image_shape=shape, axis=a).perm.tobytes() for a in ("horizontal", "vertical")}
    assert drawn == both


@pytest.mark.parametrize("shape", [(1, 3, 5), (2, 4, 4)])
def test_shift_matches_numpy_roll(shape):
    images = _images(shape)
    d = int(np.prod(shape))
    for shift in [(0, 0), (1, 0), (0, 2), (-1, 3), (7, -9)]:
        g = sample("image_shift", d, image_shape=shape, shift=shift)
        np.testing.assert_array_equal(_act_on_images(g, images), np.roll(images, shift, axis=(2, 3)))
    for seed in range(20):
        g = sample("image_shift", d, seed=seed, image_shape=shape)
        assert not np.array_equal(g.perm, np.arange(d))  # the zero shift is never drawn


def test_image_shape_errors_are_one_line():
    cases = [
        ("image_rot90", 12, {"image_shape": (1, 3, 4), "k": 1}, "square"),
        ("image_rot90", 16, {"image_shape": (1, 4, 5), "k": 1}, "C\\*H\\*W"),
        ("image_flip", 16, {}, "needs image_shape"),
        ("image_flip", 16, {"image_shape": (4, 4)}, "three positive ints"),
        ("image_flip", 16, {"image_shape": (1, 4, 4), "axis": "diagonal"}, "horizontal"),
        ("image_shift", 16, {"image_shape": (1, 0, 4)}, "three positive ints"),
        ("image_shift", 16, {"image_shape": (1, 4, 4), "shift": (1,)}, "pair of ints"),
        ("image_shift", 1, {"image_shape": (1, 1, 1)}, "non-zero shift"),
    ]
    for name, d, options, message in cases:
        with pytest.raises(ValueError, match=message) as excinfo:
            sample(name, d, seed=0, **options)
        _one_line_error(excinfo)


# ---------------------------------------------------------------------------
# label permutations


def test_label_permutation_is_consistent_on_labels_and_scores():
    classes = 10
    g = sample("label_permutation", classes, seed=5)
    assert g.acts_on == "outputs" and GROUPS["label_permutation"].acts_on == "outputs"
    rng = np.random.default_rng(0)
    y = rng.integers(0, classes, size=200)
    one_hot = np.eye(classes)[y]
    np.testing.assert_array_equal(g.apply(one_hot), np.eye(classes)[g.apply_labels(y)])
    probabilities = rng.dirichlet(np.ones(classes), size=200)
    np.testing.assert_array_equal(g.apply(probabilities).argmax(-1), g.apply_labels(probabilities.argmax(-1)))
    np.testing.assert_array_equal(g.inverse().apply_labels(g.apply_labels(y)), y)
    assert g.apply_labels(y).dtype == y.dtype
    y_torch = torch.from_numpy(y)
    assert torch.equal(g.apply_labels(y_torch), torch.from_numpy(g.apply_labels(y)))
    logits = torch.from_numpy(probabilities).float()
    assert torch.equal(g.apply(logits).argmax(-1), g.apply_labels(logits.argmax(-1)))
    assert not np.array_equal(g.apply_labels(np.arange(classes)), np.arange(classes))


def test_label_permutation_bad_input():
    g = sample("label_permutation", 4, seed=0)
    with pytest.raises(ValueError, match="0..3"):
        g.apply_labels(np.array([0, 4]))
    with pytest.raises(TypeError, match="integer"):
        g.apply_labels(np.array([0.0, 1.0]))
    with pytest.raises(TypeError, match="integer"):
        g.apply_labels(torch.tensor([0.0, 1.0]))
    with pytest.raises(TypeError, match="pure permutation"):
        sample("sign_flip", 4, seed=0).apply_labels(np.array([0, 1]))
    with pytest.raises(ValueError, match="acting on outputs"):
        g.compose(sample("permutation", 4, seed=0))


# ---------------------------------------------------------------------------
# registry and bad input


def test_registry_matches_the_architecture():
    assert set(GROUPS) == ARCHITECTURE_NAMES
    descriptions = describe()
    assert set(descriptions) == ARCHITECTURE_NAMES
    assert all(text and "\n" not in text for text in descriptions.values())
    for name, spec in GROUPS.items():
        assert spec.name == name and spec.acts_on in ("inputs", "outputs") and callable(spec.sampler)
    assert {n for n, s in GROUPS.items() if s.continuous} == {
        "orthogonal", "special_orthogonal", "general_linear", "diagonal_scaling"
    }
    assert GROUPS["general_linear"].options == ("kappa",)
    assert GROUPS["image_shift"].options == ("image_shape", "shift")
    assert isinstance(sample("orthogonal", 3, seed=0), DenseElement)


def test_bad_input_gives_one_line_errors():
    value_errors = [
        (lambda: sample("rotation", 3, seed=0), "accepted: identity, orthogonal"),
        (lambda: sample("orthogonal", 0, seed=0), "d must be"),
        (lambda: sample("orthogonal", -2, seed=0), "d must be"),
        (lambda: sample("orthogonal", 3), "pass seed"),
        (lambda: sample("orthogonal", 3, seed=-1), "seed must be"),
        (lambda: sample("orthogonal", 3, seed=0, rng=np.random.default_rng(0)), "not both"),
        (lambda: sample("orthogonal", 3, seed=0, kappa=2), "unknown options"),
        (lambda: sample("general_linear", 3, seed=0, kappa=0.5), "kappa must be"),
        (lambda: sample("diagonal_scaling", 3, seed=0, low=2, high=1), "low ≤ high"),
        (lambda: sample("diagonal_scaling", 3, seed=0, low=0), "low must be"),
        (lambda: sample("orthogonal", 3, seed=0).apply(np.zeros((2, 4))), r"\(\.\.\., 3\)"),
        (lambda: sample("permutation", 3, seed=0).apply(np.ones(())), r"\(\.\.\., 3\)"),
        (lambda: sample("orthogonal", 3, seed=0).compose(sample("orthogonal", 4, seed=0)), "different d"),
        (lambda: from_dict({"seed": 0}), "lacks keys"),
    ]
    for call, message in value_errors:
        with pytest.raises(ValueError, match=message) as excinfo:
            call()
        _one_line_error(excinfo)
    type_errors = [
        (lambda: sample("orthogonal", 2.0, seed=0), "d must be"),
        (lambda: sample("orthogonal", 3, rng=0), "numpy.random.Generator"),
        (lambda: sample("orthogonal", 3, seed=0).apply([[1.0, 2.0, 3.0]]), "numpy.ndarray or torch.Tensor"),
        (lambda: sample("orthogonal", 3, seed=0).compose(np.eye(3)), "GroupElement"),
    ]
    for call, message in type_errors:
        with pytest.raises(TypeError, match=message) as excinfo:
            call()
        _one_line_error(excinfo)
