"""Per-member losses and gradients of a batched ReLU MLP, by hand, in cache-sized chunks.

The sample-complexity study trains thousands of small networks (width 32, m ≤ ~1000 rows)
full batch. Autograd on the whole (K, m, w) batch is memory-bound there: every step
allocates the pre-activations, the ReLU output and their gradients at K·m·w floats each
(several MB, out of cache), and a ReLU pass over fresh memory costs more than the matmul
next to it. This module computes the same gradients with two ideas:

* **By hand, no autograd graph.** For layers z_l = h_{l−1} W_lᵀ + b_l, h_l = relu(z_l)
  (h_{−1} = x) and output f = z_{D−1} (one score), with per-member loss
  L = (1/m) Σ_i ℓ(f_i, y_i):

      δ_{D−1} = ∂L/∂f                      ℓ' for logistic: −s σ(−s f)/m, s = 2y − 1
                                                      square:   2 (f − y)/m
      ∂L/∂W_l = δ_lᵀ h_{l−1}     ∂L/∂b_l = Σ_i δ_l
      δ_{l−1} = (δ_l W_l) ⊙ 1{h_{l−1} > 0}     (``threshold_backward``, one fused pass)

  The ReLU runs in place on the matmul's output and no gradient of the input is formed.
* **Member chunks.** Members are independent, so they are processed c at a time with c
  chosen so that one chunk's activations (c·m·w floats) fit in a core's cache
  (``CHUNK_BYTES``): the elementwise passes then read cache, not memory.

The gradients are written into each parameter's ``.grad`` (allocated once and reused),
exactly those autograd would give for ``losses.sum()`` (``tests/test_relu_gradients.py``
compares them in float64). Only ReLU networks qualify (:func:`supports`); the caller
uses autograd for the others.
"""

from __future__ import annotations

import torch

from learners.neural.batched import BatchedMLP

#: bytes of one chunk's hidden activations; about half of a core's L2 cache (512 KB–1 MB
#: on the EPYC and Xeon machines here), measured fastest at width 32 (benchmarks/RESULTS.md)
CHUNK_BYTES = 512 * 1024


def supports(model) -> bool:
    """Whether :func:`losses_and_gradients` can train ``model``: a one-score ReLU BatchedMLP."""
    return isinstance(model, BatchedMLP) and model.activation == "relu" and model.out_features == 1


def chunk_size(model: BatchedMLP, rows: int) -> int:
    """Members per chunk: as many as keep one hidden activation within ``CHUNK_BYTES``."""
    per_member = rows * max(model.width, 1) * model.layers[0].weight.element_size()
    return max(1, min(model.num_members, CHUNK_BYTES // max(per_member, 1)))


@torch.no_grad()
def losses_and_gradients(model: BatchedMLP, X: torch.Tensor, y: torch.Tensor, loss: str,
                         members: torch.Tensor | None = None) -> torch.Tensor:
    """Each member's mean loss on its rows, X (K, m, d), y (K, m) -> (K,), with the gradients
    of their sum stored in the parameters' ``.grad``. ``loss``: ``logistic`` (y in {0, 1})
    or ``square``. Needs :func:`supports`.

    ``members`` (indices, ascending) restricts the work to those members, for a batch whose
    other members have finished: X and y then hold only their rows (A, m, d) and (A, m),
    the others' losses are 0 and their gradients zero."""
    weights = [layer.weight for layer in model.layers]
    biases = [layer.bias for layer in model.layers]
    for p in model.parameters():
        if p.grad is None or p.grad.shape != p.shape:
            p.grad = torch.empty_like(p)
    if members is None:
        return _chunked(model, weights, biases, [w.grad for w in weights],
                        [None if b is None else b.grad for b in biases], X, y, loss)
    gathered = [w[members] for w in weights], [None if b is None else b[members] for b in biases]
    grads = [torch.empty_like(w) for w in gathered[0]], [None if b is None else torch.empty_like(b)
                                                          for b in gathered[1]]
    part = _chunked(model, *gathered, *grads, X, y, loss)
    for p, g in zip(weights + biases, grads[0] + grads[1]):
        if p is not None:
            p.grad.zero_().index_copy_(0, members, g)
    losses = torch.zeros(model.num_members, dtype=X.dtype, device=X.device)
    return losses.index_copy_(0, members, part)


def _chunked(model, weights, biases, weight_grads, bias_grads, X, y, loss: str) -> torch.Tensor:
    """The losses of the members held in ``weights``/``biases`` (first axis), their gradients
    written into ``weight_grads``/``bias_grads``, c members at a time."""
    K, m = X.shape[0], X.shape[1]
    losses = torch.empty(K, dtype=X.dtype, device=X.device)
    step = chunk_size(model, m)
    for start in range(0, K, step):
        c = slice(start, min(start + step, K))
        # forward, keeping each layer's input
        inputs = [X[c]]
        for l, (W, b) in enumerate(zip(weights, biases)):
            Wt = W[c].transpose(1, 2)
            z = torch.bmm(inputs[-1], Wt) if b is None else torch.baddbmm(b[c].unsqueeze(1), inputs[-1], Wt)
            if l < len(weights) - 1:
                inputs.append(z.relu_())
        f = z[..., 0]
        delta = _loss_and_score_gradient(f, y[c], loss, losses[c], m).unsqueeze(-1)  # (c, m, 1)
        # backward
        for l in range(len(weights) - 1, -1, -1):
            torch.bmm(delta.transpose(1, 2), inputs[l], out=weight_grads[l][c])
            if biases[l] is not None:
                torch.sum(delta, dim=1, out=bias_grads[l][c])
            if l > 0:
                delta = torch.ops.aten.threshold_backward(torch.bmm(delta, weights[l][c]), inputs[l], 0)
    return losses


def _loss_and_score_gradient(f: torch.Tensor, y: torch.Tensor, loss: str, out: torch.Tensor, m: int) -> torch.Tensor:
    """Write each member's mean loss into ``out``; return ∂(Σ losses)/∂f (same shape as f)."""
    if loss == "logistic":
        margin = (2 * y - 1) * f                         # s·f
        torch.mean(torch.nn.functional.softplus(-margin), dim=-1, out=out)
        return torch.sigmoid(-margin).mul_((1 - 2 * y) / m)   # −s σ(−s f)/m
    if loss == "square":
        residual = f - y
        torch.mean(residual.square(), dim=-1, out=out)
        return residual.mul_(2 / m)
    raise ValueError(f"loss must be one of logistic, square; got {loss!r}")
