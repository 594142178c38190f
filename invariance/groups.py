"""Seeded group elements acting on the last axis of a data matrix.

An element g acts on rows: ``g.apply(X)`` maps each row x of X (shape (..., d))
to g·x = M x, i.e. X -> X Mᵀ. Two representations share one interface:

* :class:`MonomialElement` (permutation type): g·x = s ⊙ x[perm], i.e.
  M = diag(s) P with P[i, perm[i]] = 1 (a generalised permutation matrix).
  Identity, permutations, sign flips, signed permutations, positive diagonal
  scalings, image actions (pixel permutations) and label permutations are of
  this type. They are applied by indexing and multiplication; a d×d matrix is
  built only when :meth:`GroupElement.matrix` is asked. With s ∈ {±1} every
  operation is exact in floating point.
* :class:`DenseElement`: g·x = M x with M and M⁻¹ stored in float64 (M⁻¹ from
  the factors: Mᵀ for orthogonal M, V diag(1/s) Uᵀ for M = U diag(s) Vᵀ) and
  cast once per input dtype/device.

Elements come from :func:`sample` (name, d, seed or rng, options); the same
arguments give a bit-identical element, and :meth:`GroupElement.to_dict`
records them so :func:`from_dict` re-creates the element exactly.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from invariance import image_groups

__all__ = [
    "GROUPS",
    "DenseElement",
    "GroupElement",
    "GroupSpec",
    "MonomialElement",
    "describe",
    "from_dict",
    "haar_orthogonal",
    "sample",
]

ACTS_ON = ("inputs", "outputs")


# ---------------------------------------------------------------------------
# array helpers (numpy or torch; torch is never imported here: a tensor input
# means torch is already loaded)


def _is_torch(X) -> bool:
    torch = sys.modules.get("torch")
    return torch is not None and isinstance(X, torch.Tensor)


def _check_operand(X, d: int, what: str) -> None:
    if _is_torch(X) or isinstance(X, np.ndarray):
        shape = tuple(X.shape)
    else:
        raise TypeError(
            f"{what} must be a numpy.ndarray or torch.Tensor of shape (..., {d}), got {type(X).__name__}"
        )
    if len(shape) == 0 or shape[-1] != d:
        raise ValueError(f"{what} must have shape (..., {d}) (last axis = d), got shape {shape}")


def _is_inexact(X) -> bool:
    if _is_torch(X):
        return X.is_floating_point() or X.is_complex()
    return np.issubdtype(X.dtype, np.inexact)


def _is_signed_integer(X) -> bool:
    if _is_torch(X):
        return X.is_signed() and not _is_inexact(X)
    return np.issubdtype(X.dtype, np.signedinteger)


def _dtype_name(X) -> str:
    return str(X.dtype)


# ---------------------------------------------------------------------------
# elements


class GroupElement:
    """One group element g acting on vectors of length d (see module docstring).

    Attributes: ``name`` (group name), ``d``, ``acts_on`` ("inputs" or "outputs"),
    ``exact`` (True when g and g⁻¹ are exact in floating point: permutations
    and sign flips).

    Subclasses implement ``exact``, ``_apply(X)`` and ``_transport(W)`` (called
    after the shape/type check), ``_make_inverse()`` and, for ``compose`` with
    a dense element, ``matrix()``.
    """

    name: str
    d: int
    acts_on: str

    def __init__(self, d: int, *, name: str, acts_on: str = "inputs"):
        if acts_on not in ACTS_ON:
            raise ValueError(f"acts_on must be one of {ACTS_ON}, got {acts_on!r}")
        self.d = int(d)
        self.name = name
        self.acts_on = acts_on
        self._record: dict | None = None
        self._inverse: GroupElement | None = None
        # operands cast to an input's backend/dtype/device, built once each
        self._operand_cache: dict = {}

    # -- public API ---------------------------------------------------------

    @property
    def exact(self) -> bool:
        raise NotImplementedError

    def apply(self, X):
        """Return g·X on the last axis: each row x -> M x (X Mᵀ); same type and dtype as X."""
        _check_operand(X, self.d, "X")
        return self._apply(X)

    def transport_first_layer(self, W):
        """Return W M⁻¹ for a first-layer weight W of shape (..., h, d).

        Then (W M⁻¹)(M x) = W x: a network whose first layer is transported
        computes on g·x what the original computes on x.
        """
        _check_operand(W, self.d, "W")
        return self._transport(W)

    def inverse(self) -> GroupElement:
        """The element g⁻¹ (cached; ``g.inverse().inverse()`` is g itself)."""
        if self._inverse is None:
            inverse = self._make_inverse()
            inverse.name, inverse.acts_on = self.name, self.acts_on
            inverse._record = None if self._record is None else {
                "name": self.name, "d": self.d, "inverse": self.to_dict()
            }
            inverse._inverse = self
            self._inverse = inverse
        return self._inverse

    def compose(self, other: GroupElement) -> GroupElement:
        """The element x -> self(other(x)), with matrix M_self M_other.

        Two permutation-type elements compose to a permutation-type element;
        any other pair falls back to a dense element.
        """
        if not isinstance(other, GroupElement):
            raise TypeError(f"compose expects a GroupElement, got {type(other).__name__}")
        if other.d != self.d:
            raise ValueError(f"cannot compose elements of different d: {self.d} and {other.d}")
        if other.acts_on != self.acts_on:
            raise ValueError(
                f"cannot compose an element acting on {self.acts_on} with one acting on {other.acts_on}"
            )
        if isinstance(self, MonomialElement) and isinstance(other, MonomialElement):
            composed = self._compose_monomial(other)
        else:
            composed = DenseElement(
                self.matrix() @ other.matrix(),
                other._inverse_matrix() @ self._inverse_matrix(),
                name="",
            )
        composed.name = self.name if self.name == other.name else f"{self.name}*{other.name}"
        composed.acts_on = self.acts_on
        if self._record is not None and other._record is not None:
            composed._record = {"name": composed.name, "d": self.d, "compose": [self.to_dict(), other.to_dict()]}
        return composed

    def matrix(self, dtype=np.float64) -> np.ndarray:
        """Dense d×d matrix M with g·x = M x (a new array; built only on request)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """JSON-able record from which :func:`from_dict` re-creates this element exactly.

        Sampled elements: {"name", "d", "seed", "options"}; inverses and
        compositions nest their parents' records under "inverse" / "compose".
        """
        if self._record is None:
            raise ValueError(
                f"element {self.name!r} was built directly, not by invariance.groups.sample(); it has no record"
            )
        return copy.deepcopy(self._record)

    # -- subclass hooks -----------------------------------------------------

    def _apply(self, X):
        raise NotImplementedError

    def _transport(self, W):
        raise NotImplementedError

    def _make_inverse(self) -> GroupElement:
        raise NotImplementedError

    def _inverse_matrix(self) -> np.ndarray:
        return self.inverse().matrix()

    def _operand(self, key: str, array: np.ndarray, X):
        """``array`` converted to X's backend, dtype and device (cached)."""
        if _is_torch(X):
            cache_key = (key, "torch", X.dtype, X.device)
        else:
            cache_key = (key, "numpy", X.dtype)
        operand = self._operand_cache.get(cache_key)
        if operand is None:
            if _is_torch(X):
                import torch

                operand = torch.from_numpy(np.array(array, order="C")).to(device=X.device, dtype=X.dtype)
            else:
                operand = np.ascontiguousarray(array, dtype=X.dtype)
            self._operand_cache[cache_key] = operand
        return operand

    def _index_operand(self, key: str, index: np.ndarray, X):
        """Integer index array on X's backend and device (cached)."""
        if _is_torch(X):
            cache_key = (key, "torch-index", X.device)
            operand = self._operand_cache.get(cache_key)
            if operand is None:
                import torch

                operand = torch.from_numpy(index.astype(np.int64)).to(X.device)
                self._operand_cache[cache_key] = operand
            return operand
        return index

    def __getstate__(self):
        # cached casts (possibly GPU tensors) are rebuilt on demand, not pickled
        state = self.__dict__.copy()
        state["_operand_cache"] = {}
        return state

    def __repr__(self) -> str:
        seed = None if self._record is None else self._record.get("seed")
        return f"<{type(self).__name__} {self.name!r} d={self.d} seed={seed}>"


class MonomialElement(GroupElement):
    """Permutation-type element g·x = s ⊙ x[perm] (M = diag(s) P, P[i, perm[i]] = 1).

    ``scales`` None means all ones (a pure permutation, exact for any dtype).
    """

    def __init__(self, perm, scales=None, *, name: str, acts_on: str = "inputs"):
        perm = np.asarray(perm)
        if perm.ndim != 1 or not np.issubdtype(perm.dtype, np.integer):
            raise ValueError(f"perm must be a 1-D integer array, got shape {perm.shape} dtype {perm.dtype}")
        d = perm.shape[0]
        if d < 1 or not np.array_equal(np.sort(perm), np.arange(d)):
            raise ValueError("perm must be a permutation of 0..d-1")
        if scales is not None:
            scales = np.asarray(scales, dtype=np.float64)
            if scales.shape != (d,) or not np.all(np.isfinite(scales)) or np.any(scales == 0):
                raise ValueError(f"scales must be {d} finite non-zero numbers")
            scales = scales.copy()
            scales.flags.writeable = False
        super().__init__(d, name=name, acts_on=acts_on)
        self._perm = perm.astype(np.intp, copy=True)
        self._perm.flags.writeable = False
        self._scales = scales
        self._is_identity = scales is None and bool(np.array_equal(self._perm, np.arange(d)))

    @property
    def perm(self) -> np.ndarray:
        """Read-only source indices: (g·x)[i] = scales[i] · x[perm[i]]."""
        return self._perm

    @property
    def scales(self) -> np.ndarray | None:
        """Read-only per-output-coordinate factors, or None for a pure permutation."""
        return self._scales

    @property
    def exact(self) -> bool:
        return self._scales is None or bool(np.all(np.abs(self._scales) == 1.0))

    def apply_labels(self, y):
        """Map integer class labels consistently with :meth:`apply` on a (..., C) score matrix.

        Coordinate c of a score vector moves to position perm⁻¹[c], so a label
        c becomes perm⁻¹[c]: ``argmax(g.apply(P)) == g.apply_labels(argmax(P))``
        and ``g.apply(one_hot(y)) == one_hot(g.apply_labels(y))``.
        """
        if self._scales is not None:
            raise TypeError(f"apply_labels needs a pure permutation; {self.name!r} also rescales coordinates")
        if _is_torch(y):
            import torch

            if y.is_floating_point() or y.is_complex() or y.dtype == torch.bool:
                raise TypeError(f"labels must be an integer tensor, got dtype {y.dtype}")
            labels_min, labels_max = (int(y.min()), int(y.max())) if y.numel() else (0, 0)
        elif isinstance(y, np.ndarray):
            if not np.issubdtype(y.dtype, np.integer):
                raise TypeError(f"labels must be an integer array, got dtype {y.dtype}")
            labels_min, labels_max = (int(y.min()), int(y.max())) if y.size else (0, 0)
        else:
            raise TypeError(f"labels must be a numpy.ndarray or torch.Tensor of ints, got {type(y).__name__}")
        if labels_min < 0 or labels_max >= self.d:
            raise ValueError(f"labels must lie in 0..{self.d - 1}, got range [{labels_min}, {labels_max}]")
        new_position = self._index_operand("inverse_perm", self._inverse_perm(), y)
        if _is_torch(y):
            return new_position[y.long()].to(y.dtype)
        return new_position[y].astype(y.dtype, copy=False)

    def matrix(self, dtype=np.float64) -> np.ndarray:
        M = np.zeros((self.d, self.d), dtype=dtype)
        M[np.arange(self.d), self._perm] = 1.0 if self._scales is None else self._scales
        return M

    # -- internals ----------------------------------------------------------

    def _inverse_perm(self) -> np.ndarray:
        inverse = np.empty_like(self._perm)
        inverse[self._perm] = np.arange(self.d)
        return inverse

    def _gather_scale(self, X, scales: np.ndarray | None, scales_key: str):
        if self._is_identity:
            return X.clone() if _is_torch(X) else X.copy()
        if _is_torch(X):
            out = X.index_select(-1, self._index_operand("perm", self._perm, X))
        else:
            out = np.take(X, self._perm, axis=-1)
        if scales is None:
            return out
        if not _is_inexact(X) and not (self.exact and _is_signed_integer(X)):
            raise TypeError(
                f"{self.name!r} rescales coordinates: it needs a floating input "
                f"(or signed integers for sign flips), got dtype {_dtype_name(X)}"
            )
        factors = self._operand(scales_key, scales, X)
        if _is_torch(X):
            return out * factors
        out *= factors
        return out

    def _apply(self, X):
        return self._gather_scale(X, self._scales, "scales")

    def _transport(self, W):
        # W M⁻¹ with M⁻¹ = Pᵀ diag(1/s): (W M⁻¹)[:, j] = W[:, perm[j]] / s[j]
        inverse_scales = None
        if self._scales is not None:
            inverse_scales = self._scales if self.exact else 1.0 / self._scales
        return self._gather_scale(W, inverse_scales, "inverse_scales")

    def _make_inverse(self) -> MonomialElement:
        # (M⁻¹ y)[j] = y[perm⁻¹[j]] / s[perm⁻¹[j]]
        inverse_perm = self._inverse_perm()
        scales = None
        if self._scales is not None:
            source_scales = self._scales[inverse_perm]
            scales = source_scales if self.exact else 1.0 / source_scales
        return MonomialElement(inverse_perm, scales, name=self.name, acts_on=self.acts_on)

    def _compose_monomial(self, other: MonomialElement) -> MonomialElement:
        # self(other(x))[i] = s[i] · t[perm[i]] · x[q[perm[i]]]
        perm = other._perm[self._perm]
        if self._scales is None and other._scales is None:
            scales = None
        else:
            own = np.ones(self.d) if self._scales is None else self._scales
            inner = np.ones(self.d) if other._scales is None else other._scales[self._perm]
            scales = own * inner
        return MonomialElement(perm, scales, name="", acts_on=self.acts_on)


class DenseElement(GroupElement):
    """Element with a dense float64 matrix M and its inverse (from the factors)."""

    def __init__(self, matrix, inverse_matrix, *, name: str, acts_on: str = "inputs"):
        matrix = np.array(matrix, dtype=np.float64)
        inverse_matrix = np.array(inverse_matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1] or matrix.shape[0] < 1:
            raise ValueError(f"matrix must be square d×d with d ≥ 1, got shape {matrix.shape}")
        if inverse_matrix.shape != matrix.shape:
            raise ValueError(f"inverse_matrix must have shape {matrix.shape}, got {inverse_matrix.shape}")
        super().__init__(matrix.shape[0], name=name, acts_on=acts_on)
        for array in (matrix, inverse_matrix):
            array.flags.writeable = False
        self._M = matrix
        self._M_inv = inverse_matrix

    @property
    def exact(self) -> bool:
        return False

    def matrix(self, dtype=np.float64) -> np.ndarray:
        return np.array(self._M, dtype=dtype)

    def _inverse_matrix(self) -> np.ndarray:
        return self._M_inv.copy()

    def _require_inexact(self, X) -> None:
        if not _is_inexact(X):
            raise TypeError(f"{self.name!r} is a dense matrix: it needs a floating input, got dtype {_dtype_name(X)}")

    def _apply(self, X):
        self._require_inexact(X)
        return X @ self._operand("M_transposed", self._M.T, X)

    def _transport(self, W):
        self._require_inexact(W)
        return W @ self._operand("M_inverse", self._M_inv, W)

    def _make_inverse(self) -> DenseElement:
        return DenseElement(self._M_inv, self._M, name=self.name, acts_on=self.acts_on)


# ---------------------------------------------------------------------------
# samplers


def haar_orthogonal(n: int, rng: np.random.Generator, *, special: bool = False) -> np.ndarray:
    """A Haar-distributed n×n orthogonal matrix (in SO(n) when ``special``), float64.

    QR of a standard Gaussian Z = QR, then Q ← Q diag(sign(diag R)) (Mezzadri
    2007): this makes the factorisation unique (R with positive diagonal), so
    Q inherits the left-invariance of Z's law, i.e. it is Haar. Without the
    sign fix Q depends on LAPACK's sign convention and is not Haar.
    For SO(n): if det Q = -1, negate the first column. Since det(AQ) = det Q
    for A ∈ SO(n), the map commutes with left multiplication by SO(n), so the
    result is Haar on SO(n).
    """
    gaussian = rng.standard_normal((n, n))
    q, r = np.linalg.qr(gaussian)
    q = q * np.sign(np.diag(r))  # diag(R) ≠ 0 almost surely
    if special and np.linalg.slogdet(q)[0] < 0:
        q[:, 0] = -q[:, 0]
    return q


def _require_rng(rng: np.random.Generator | None, group: str) -> np.random.Generator:
    if rng is None:
        raise ValueError(f"group {group!r} is random: pass seed=<int> or rng=<numpy.random.Generator>")
    return rng


def _identity(d, rng):
    return MonomialElement(np.arange(d), None, name="identity")


def _orthogonal(d, rng):
    q = haar_orthogonal(d, _require_rng(rng, "orthogonal"))
    return DenseElement(q, q.T, name="orthogonal")


def _special_orthogonal(d, rng):
    q = haar_orthogonal(d, _require_rng(rng, "special_orthogonal"), special=True)
    return DenseElement(q, q.T, name="special_orthogonal")


def _permutation(d, rng):
    return MonomialElement(_require_rng(rng, "permutation").permutation(d), None, name="permutation")


def _random_signs(d, rng) -> np.ndarray:
    return 1.0 - 2.0 * rng.integers(0, 2, size=d)


def _sign_flip(d, rng):
    return MonomialElement(np.arange(d), _random_signs(d, _require_rng(rng, "sign_flip")), name="sign_flip")


def _signed_permutation(d, rng):
    rng = _require_rng(rng, "signed_permutation")
    perm = rng.permutation(d)
    return MonomialElement(perm, _random_signs(d, rng), name="signed_permutation")


def _general_linear(d, rng, *, kappa=4.0):
    """M = U diag(s) Vᵀ, U, V Haar on O(d), log s uniform on [-log κ, log κ]; M⁻¹ = V diag(1/s) Uᵀ."""
    kappa = _positive_float(kappa, "general_linear", "kappa")
    if kappa < 1.0:
        raise ValueError(f"group 'general_linear': kappa must be ≥ 1, got {kappa}")
    rng = _require_rng(rng, "general_linear")
    left = haar_orthogonal(d, rng)
    right = haar_orthogonal(d, rng)
    singular_values = np.exp(rng.uniform(-np.log(kappa), np.log(kappa), size=d))
    matrix = (left * singular_values) @ right.T
    inverse = (right / singular_values) @ left.T
    return DenseElement(matrix, inverse, name="general_linear")


def _diagonal_scaling(d, rng, *, low=0.25, high=4.0):
    """Positive diagonal scales with log s uniform on [log low, log high]."""
    low = _positive_float(low, "diagonal_scaling", "low")
    high = _positive_float(high, "diagonal_scaling", "high")
    if low > high:
        raise ValueError(f"group 'diagonal_scaling': need low ≤ high, got low={low}, high={high}")
    scales = np.exp(_require_rng(rng, "diagonal_scaling").uniform(np.log(low), np.log(high), size=d))
    return MonomialElement(np.arange(d), scales, name="diagonal_scaling")


def _image_rot90(d, rng, *, image_shape=None, k=None):
    shape = image_groups.check_image_shape(image_shape, d, "image_rot90")
    if k is None:
        # a uniformly drawn quarter turn other than the identity (k = 0 tests nothing)
        k = int(_require_rng(rng, "image_rot90").integers(1, 4))
    elif not _is_int(k):
        raise ValueError(f"group 'image_rot90': k must be an int (quarter turns), got {k!r}")
    return MonomialElement(image_groups.rot90_source(shape, int(k)), None, name="image_rot90")


def _image_flip(d, rng, *, image_shape=None, axis=None):
    shape = image_groups.check_image_shape(image_shape, d, "image_flip")
    if axis is None:
        axis = image_groups.FLIP_AXES[int(_require_rng(rng, "image_flip").integers(0, 2))]
    return MonomialElement(image_groups.flip_source(shape, axis), None, name="image_flip")


def _image_shift(d, rng, *, image_shape=None, shift=None):
    shape = image_groups.check_image_shape(image_shape, d, "image_shift")
    _, height, width = shape
    if shift is None:
        if height * width == 1:
            raise ValueError("group 'image_shift': 1×1 images have no non-zero shift; pass shift=(0, 0)")
        # uniform over the H·W − 1 non-zero cyclic shifts
        flat = int(_require_rng(rng, "image_shift").integers(1, height * width))
        shift = (flat // width, flat % width)
    shift = image_groups.check_shift(shift)
    return MonomialElement(image_groups.shift_source(shape, shift), None, name="image_shift")


def _label_permutation(d, rng):
    perm = _require_rng(rng, "label_permutation").permutation(d)
    return MonomialElement(perm, None, name="label_permutation", acts_on="outputs")


def _positive_float(value, group: str, option: str) -> float:
    if not isinstance(value, numbers.Real) or isinstance(value, bool) or not np.isfinite(value) or value <= 0:
        raise ValueError(f"group {group!r}: {option} must be a finite positive number, got {value!r}")
    return float(value)


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


# ---------------------------------------------------------------------------
# registry


@dataclass(frozen=True)
class GroupSpec:
    """A named group: how to sample an element and what it acts on.

    ``continuous`` is True for rotation-type (Lie) groups, whose elements are
    dense matrices and act only up to rounding error; ``options`` are the
    keyword options its sampler accepts.
    """

    name: str
    description: str
    sampler: Callable[..., GroupElement]
    acts_on: str = "inputs"
    continuous: bool = False

    @property
    def options(self) -> tuple[str, ...]:
        parameters = inspect.signature(self.sampler).parameters.values()
        return tuple(p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY)


GROUPS: dict[str, GroupSpec] = {
    spec.name: spec
    for spec in [
        GroupSpec("identity", "identity map x -> x (control)", _identity),
        GroupSpec(
            "orthogonal",
            "Haar-random orthogonal matrix in O(d) (QR with Mezzadri's sign fix)",
            _orthogonal,
            continuous=True,
        ),
        GroupSpec("special_orthogonal", "Haar-random rotation in SO(d) (det +1)", _special_orthogonal, continuous=True),
        GroupSpec("permutation", "uniformly random permutation of the d coordinates", _permutation),
        GroupSpec("sign_flip", "independent random sign ±1 on each coordinate", _sign_flip),
        GroupSpec("signed_permutation", "random permutation then random sign flips (hyperoctahedral group)",
                  _signed_permutation),
        GroupSpec(
            "general_linear",
            "U diag(s) Vᵀ with U, V Haar and s log-uniform in [1/kappa, kappa] (option kappa=4)",
            _general_linear,
            continuous=True,
        ),
        GroupSpec(
            "diagonal_scaling",
            "positive per-coordinate scales, log-uniform in [low, high] (options low=0.25, high=4)",
            _diagonal_scaling,
            continuous=True,
        ),
        GroupSpec("image_rot90", "quarter-turn rotation of (C,H,W) images, H = W (options image_shape, k)",
                  _image_rot90),
        GroupSpec("image_flip", "left-right or up-down mirror of (C,H,W) images (options image_shape, axis)",
                  _image_flip),
        GroupSpec("image_shift", "non-zero cyclic shift of (C,H,W) images (options image_shape, shift=(dy, dx))",
                  _image_shift),
        GroupSpec("label_permutation", "random permutation of the d = C class labels (acts on outputs)",
                  _label_permutation, acts_on="outputs"),
    ]
}


def describe() -> dict[str, str]:
    """{group name: one-line description}, for ``symbench list groups``."""
    return {name: spec.description for name, spec in GROUPS.items()}


def sample(name: str, d: int, seed: int | None = None, rng: np.random.Generator | None = None, **options):
    """Draw an element of group ``name`` acting on vectors of length ``d``.

    Pass either ``seed`` (int ≥ 0) or ``rng`` (a numpy Generator, from which one
    seed is drawn and recorded). Same (name, d, seed, options) gives a
    bit-identical element. Deterministic choices (identity, or an image action
    with all options given) need neither.
    """
    spec = GROUPS.get(name) if isinstance(name, str) else None
    if spec is None:
        raise ValueError(f"unknown group {name!r}; accepted: {', '.join(GROUPS)}")
    if not _is_int(d):
        raise TypeError(f"d must be an int ≥ 1, got {type(d).__name__} {d!r}")
    if d < 1:
        raise ValueError(f"d must be an int ≥ 1, got {d}")
    unknown = sorted(set(options) - set(spec.options))
    if unknown:
        accepted = ", ".join(spec.options) or "none"
        raise ValueError(f"group {name!r} got unknown options {unknown}; accepted options: {accepted}")
    if rng is not None:
        if seed is not None:
            raise ValueError("pass either seed or rng, not both")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        seed = int(rng.integers(0, 2**63 - 1))
    if seed is not None and (not _is_int(seed) or seed < 0):
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    seed = None if seed is None else int(seed)
    generator = None if seed is None else np.random.default_rng(seed)
    element = spec.sampler(int(d), generator, **options)
    element._record = {"name": name, "d": int(d), "seed": seed, "options": _jsonable(options)}
    return element


def from_dict(record: Mapping) -> GroupElement:
    """Re-create an element from :meth:`GroupElement.to_dict` (bit-identical)."""
    if not isinstance(record, Mapping):
        raise TypeError(f"record must be a dict from GroupElement.to_dict(), got {type(record).__name__}")
    if "compose" in record:
        outer, inner = record["compose"]
        return from_dict(outer).compose(from_dict(inner))
    if "inverse" in record:
        return from_dict(record["inverse"]).inverse()
    missing = {"name", "d"} - set(record)
    if missing:
        raise ValueError(f"record lacks keys {sorted(missing)}; expected name, d, seed, options")
    return sample(record["name"], record["d"], seed=record.get("seed"), **dict(record.get("options") or {}))


def _jsonable(value):
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (str, bytes)):
        return value
    if isinstance(value, (Sequence, np.ndarray)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value
