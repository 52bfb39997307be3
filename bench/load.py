"""Many sessions on one server, through Streamlit's own websocket protocol.

    python -m bench.load [--sessions 20] [--steps 20] [--think 3.0]
    python -m bench.load --sessions 8 --steps 3 --model shakespeare-2layer --chars 100000
    python -m bench.load --sessions 20 --think 1 --replicas 2     # through nginx (deploy/)
    python -m bench.load --attack --model shakespeare-2layer      # fairness (budget.py)

Each session connects to /_stcore/stream as a browser tab does, opens a deep link (a rerun with
the link's query string) and then clicks ▶ `steps` times (a rerun of the stepping fragment with
the button's trigger, as the frontend sends it), waiting a random 0..`think` seconds between
clicks, as a reader does who looks at each step's card (playing the text through is done by the
chart's player in the browser, without the server). No browser renders anything, so the
numbers are the server's. Printed: errors, p50/p95 step latency for one session alone and for
all at once (same server, same run), and the server's resident memory (all replicas together),
sampled every 0.2 s. --attack prints how long a short text waits while three sessions open
100,000-character texts, against its time alone in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from tests.browser import LOGS, ROOT, Served, free_port, serve

COURSE = "The cats, which already ate the fish, were full."
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}
NEXT = "next step ▶"  # the stepper's next-step button (app.pick_step)


@contextlib.contextmanager
def replicas(n: int, timeout: float = 120, env: dict[str, str] | None = None):
    """Yield nginx's base URL in front of n replicas started by deploy/run.sh, stopped on exit.
    The URL's pid is the run script's (the replicas are its children)."""
    port = free_port()
    while any(_in_use(port + i) for i in range(n + 1)):
        port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"replicas-{n}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            ["bash", str(ROOT / "deploy/run.sh"), str(n), str(port)], cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT, env={**os.environ, "PYTHON": sys.executable,
                 "GRU_STEPPER_TEST_HEADERS": "1", **(env or {})},  # X-Replica
            start_new_session=True)
    url = Served(f"http://127.0.0.1:{port}")
    url.pid = proc.pid
    try:
        deadline = time.time() + timeout
        # each replica on its own port first: a request nginx sent to a replica still starting
        # would mark it failed for a while (in that nginx worker), and new visitors would all
        # reach the others
        for replica in (f"http://127.0.0.1:{port + i}" for i in range(1, n + 1)):
            _answers(replica, proc, deadline, log_path)
        seen: set[str] = set()
        while len(seen) < n:  # every replica answers through nginx, itself (not after a retry)
            seen.add(_answers(url, proc, deadline, log_path)["X-Replica"].split(", ")[-1])
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _answers(url: str, proc: subprocess.Popen, deadline: float, log_path: Path):
    """The headers of url's health check, once it answers; an error with the run's log if the
    replicas stopped or `deadline` passed first."""
    while True:
        try:
            with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                return r.headers
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("replicas did not start; " + str(log_path) + " ends:\n"
                                   + log_path.read_text()[-2000:]) from None
            time.sleep(0.3)


def _in_use(port: int) -> bool:
    import socket
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Session:
    """One tab: the query string the page shows, and the ▶ button's id and fragment."""

    def __init__(self, ws, query: str):
        self.ws, self.query, self.next_button, self.fragment = ws, query, None, ""

    async def run(self, widgets: list[WidgetState] = (), fragment: str = "") -> bool:
        """Send a rerun and read until it finishes; True if no exception was shown."""
        msg = BackMsg()
        msg.rerun_script.query_string = self.query
        msg.rerun_script.widget_states.widgets.extend(widgets)
        msg.rerun_script.fragment_id = fragment
        await self.ws.send(msg.SerializeToString())
        ok = True
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await self.ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "page_info_changed":
                self.query = fwd.page_info_changed.query_string
            elif kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                if element.WhichOneof("type") == "exception":
                    ok = False
                elif (element.WhichOneof("type") == "button"
                      and element.button.label == NEXT):
                    self.next_button, self.fragment = element.button.id, fwd.delta.fragment_id
            elif kind == "script_finished" and (
                    fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN):
                return ok and fwd.script_finished in FINISHED

    async def step(self) -> bool:
        click = WidgetState(id=self.next_button, trigger_value=True)
        return await self.run([click], self.fragment)


async def reader(url: str, query: str, steps: int, think: float, out: dict) -> None:
    ws_url = url.replace("http", "ws") + "/_stcore/stream"
    try:
        async with websockets.connect(ws_url, subprotocols=["streamlit"], max_size=None,
                                      open_timeout=60, ping_interval=None) as ws:
            s = Session(ws, query)
            start = time.perf_counter()
            if not await s.run() or s.next_button is None:
                out["errors"] += 1
                return
            out["open"].append(time.perf_counter() - start)
            for _ in range(steps):
                await asyncio.sleep(random.uniform(0, think))
                start = time.perf_counter()
                ok = await s.step()
                out["steps"].append(time.perf_counter() - start)
                out["errors"] += not ok
    except (OSError, websockets.WebSocketException) as e:
        out["errors"] += 1
        out["failures"].append(repr(e))


def tree(pid: int) -> list[int]:
    """pid and its descendants (the replicas and nginx behind deploy/run.sh)."""
    pids, i = [pid], 0
    while i < len(pids):
        for task in Path(f"/proc/{pids[i]}/task").glob("*/children"):
            pids += [int(c) for c in task.read_text().split()]
        i += 1
    return pids


def sample_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    while not stop.is_set():
        total = 0
        for p in tree(pid):
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{p}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
        peak[0] = max(peak[0], total)
        time.sleep(0.2)


async def open_page(url: str, query: str) -> tuple[float, bool]:
    """Seconds from connecting to the end of the first run of a deep link, and whether it ran
    without an exception."""
    start = time.perf_counter()
    async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream",
                                  subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                  ping_interval=None) as ws:
        ok = await Session(ws, query).run()
    return time.perf_counter() - start, ok


def attack(url: str, model: str, corpus: str, chars: int, tries: int = 3) -> None:
    """Three sessions open 100,000-character texts; a fourth opens a short one meanwhile."""
    def query(text: str) -> str:
        return urlencode({"ckpt": model, "text": text, "t": 5, "unit": 3})

    def short(i: int) -> str:  # a new text each time: never a cached trace
        return corpus[500_000 + 100 * i: 500_000 + 100 * i + 19]

    async def run() -> tuple[list[float], float, bool]:
        await open_page(url, query(short(99)))  # warm: the model loaded, the page imported
        alone = [(await open_page(url, query(short(i))))[0] for i in range(tries)]
        longs = [asyncio.create_task(open_page(url, query(corpus[i * 997: i * 997 + chars])))
                 for i in range(3)]
        await asyncio.sleep(3)  # the three are running or queued
        waited, ok = await open_page(url, query(short(tries)))
        still = sum(not t.done() for t in longs)
        for t in longs:
            t.cancel()
        await asyncio.gather(*longs, return_exceptions=True)
        return alone, waited, ok and still == 3

    alone, waited, fair = asyncio.run(run())
    base = statistics.median(alone)
    print(f"attack: 3 sessions open {chars:,}-character texts on {model}; a fourth opens a "
          f"19-character text meanwhile")
    print(f"short text alone: {base:.2f} s (median of {', '.join(f'{a:.2f}' for a in alone)}); "
          f"behind the three: "
          f"{waited:.2f} s = {waited / base:.2f}x its time alone (goal <= 3x)"
          + ("" if fair else "; NOTE: the long texts were not all still running"))


def load(url: str, queries: list[str], steps: int, think: float) -> dict:
    out = {"open": [], "steps": [], "errors": 0, "failures": []}

    async def all_readers():
        await asyncio.gather(*(reader(url, q, steps, think, out) for q in queries))

    start = time.perf_counter()
    asyncio.run(all_readers())
    out["wall"] = time.perf_counter() - start
    return out


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--think", type=float, default=3.0, help="seconds, at most, between clicks")
    ap.add_argument("--model", default="agreement")
    ap.add_argument("--chars", type=int, default=0,
                    help="each session reads its own slice of tinyshakespeare this long "
                    "(../shared/data/tinyshakespeare.txt) instead of the course's sentence")
    ap.add_argument("--replicas", type=int, default=0,
                    help="serve through nginx in front of this many replicas (deploy/run.sh)")
    ap.add_argument("--attack", action="store_true",
                    help="the fairness attack instead: 3 sessions open --chars-long texts "
                    "(default 100,000) on --model while a fourth opens a short text")
    args = ap.parse_args()
    if args.attack:
        args.chars = args.chars or 100_000
    corpus_path = Path(os.environ.get("TINYSHAKESPEARE",
                                      ROOT.parent / "shared/data/tinyshakespeare.txt"))
    corpus = corpus_path.read_text() if args.chars else ""
    server = replicas(args.replicas, timeout=180) if args.replicas else serve(
        ROOT / "dashboard/app.py", timeout=120)
    if args.attack:
        with server as url:
            attack(url, args.model, corpus, args.chars)
        return

    def query(i: int) -> str:
        text = corpus[i * 997 : i * 997 + args.chars] if args.chars else COURSE
        return urlencode({"ckpt": args.model, "text": text, "t": 5, "unit": 3})

    with server as url:
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(target=sample_rss, args=(url.pid, stop, peak), daemon=True)
        sampler.start()
        alone = load(url, [query(0)], args.steps, args.think)
        idle_rss = peak[0]
        many = load(url, [query(i) for i in range(args.sessions)], args.steps, args.think)
        stop.set()
    where = f"{args.replicas} replica(s) behind nginx" if args.replicas else "one server"
    print(f"{where}: {args.model}, {args.chars or len(COURSE):,} characters per session, "
          f"think time up to {args.think} s")
    print(f"one session alone: step p50 {p(alone['steps'], 50) * 1000:.0f} ms, p95 "
          f"{p(alone['steps'], 95) * 1000:.0f} ms; open {alone['open'][0]:.2f} s; "
          f"errors {alone['errors']}; server RSS {idle_rss / 2**20:,.0f} MiB")
    s = many["steps"]
    print(f"{args.sessions} sessions at once: {len(s)} steps in {many['wall']:.0f} s, errors "
          f"{many['errors']}; step p50 {p(s, 50) * 1000:.0f} ms, p95 {p(s, 95) * 1000:.0f} ms "
          f"= {p(s, 95) / p(alone['steps'], 95):.2f}x one session's p95 (goal <= 3x); open "
          f"p50 {p(many['open'], 50):.2f} s; peak server RSS {peak[0] / 2**20:,.0f} MiB")
    for failure in many["failures"][:5]:
        print("  failure:", failure)


if __name__ == "__main__":
    main()
