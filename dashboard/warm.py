"""Warm a freshly started server before its first visitor, through Streamlit's own websocket
protocol (as a browser tab): the default page, then every question's deep link and every view
on the default text, each in a session of its own. What a first visitor would wait for is then
done: the imports (torch, pandas, plotly), the models, the traces of the links' texts, and each
view's once-per-server work (autograd's functional transforms for the gradients, the number-unit
ranking). Nothing is drawn; the server keeps what the runs left in its caches.

    python -m dashboard.warm [URL]   # run beside the server; default: port 8501 on this
                                     # machine, under STREAMLIT_SERVER_BASE_URL_PATH if set

The Dockerfile and deploy/run.sh start it with each server, `make run` from inside its own
(dashboard/serve.py); bench/step_latency.py measures the first open after it.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import urllib.request

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

LINK = re.compile(r"\]\((\?view=[^)\s]+)\)")  # a question's link on the questions page


async def run_once(url: str, query: str) -> tuple[list[str], bool]:
    """One session opening `query`, until its script run finishes: the deep links its Markdown
    shows, and whether the page showed an exception."""
    async with websockets.connect(url.replace("http", "ws", 1) + "/_stcore/stream",
                                  subprotocols=["streamlit"], max_size=None, open_timeout=120,
                                  ping_interval=None) as ws:
        msg = BackMsg()
        msg.rerun_script.query_string = query
        await ws.send(msg.SerializeToString())
        links, failed = [], False
        while True:
            fwd = ForwardMsg()
            fwd.ParseFromString(await ws.recv())
            kind = fwd.WhichOneof("type")
            if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
                element = fwd.delta.new_element
                if element.WhichOneof("type") == "markdown":
                    links += LINK.findall(element.markdown.body)
                failed |= element.WhichOneof("type") == "exception"
            elif kind == "script_finished" and (
                    fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN):
                return links, failed


def wait_healthy(url: str, timeout: float) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            urllib.request.urlopen(url + "/_stcore/health", timeout=2)
            return
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.3)


async def warm_all(url: str) -> dict[str, bool]:
    """{query: whether its page showed an exception} for every query opened, in order."""
    out = {"": (await run_once(url, ""))[1]}  # the default page: imports, models, the trace
    links, out["view=questions"] = await run_once(url, "view=questions")
    links = [q[1:] for q in links]
    views = sorted({re.match(r"view=([^&]+)", q).group(1) for q in links})
    for query in links + [f"view={v}" for v in views]:
        out[query] = (await run_once(url, query))[1]
    return out


def run_all(url: str) -> dict[str, bool]:
    return asyncio.run(warm_all(url.rstrip("/")))


def default_url() -> str:
    path = os.environ.get("STREAMLIT_SERVER_BASE_URL_PATH", "").strip("/")
    return "http://127.0.0.1:8501" + (f"/{path}" if path else "")


def warm(url: str, timeout: float = 300) -> float:
    """Seconds it took, once the server answered its health check."""
    wait_healthy(url.rstrip("/"), timeout)
    start = time.perf_counter()
    asyncio.run(asyncio.wait_for(warm_all(url.rstrip("/")), timeout))
    return time.perf_counter() - start


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else default_url()
    try:
        print(f"warm: {target} ready for its first visitor in {warm(target):.1f} s", flush=True)
    except (OSError, TimeoutError, websockets.WebSocketException) as e:  # the server still serves
        print(f"warm: {target} not warmed ({e!r})", file=sys.stderr, flush=True)
