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
from collections.abc import Callable

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


def wait_healthy(url: str | Callable[[], str | None], timeout: float) -> str:
    """The server's URL once it answers its health check. `url` may be a function that says
    where the server is now (None: not known yet), asked again on each try: Streamlit moves to
    the next port when the one asked for is taken (dashboard/serve.py)."""
    where, deadline = url if callable(url) else lambda: url, time.time() + timeout
    while True:
        now = where()
        if now is not None:
            try:
                urllib.request.urlopen(now.rstrip("/") + "/_stcore/health", timeout=2)
                return now.rstrip("/")
            except OSError:
                if time.time() > deadline:
                    raise
        elif time.time() > deadline:
            raise TimeoutError(f"the server did not answer within {timeout:.0f} s")
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


def warm(url: str | Callable[[], str | None], timeout: float = 300) -> tuple[str, float]:
    """The server's URL, and the seconds warming took once it answered its health check."""
    url = wait_healthy(url, timeout)
    start = time.perf_counter()
    asyncio.run(asyncio.wait_for(warm_all(url), timeout))
    return url, time.perf_counter() - start


def announce(url: str | Callable[[], str | None], timeout: float = 300) -> None:
    """warm(), said in one line: on stdout once done, on stderr if not (the server still
    serves, only colder)."""
    try:
        target, seconds = warm(url, timeout)
        print(f"warm: {target} ready for its first visitor in {seconds:.1f} s", flush=True)
    except (OSError, TimeoutError, websockets.WebSocketException) as e:
        name = url if isinstance(url, str) else "the server"
        print(f"warm: {name} not warmed ({e!r})", file=sys.stderr, flush=True)


if __name__ == "__main__":
    announce(sys.argv[1] if len(sys.argv) > 1 else default_url())
