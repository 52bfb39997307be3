"""The server's memory with long texts: sessions open one after another, then a few at once,
each on its own slice of tinyshakespeare, through Streamlit's websocket as a tab does.

    python -m bench.load_memory [--sessions 8] [--together 3] [--chars 100000]
                                [--model shakespeare-2layer] [--budget-mb 2560]

Printed: the server's RSS when idle (the model loaded, one short text drawn), its peak while the
sessions open one after another and what it holds once they are closed (after the sweeper has
seen them go), the same for `--together` sessions open at once, and each against the idle RSS.
The bound to hold: idle + the budget (GRU_STEPPER_CACHE_MB) + the peak of the trace being
computed beyond it. tests/server/test_memory.py runs the same with short texts.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import websockets

from bench.load import Session, sample_rss, tree
from tests.browser import ROOT, serve

SETTLE = 16.0  # seconds: two of catalogue's sweeps (SWEEP_SECONDS, one sweep's grace) and more


def rss(pid: int) -> int:
    """The resident memory of pid and its children, in bytes."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


async def hold(url: str, query: str, opened: list[int] | None = None,
               release: asyncio.Event | None = None) -> bool:
    """Open the page (its first run), count it in `opened`, and keep the tab open until
    `release` is set (set here once every tab counted in `opened` has opened)."""
    async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream",
                                  subprotocols=["streamlit"], max_size=None, open_timeout=120,
                                  ping_interval=None) as ws:
        ok = False
        try:
            ok = await Session(ws, query).run()
        finally:
            if release is not None:
                opened[0] -= 1
                if opened[0] == 0:
                    release.set()
        if release is not None:
            await release.wait()
    return ok


async def together(url: str, queries: list[str]) -> bool:
    """The tabs open at once, and all stay open until the last has drawn its page."""
    release, opened = asyncio.Event(), [len(queries)]
    return all(await asyncio.gather(*(hold(url, q, opened, release) for q in queries)))


def measure(model: str, chars: int, sessions: int, at_once: int, budget_mb: float,
            corpus: str, settle: float = SETTLE) -> dict[str, float]:
    """Peak and settled RSS (MiB) of a fresh server while `sessions` tabs open one after
    another and then `at_once` tabs open together; every tab closed before the next phase."""
    def query(i: int, n: int = chars) -> str:
        return urlencode({"ckpt": model, "text": corpus[i * 997: i * 997 + n], "t": 5,
                          "unit": 3})

    env = {"GRU_STEPPER_CACHE_MB": str(budget_mb), "OMP_NUM_THREADS": "1"}
    out: dict[str, float] = {"errors": 0}
    with serve(ROOT / "dashboard/app.py", timeout=180, env=env) as url:
        out["errors"] += not asyncio.run(hold(url, query(500, 40)))
        time.sleep(settle)
        out["idle"] = rss(url.pid) / 2**20
        for phase, runs in (("one_after_another", [[i] for i in range(sessions)]),
                            ("at_once", [list(range(sessions, sessions + at_once))])):
            stop, peak = threading.Event(), [0]
            sampler = threading.Thread(target=sample_rss, args=(url.pid, stop, peak),
                                       daemon=True)
            sampler.start()
            start = time.perf_counter()
            for group in runs:
                out["errors"] += not asyncio.run(together(url, [query(i) for i in group]))
            out[f"{phase}_s"] = time.perf_counter() - start
            time.sleep(settle)
            stop.set()
            sampler.join()
            out[f"{phase}_peak"] = peak[0] / 2**20
            out[f"{phase}_after"] = rss(url.pid) / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=8)
    ap.add_argument("--together", type=int, default=3)
    ap.add_argument("--chars", type=int, default=100_000)
    ap.add_argument("--model", default="shakespeare-2layer")
    ap.add_argument("--budget-mb", type=float, default=2560)
    args = ap.parse_args()
    corpus = Path(os.environ.get("TINYSHAKESPEARE",
                                 ROOT.parent / "shared/data/tinyshakespeare.txt")).read_text()
    m = measure(args.model, args.chars, args.sessions, args.together, args.budget_mb, corpus)
    idle = m["idle"]
    print(f"{args.model}, {args.chars:,} characters a session, budget {args.budget_mb:,.0f} "
          f"MiB; load average {os.getloadavg()[0]:.1f}; errors {m['errors']:.0f}")
    print(f"idle server: {idle:,.0f} MiB")
    for phase, n in (("one_after_another", args.sessions), ("at_once", args.together)):
        print(f"{n} sessions {phase.replace('_', ' ')} ({m[phase + '_s']:.0f} s): peak "
              f"{m[phase + '_peak']:,.0f} MiB (idle + {m[phase + '_peak'] - idle:,.0f}), "
              f"{m[phase + '_after']:,.0f} MiB once closed (idle + "
              f"{m[phase + '_after'] - idle:,.0f})")


if __name__ == "__main__":
    main()
