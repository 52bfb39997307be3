"""Full trace (every gate of every step materialised) against nn.GRU's own forward, same run.

    python -m bench.trace_vs_gru [--steps 10000] [--repeats 7]

Timings alternate between the two so that machine noise hits both alike; the ratio printed is the
median over repeats of trace_time / gru_time. A per-step Python loop (the usual way to get the
gates) is timed alongside for reference. Last, the peak memory of a 100,000-step trace.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

import torch

from gru_core import layer_weights, recompute, step

CONFIGS = [("H=256, 1 layer", 256, 1, False), ("H=256, 2 layers", 256, 2, False),
           ("H=256, 1 layer, bidirectional", 256, 1, True)]


def clock(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def python_loop(gru, x):
    w, h = layer_weights(gru, 0), torch.zeros(gru.hidden_size)
    for x_t in x:
        h = step(x_t, h, w)["h"]
    return h


@torch.no_grad()
def compare(label, hidden, layers, bidirectional, steps, repeats) -> None:
    torch.manual_seed(0)
    gru = torch.nn.GRU(65, hidden, num_layers=layers, bidirectional=bidirectional)
    x = torch.nn.functional.one_hot(torch.randint(0, 65, (steps,)), 65).float()
    out, _ = gru(x)
    assert torch.equal(recompute(gru, x).output, out), "trace output is not bitwise nn.GRU's"
    ratios, gru_times = [], []
    for _ in range(repeats):
        g = clock(lambda: gru(x))
        tr = clock(lambda: recompute(gru, x))
        ratios.append(tr / g)
        gru_times.append(g)
    line = (f"{label:32s} nn.GRU {statistics.median(gru_times) * 1e6 / steps:6.1f} µs/step   "
            f"trace / nn.GRU = {statistics.median(ratios):.2f}x")
    if layers == 1 and not bidirectional:
        loop = [clock(lambda: python_loop(gru, x)) / clock(lambda: gru(x)) for _ in range(3)]
        line += f"   (per-step Python loop / nn.GRU = {statistics.median(loop):.2f}x)"
    print(line, flush=True)


PEAK = """
import torch
from gru_core import recompute
torch.set_num_threads(2)
def rss(field):
    for line in open('/proc/self/status'):
        if line.startswith(field):
            return int(line.split()[1]) * 1024
gru = torch.nn.GRU(65, 256)
x = torch.nn.functional.one_hot(torch.randint(0, 65, ({steps},)), 65).float()
with torch.no_grad():
    gru(x[:10])
open('/proc/self/clear_refs', 'w').write('5')  # reset the peak to the current size
base = rss('VmRSS:')
tr = recompute(gru, x)
kept = tr.nbytes()
print((rss('VmHWM:') - base) / 2**20, kept / 2**20)
"""


def peak_memory(steps: int) -> None:
    code = PEAK.format(steps=steps)
    peak, kept = map(float, subprocess.check_output([sys.executable, "-c", code]).split())
    print(f"{steps:,}-step trace, H=256: peak memory +{peak:.0f} MiB, trace holds {kept:.0f} MiB")


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--repeats", type=int, default=7)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    print(f"T = {args.steps:,}, {args.threads} threads, torch {torch.__version__}")
    for config in CONFIGS:
        compare(*config, args.steps, args.repeats)
    peak_memory(100_000)


if __name__ == "__main__":
    main()
