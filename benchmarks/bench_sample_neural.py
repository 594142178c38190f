"""Benchmark: the neural part of the sample-complexity study, batched against a plain loop.

One study cell (T trials × a grid of L step sizes = K networks, each on its own training set,
full batch, a fixed number of steps, hold-out evaluated every ``eval_every`` steps) trained
(a) as one batched computation (``learners.neural.fullbatch`` with ``optimizers.PerMember``)
and (b) by a plain sequential PyTorch loop: one ``MLP`` at a time, the same optimizer spec, the
same steps and evaluations. Both run on one thread (as each study worker does), after a warm-up
training; the achieved GFLOP/s (the FLOPs the training executes: 2 per multiply-add forward, the
weight gradients and the output layer's input gradient backward) is compared with the peak of a
2048 × 2048 ``torch.mm`` measured in the same run, on the same thread count. The whole study's
neural part against a plain loop is ``bench_sample_complexity.py``.

    python benchmarks/bench_sample_neural.py [--spec adam] [--trials 16] [--n 32] [--m 640] [--steps 100]
"""

from __future__ import annotations

import argparse
import os
import time

import torch
from benchlib import mlp_row_flops, mm_peak

import optimizers
from learners.neural import BatchedMLP
from learners.neural.fullbatch import member_losses, train_full_batch
from learners.sample.mlp import DEFAULT_GRID as GRID
from optimizers.step_size import scale_step_size


def plain_loop(models, specs, data, steps, eval_every):
    """Each network alone: the loop a user would write without batching."""
    X, y, Xh, yh = data
    for k, (model, spec) in enumerate(zip(models, specs)):
        opt = optimizers.create(spec, model)
        for step in range(1, steps + 1):
            loss = torch.nn.functional.softplus(-(2 * y[k] - 1) * model(X[k])[:, 0]).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if step % eval_every == 0:
                with torch.no_grad():
                    member_losses(model(Xh[k])[None, :, 0], yh[k][None], "logistic")


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spec", default="adam")
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--n", type=int, default=32)
    parser.add_argument("--m", type=int, default=640)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--eval-every", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--peak-size", type=int, default=2048, help="side of the torch.mm that measures the peak")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    T, L = args.trials, len(GRID)
    K = T * L
    m_fit = args.m - round(0.3 * args.m)
    g = torch.Generator().manual_seed(0)
    X = torch.randn(T, args.m, args.n, generator=g)
    y = (X[..., 0] > 0).float()
    data = [t.repeat(L, *[1] * (t.dim() - 1)) for t in (X[:, :m_fit], y[:, :m_fit], X[:, m_fit:], y[:, m_fit:])]
    specs = [scale_step_size(args.spec, f) for f in GRID for _ in range(T)]
    net = BatchedMLP(args.n, 1, seeds=range(T), width=args.width, depth=2, init="gaussian").repeated(L)
    plain = [net.member(k) for k in range(K)]
    peak = mm_peak(args.peak_size)
    def batched_run(network):
        return train_full_batch(network, optimizers.PerMember(specs), *data, loss="logistic", steps=args.steps,
                                eval_every=args.eval_every, patience=10 ** 9)

    batched_run(net.select(range(K)))  # warm-up: a process's first training pays one-off set-up costs
    batched = _timed(lambda: batched_run(net))
    loop = _timed(lambda: plain_loop(plain, specs, data, args.steps, args.eval_every))
    forward, backward = mlp_row_flops([args.n, args.width, 1])  # the FLOPs the training executes
    flops = K * args.steps * m_fit * (forward + backward)
    load = os.getloadavg()
    print(f"spec {args.spec}, K = {T} trials x {L} step sizes = {K} networks, n = {args.n}, m = {args.m} "
          f"(fit {m_fit}), width {args.width}, {args.steps} steps, {args.threads} thread(s); "
          f"load average {load[0]:.2f}")
    print(f"batched {batched:.2f} s, plain loop {loop:.2f} s: {loop / batched:.1f}x")
    print(f"batched {flops / batched / 1e9:.1f} GFLOP/s vs {args.peak_size}² torch.mm peak {peak:.1f} GFLOP/s "
          f"= {100 * flops / batched / 1e9 / peak:.0f} %")


if __name__ == "__main__":
    main()
