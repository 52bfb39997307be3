"""Many sessions on one server, through Streamlit's own websocket protocol.

    python -m bench.load [--sessions 20] [--steps 20] [--think 3.0]
    python -m bench.load --sessions 8 --steps 3 --model shakespeare-2layer --chars 100000

Each session connects to /_stcore/stream as a browser tab does, opens a deep link (a rerun with
the link's query string) and then clicks ▶ `steps` times (a rerun of the stepping fragment with
the button's trigger, as the frontend sends it), waiting a random 0..`think` seconds between
clicks, as a reader does who looks at each step's card (playing the text through is done by the
chart's player in the browser, without the server). No browser renders anything, so the
numbers are the server's. Printed: errors, p50/p95 step latency for one session alone and for
all at once (same server, same run), and the server's resident memory, sampled every 0.2 s.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from tests.browser import ROOT, serve

COURSE = "The cats, which already ate the fish, were full."
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


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
                elif element.WhichOneof("type") == "button" and element.button.label == "▶":
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


def sample_rss(pid: int, stop: threading.Event, peak: list[int]) -> None:
    status = Path(f"/proc/{pid}/status")
    while not stop.is_set():
        for line in status.read_text().splitlines():
            if line.startswith("VmRSS:"):
                peak[0] = max(peak[0], int(line.split()[1]) * 1024)
        time.sleep(0.2)


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
    args = ap.parse_args()
    corpus = (ROOT.parent / "shared/data/tinyshakespeare.txt").read_text() if args.chars else ""

    def query(i: int) -> str:
        text = corpus[i * 997 : i * 997 + args.chars] if args.chars else COURSE
        return urlencode({"ckpt": args.model, "text": text, "t": 5, "unit": 3})

    with serve(ROOT / "dashboard/app.py", timeout=120) as url:
        stop, peak = threading.Event(), [0]
        sampler = threading.Thread(target=sample_rss, args=(url.pid, stop, peak), daemon=True)
        sampler.start()
        alone = load(url, [query(0)], args.steps, args.think)
        idle_rss = peak[0]
        many = load(url, [query(i) for i in range(args.sessions)], args.steps, args.think)
        stop.set()
    print(f"server: {args.model}, {args.chars or len(COURSE):,} characters per session, "
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
