"""K independent MLPs held as one batched network.

Layer ``l`` of all K members is one weight tensor of shape ``(K, d_out, d_in)``
(bias ``(K, d_out)``) applied with ``torch.baddbmm``; every such parameter is a
:class:`BatchedParameter`, which carries ``batch_dims = 1`` so optimizers
compute norms and other summaries per member (see ARCHITECTURE.md, "Batched
parameters"). Member ``k`` is initialised exactly as ``MLP(..., seed=seeds[k])``.
"""

from __future__ import annotations

import numbers

import torch
from torch import nn

from learners.neural.models import MLP, activation_function


class BatchedParameter(nn.Parameter):
    """An ``nn.Parameter`` whose leading dimension indexes independent networks.

    ``batch_dims`` is both a class attribute (kept by ``copy.deepcopy``, which
    rebuilds the subclass) and an instance attribute (kept by pickling, which
    rebuilds a plain ``Parameter`` with the instance's ``__dict__``).
    """

    batch_dims = 1

    def __new__(cls, data: torch.Tensor, requires_grad: bool = True):
        parameter = super().__new__(cls, data, requires_grad)
        parameter.batch_dims = 1
        return parameter


class BatchedLinear(nn.Module):
    """K linear maps ``x_k ↦ x_k W_kᵀ + b_k`` on inputs of shape ``(K, B, d_in)``."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor | None):
        super().__init__()
        self.weight = BatchedParameter(weight)
        self.bias = None if bias is None else BatchedParameter(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weight_t = self.weight.transpose(1, 2)
        if self.bias is None:
            return torch.bmm(x, weight_t)
        return torch.baddbmm(self.bias.unsqueeze(1), x, weight_t)


class BatchedMLP(nn.Module):
    """K MLPs of one architecture, one per seed, evaluated as a single computation.

    ``forward`` takes ``(K, B, d_in)`` (one minibatch per member) or
    ``(B, d_in)`` (the same rows for every member) and returns ``(K, B, C)``.
    """

    def __init__(self, in_features: int, out_features: int, *, seeds, width: int = 1024,
                 depth: int = 2, activation: str = "relu", bias: bool = True,
                 init: str = "torch-default", dtype=torch.float32):
        seeds = list(seeds)
        if not seeds:
            raise ValueError("seeds must list at least one seed (one per member)")
        members = [MLP(in_features, out_features, width=width, depth=depth, activation=activation,
                       bias=bias, init=init, seed=seed, dtype=dtype) for seed in seeds]
        super().__init__()
        self._adopt(members)

    @classmethod
    def from_members(cls, members) -> "BatchedMLP":
        """Stack already-initialised MLPs of one architecture (e.g. transported ones)."""
        members = list(members)
        if not members or not all(isinstance(m, MLP) for m in members):
            raise TypeError("from_members needs a non-empty sequence of MLP instances")
        architectures = {tuple(sorted(m.architecture().items())) for m in members}
        if len(architectures) != 1:
            raise ValueError("from_members needs MLPs of one architecture; got several: "
                             f"{sorted(architectures)}")
        batched = cls.__new__(cls)
        nn.Module.__init__(batched)
        batched._adopt(members)
        return batched

    def _adopt(self, members: list[MLP]) -> None:
        """Stack the members' parameters; record their architecture, seeds and (common) init."""
        architecture = members[0].architecture()
        for name, value in architecture.items():
            setattr(self, name, value)
        self.act = activation_function(self.activation)
        self.num_members = len(members)
        self.seeds = [m.seed for m in members]
        self.init = members[0].init if len({m.init for m in members}) == 1 else None
        self.layers = nn.ModuleList(
            BatchedLinear(
                torch.stack([m.layers[i].weight.detach() for m in members]).clone(),
                None if not self.bias else torch.stack([m.layers[i].bias.detach() for m in members]).clone(),
            )
            for i in range(len(members[0].layers))
        )

    def _with_layers(self, layers: list[tuple[torch.Tensor, torch.Tensor | None]], seeds: list) -> "BatchedMLP":
        """A network of this architecture holding the given (weight, bias) stacks (copied)."""
        batched = type(self).__new__(type(self))
        nn.Module.__init__(batched)
        for name, value in self.architecture().items():
            setattr(batched, name, value)
        batched.act, batched.init, batched.seeds, batched.num_members = self.act, self.init, list(seeds), len(seeds)
        batched.layers = nn.ModuleList(BatchedLinear(w.detach().clone(), None if b is None else b.detach().clone())
                                       for w, b in layers)
        return batched

    def repeated(self, times: int) -> "BatchedMLP":
        """``times`` copies of every member, copy-major: member j·K + k is copy j of member k
        (e.g. one copy per learning rate of a grid, each starting from the same initialisation)."""
        layers = [(layer.weight.repeat(times, 1, 1), None if layer.bias is None else layer.bias.repeat(times, 1))
                  for layer in self.layers]
        return self._with_layers(layers, self.seeds * times)

    def select(self, members) -> "BatchedMLP":
        """The members at the given indices (in that order), as a new batched network."""
        index = torch.as_tensor(list(members), dtype=torch.long, device=self.layers[0].weight.device)
        layers = [(layer.weight[index], None if layer.bias is None else layer.bias[index]) for layer in self.layers]
        return self._with_layers(layers, [self.seeds[int(k)] for k in index])

    @property
    def first_layer(self) -> BatchedLinear:
        return self.layers[0]

    def architecture(self) -> dict:
        return dict(in_features=self.in_features, out_features=self.out_features, width=self.width,
                    depth=self.depth, activation=self.activation, bias=self.bias)

    def _member_index(self, k: int) -> int:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"member index must be an integer, got {k!r}")
        if not 0 <= k < self.num_members:
            raise ValueError(f"member index must be in [0, {self.num_members}), got {k}")
        return int(k)

    def member(self, k: int) -> MLP:
        """A detached copy of member ``k`` as an ordinary :class:`MLP`."""
        k = self._member_index(k)
        # The cheap scheme allocates the layers; every value is overwritten below.
        mlp = MLP(**self.architecture(), init="torch-default", seed=self.seeds[k],
                  dtype=self.layers[0].weight.dtype)
        mlp.init = self.init
        with torch.no_grad():
            for batched_layer, layer in zip(self.layers, mlp.layers):
                layer.weight.copy_(batched_layer.weight[k])
                if self.bias:
                    layer.bias.copy_(batched_layer.bias[k])
        return mlp.to(self.layers[0].weight.device)

    @torch.no_grad()
    def set_member(self, k: int, mlp: MLP) -> None:
        """Overwrite member ``k``'s parameters with ``mlp``'s (same architecture)."""
        k = self._member_index(k)
        if mlp.architecture() != self.architecture():
            raise ValueError(f"set_member needs an MLP with architecture {self.architecture()}, "
                             f"got {mlp.architecture()}")
        for batched_layer, layer in zip(self.layers, mlp.layers):
            batched_layer.weight[k] = layer.weight
            if self.bias:
                batched_layer.bias[k] = layer.bias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 2:
            x = x.expand(self.num_members, *x.shape)
        *hidden, output = self.layers  # unpacking, unlike slicing a ModuleList, builds no module
        for layer in hidden:
            x = self.act(layer(x))
        return output(x)
