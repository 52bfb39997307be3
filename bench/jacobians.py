"""Time gru_core.jacobian_norms (‖∂h_t/∂h_s‖ for every s <= t) on a 256-unit layer.

    python -m bench.jacobians

Printed against nn.GRU's own forward + one backward over the same t steps, measured in the same
run, and against the unbatched way (one backward pass per row of the Jacobian) at small t.
"""

from __future__ import annotations

import statistics
import time

import torch

from gru_core import jacobian_norms, recompute


def clock(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def forward_backward(gru, x):
    h0 = torch.zeros(1, gru.hidden_size, requires_grad=True)
    gru(x, h0)[1].sum().backward()


def row_by_row(gru, x, t):
    """The unbatched way: H backward passes through nn.GRU, one per row of ∂h_t/∂h_0."""
    h0 = torch.zeros(1, gru.hidden_size, requires_grad=True)
    h_t = gru(x[1 : t + 1], h0)[1][0]
    for i in range(gru.hidden_size):
        torch.autograd.grad(h_t[i], h0, retain_graph=True)


def main() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
    gru = torch.nn.GRU(65, 256)
    x = torch.nn.functional.one_hot(torch.randint(0, 65, (501,)), 65).float()
    print("jacobian_norms, H = 256, 2 threads")
    for t in (100, 250, 500):
        ours = clock(lambda t=t: jacobian_norms(recompute(gru, x[: t + 1]), t))
        base = clock(lambda t=t: forward_backward(gru, x[: t + 1]))
        print(f"t = {t:3d}: {ours:.2f} s for all {t + 1} norms "
              f"({ours / base:.1f}x one nn.GRU forward+backward over t steps)", flush=True)
    t = 100
    rows = clock(lambda: row_by_row(gru, x, t), repeats=1)
    ours = clock(lambda: jacobian_norms(recompute(gru, x[: t + 1]), t))
    print(f"t = {t}: one backward per Jacobian row, for s = 0 only: {rows:.2f} s; batched, all s: "
          f"{ours:.2f} s ({rows / ours:.1f}x faster)")


if __name__ == "__main__":
    main()
