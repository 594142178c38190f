"""Networks: a fully connected MLP and a small CNN, both seeded explicitly.

Both keep their weight layers, input layer first, in ``self.layers`` (an
``nn.ModuleList``), so optimizers see parameters in layer order and the
equivariance checker can reach the first layer (``model.first_layer``) to
transport an initialisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import skip_init

from learners.neural.initialisation import check_init, initialise_layers_
from learners.neural.validation import choice, positive_int, resolve_dtype, seed_int

SQRT2 = math.sqrt(2.0)


def relu_sqrt2(x: torch.Tensor) -> torch.Tensor:
    """ReLU scaled by √2, the nonlinearity of AGD's reference network.

    The factor keeps E[relu(z)²]·2 = E[z²] for symmetric z, so activations keep
    their scale through depth under the orthogonal initialisation.
    """
    return F.relu(x) * SQRT2


ACTIVATIONS = {"relu": F.relu, "relu_sqrt2": relu_sqrt2, "tanh": torch.tanh, "gelu": F.gelu}


def activation_function(name: str):
    """The element-wise function called ``name`` (one of ``ACTIVATIONS``)."""
    return ACTIVATIONS[choice("activation", name, tuple(ACTIVATIONS))]


def hidden_dims(in_features: int, out_features: int, width: int, depth: int) -> list[int]:
    """Layer sizes ``[d_0, …, d_L]`` of an MLP with ``depth`` weight layers."""
    return [in_features] + [width] * (depth - 1) + [out_features]



def _set_common_options(net: nn.Module, activation: str, bias, init: str, seed, dtype) -> torch.dtype:
    """Validate and store the options every network shares; return the torch dtype."""
    net.activation = activation
    net.act = activation_function(activation)
    net.bias = bool(bias)
    net.init = check_init(init)
    net.seed = seed_int("seed", seed)
    return resolve_dtype(dtype)


class MLP(nn.Module):
    """``Linear → act → … → Linear`` with ``depth`` weight layers of hidden ``width``.

    ``depth=1`` is a linear model. ``init`` is one of
    :data:`learners.neural.initialisation.INITS`; ``seed`` alone fixes the
    initial parameters (a local generator is used).
    """

    def __init__(self, in_features: int, out_features: int, *, width: int = 1024, depth: int = 2,
                 activation: str = "relu", bias: bool = True, init: str = "torch-default",
                 seed: int = 0, dtype=torch.float32):
        super().__init__()
        self.in_features = positive_int("in_features", in_features)
        self.out_features = positive_int("out_features", out_features)
        self.width = positive_int("width", width)
        self.depth = positive_int("depth", depth)
        dtype = _set_common_options(self, activation, bias, init, seed, dtype)
        dims = hidden_dims(self.in_features, self.out_features, self.width, self.depth)
        self.layers = nn.ModuleList(
            skip_init(nn.Linear, d_in, d_out, bias=self.bias, dtype=dtype)
            for d_in, d_out in zip(dims[:-1], dims[1:])
        )
        initialise_layers_(self.layers, self.init, self.seed)

    @property
    def first_layer(self) -> nn.Linear:
        return self.layers[0]

    def architecture(self) -> dict:
        """The constructor arguments that fix the shapes and the function class."""
        return dict(in_features=self.in_features, out_features=self.out_features, width=self.width,
                    depth=self.depth, activation=self.activation, bias=self.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        *hidden, output = self.layers  # unpacking, unlike slicing a ModuleList, builds no module
        for layer in hidden:
            x = self.act(layer(x))
        return output(x)


def conv_output_size(size: int, kernel_size: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel_size) // stride + 1


class SmallCNN(nn.Module):
    """Strided convolutions then one linear layer, for images of ``input_shape = (C, H, W)``.

    Each convolution has stride 2 and "same" padding, followed by the
    activation; there is no pooling, so every layer is a weight layer and the
    initialisation schemes apply to all of them (a kernel counts as a
    ``C_out × C_in·k·k`` matrix). Inputs may be ``(N, C, H, W)`` or flattened
    rows ``(N, C·H·W)``, so group actions on data matrices apply unchanged.
    """

    def __init__(self, input_shape, out_features: int, *, channels=(16, 32), kernel_size: int = 3,
                 activation: str = "relu", bias: bool = True, init: str = "torch-default",
                 seed: int = 0, dtype=torch.float32):
        super().__init__()
        if len(tuple(input_shape)) != 3:
            raise ValueError(f"input_shape must be (channels, height, width), got {input_shape!r}")
        self.input_shape = tuple(positive_int("input_shape entry", s) for s in input_shape)
        self.in_features = math.prod(self.input_shape)
        self.out_features = positive_int("out_features", out_features)
        self.channels = tuple(positive_int("channels entry", c) for c in channels)
        self.kernel_size = positive_int("kernel_size", kernel_size)
        dtype = _set_common_options(self, activation, bias, init, seed, dtype)
        padding = self.kernel_size // 2
        in_channels, height, width = self.input_shape
        layers = []
        for out_channels in self.channels:
            layers.append(skip_init(nn.Conv2d, in_channels, out_channels, self.kernel_size, stride=2,
                                    padding=padding, bias=self.bias, dtype=dtype))
            in_channels = out_channels
            height = conv_output_size(height, self.kernel_size, 2, padding)
            width = conv_output_size(width, self.kernel_size, 2, padding)
        layers.append(skip_init(nn.Linear, in_channels * height * width, self.out_features,
                                bias=self.bias, dtype=dtype))
        self.layers = nn.ModuleList(layers)
        initialise_layers_(self.layers, self.init, self.seed)

    @property
    def first_layer(self) -> nn.Conv2d:
        return self.layers[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.reshape(x.shape[0], *self.input_shape)
        *convolutions, output = self.layers
        for conv in convolutions:
            x = self.act(conv(x))
        return output(x.flatten(1))
