"""Full trace (every gate of every step materialised) against nn.GRU's own forward, same run.

    python -m bench.trace_vs_gru [--steps 10000] [--repeats 7] [--before REV] [--only TEXT]

Prints the README's trace rows. Timings alternate between nn.GRU and the trace (and, with
`--before REV`, recompute() as trace.py was at git revision REV, say HEAD~1) so that machine
noise hits all alike; each ratio is the median over repeats of trace_time / gru_time within a
repeat. A per-step Python loop (the usual way to get the gates) is timed alongside for
reference, nn.GRU on one thread (the 1-layer trace's floor: its recurrence runs on one core, the
gates on another), and the path taken where one thread would change the bits (forced here).
Last, the peak memory of a 100,000-step trace.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch

from gru_core import layer_weights, recompute, step
from gru_core.core import schedule

ROOT = Path(__file__).resolve().parents[1]
# label, hidden, layers, bidirectional, input ("one-hot" characters or "dense", an embedding's)
CONFIGS = [("1 layer", 256, 1, False, "one-hot"), ("2 layers", 256, 2, False, "one-hot"),
           ("1 layer, bidirectional", 256, 1, True, "one-hot"),
           ("2 layers, bidirectional", 256, 2, True, "one-hot"),
           ("1 layer, dense input", 256, 1, False, "dense")]


def clock(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def python_loop(gru, x):
    w, h = layer_weights(gru, 0), torch.zeros(gru.hidden_size)
    for x_t in x:
        h = step(x_t, h, w)["h"]
    return h


def recompute_at(rev: str):
    """recompute() as gru_core/core/trace.py was at git revision `rev` (same package around)."""
    source = subprocess.check_output(["git", "show", f"{rev}:gru_core/core/trace.py"], cwd=ROOT,
                                     text=True)
    name = "gru_core.core._trace_before"
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(name, loader=None))
    module.__package__ = "gru_core.core"
    sys.modules[name] = module
    exec(compile(source, f"{rev}:gru_core/core/trace.py", "exec"), module.__dict__)
    return module.recompute


def inputs(kind: str, steps: int) -> torch.Tensor:
    if kind == "dense":
        return torch.randn(steps, 65)
    return torch.nn.functional.one_hot(torch.randint(0, 65, (steps,)), 65).float()


@torch.no_grad()
def compare(label, hidden, layers, bidirectional, kind, steps, repeats, before) -> None:
    torch.manual_seed(0)
    gru = torch.nn.GRU(65, hidden, num_layers=layers, bidirectional=bidirectional)
    x = inputs(kind, steps)
    out, _ = gru(x)
    versions = {"trace": recompute} | ({"before": before} if before else {})
    for fn in versions.values():
        assert torch.equal(fn(gru, x).output, out), "trace output is not bitwise nn.GRU's"
    ratios, gru_times = {k: [] for k in versions}, []
    for _ in range(repeats):
        g = clock(lambda: gru(x))
        for k, fn in versions.items():
            ratios[k].append(clock(lambda fn=fn: fn(gru, x)) / g)
        gru_times.append(g)
    line = (f"H={hidden}, {label:26s} nn.GRU {statistics.median(gru_times) * 1e6 / steps:6.1f} "
            f"µs/step   trace / nn.GRU = {statistics.median(ratios['trace']):.2f}x")
    if before:
        line += f"   (before: {statistics.median(ratios['before']):.2f}x)"
    if layers == 1 and not bidirectional and kind == "one-hot":
        loop = [clock(lambda: python_loop(gru, x)) / clock(lambda: gru(x)) for _ in range(3)]
        line += f"   (per-step Python loop / nn.GRU = {statistics.median(loop):.2f}x)"
        if label == "1 layer":  # step by step runs nn.GRU at the caller's setting instead
            line += f"   (nn.GRU on one thread / nn.GRU = {one_thread(gru, x, repeats):.2f}x)"
    print(line, flush=True)


def one_thread(gru, x, repeats: int) -> float:
    """The 1-layer trace's floor: its recurrence is nn.GRU on one thread (the gates take the
    other cores), so it can be no faster than that against nn.GRU on all of them."""
    threads, ratios = torch.get_num_threads(), []
    for _ in range(repeats):
        g = clock(lambda: gru(x))
        torch.set_num_threads(1)
        ratios.append(clock(lambda: gru(x)) / g)
        torch.set_num_threads(threads)
    return statistics.median(ratios)


def step_by_step(steps: int, repeats: int) -> None:
    """Where one thread would change the bits: nn.GRU at the caller's setting, then the hidden
    products one step at a time (forced here by a probe that says so)."""
    probe = schedule.same_bits_on_one_core
    schedule.same_bits_on_one_core = lambda *a: False
    try:
        compare("1 layer, step by step", 256, 1, False, "one-hot", steps, repeats, None)
    finally:
        schedule.same_bits_on_one_core = probe


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
    p.add_argument("--before", help="also time recompute() as trace.py was at this git revision")
    p.add_argument("--only", help="only the rows whose label contains this text")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    before = recompute_at(args.before) if args.before else None
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"T = {args.steps:,}, {args.threads} threads, torch {torch.__version__}, "
          f"load average {load}" + (f", before = {args.before}" if before else ""))
    for config in CONFIGS:
        if not args.only or args.only in config[0]:
            compare(*config, args.steps, args.repeats, before)
    if not args.only or args.only in "1 layer, step by step":
        step_by_step(args.steps, args.repeats)
    if not args.only:
        peak_memory(100_000)
    print(f"load average {', '.join(f'{v:.1f}' for v in os.getloadavg())}")


if __name__ == "__main__":
    main()
