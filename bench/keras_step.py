"""The Keras path's step loop (every term kept) against Keras's own GRU layer, the plain loop of
the same operations, on the torch backend in the same run.

    python -m bench.keras_step [--T 10000] [--hidden 128] [--repeats 3]

Both conventions; the baseline is keras.layers.GRU called on the same input (reset_after=True:
Keras's _fallback_gru loop; False: its generic RNN loop over GRUCell.call). Prints medians and
the ratio trace / Keras. Needs keras (requirements-test.txt).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("KERAS_BACKEND", "torch")

import keras  # noqa: E402
import torch  # noqa: E402

from gru_core import KerasCell, KerasGRU, recompute  # noqa: E402


def median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--T", type=int, default=10_000)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--input", type=int, default=64)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    print(f"T = {args.T:,}, H = {args.hidden}, input {args.input}, "
          f"{torch.get_num_threads()} thread(s)")
    x = torch.randn(1, args.T, args.input)
    for reset_after in (True, False):
        layer = keras.layers.GRU(args.hidden, return_sequences=True, reset_after=reset_after)
        want = layer(x).detach()
        k, rk, b = (torch.tensor(v) for v in layer.get_weights())
        gru = KerasGRU([[KerasCell(k, rk, b)]])
        assert torch.equal(recompute(gru, x[0]).output, want[0])  # the same numbers

        def baseline(layer=layer):
            with torch.no_grad():
                layer(x)
        t_keras = median_time(baseline, args.repeats)
        t_trace = median_time(lambda gru=gru: recompute(gru, x[0]), args.repeats)
        print(f"reset_after={reset_after!s:5}  Keras GRU layer {t_keras:7.3f} s   "
              f"trace (every term) {t_trace:7.3f} s   ratio {t_trace / t_keras:.2f}x")


if __name__ == "__main__":
    main()
