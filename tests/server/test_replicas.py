"""deploy/: two replicas behind Debian's nginx, started by deploy/run.sh. A visitor's cookie
keeps every request on one replica, and a session (the websocket) works through the proxy."""

import asyncio
import contextlib
import os
import shutil
import signal
import time
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
import websockets

from bench.load import COURSE, Session, replicas

pytestmark = pytest.mark.skipif(
    shutil.which("nginx") is None and not os.environ.get("REQUIRE_BROWSER"),
    reason="nginx is not installed (apt-get install nginx; .ci/run installs it and sets "
    "REQUIRE_BROWSER=1 so that this test can never be skipped there)")


def get(url: str, cookie: str | None = None):
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.status, r.headers


def answered(headers) -> str:
    """The replica that answered (after "a, b" nginx tried a, which failed, then b)."""
    return headers["X-Replica"].split(", ")[-1]


async def step_through(url: str, cookie: str) -> tuple[bool, bool, str]:
    """Open the course's deep link over the proxied websocket and click ▶ once."""
    query = urlencode({"ckpt": "agreement", "text": COURSE, "t": 5, "unit": 3})
    async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream",
                                  subprotocols=["streamlit"], max_size=None, open_timeout=60,
                                  additional_headers={"Cookie": cookie}) as ws:
        s = Session(ws, query)
        opened = await s.run() and s.next_button is not None
        stepped = await s.step()
        return opened, stepped and "t=6" in s.query, answered(ws.response.headers)


def test_two_replicas_behind_nginx_keep_a_session_on_one():
    with replicas(2) as url:
        status, headers = get(url + "/_stcore/health")
        assert status == 200
        cookie = next(c.split(";")[0] for c in headers.get_all("Set-Cookie")
                      if c.startswith("gru_stepper_replica="))
        # the same visitor always reaches the same replica ...
        assert {answered(get(url + "/_stcore/health", cookie)[1]) for _ in range(8)} == {
            answered(headers)}
        # ... new visitors are spread over both
        assert len({answered(get(url + "/_stcore/health")[1]) for _ in range(40)}) == 2
        opened, stepped, replica = asyncio.run(step_through(url, cookie))
        assert opened and stepped
        assert replica == answered(headers)  # the websocket went where its cookie says


def _listener(port: int) -> int:
    """The pid of the process listening on 127.0.0.1:port (a replica's Streamlit)."""
    inode = next(line.split()[9] for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
                 if line.split()[1] == f"0100007F:{port:04X}" and line.split()[3] == "0A")
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) == f"socket:[{inode}]":
                return int(fd.parts[2])
    raise LookupError(port)


def test_a_replica_killed_is_restarted_while_the_other_serves():
    """kill -9 on one replica: supervisord starts it again within 30 s, and meanwhile every
    request through nginx is answered (by the survivor: nginx skips the dead one)."""
    with replicas(2) as url:
        port = int(url.rsplit(":", 1)[1])
        os.kill(_listener(port + 1), signal.SIGKILL)
        start, failed, back = time.time(), 0, None
        while time.time() - start < 45 and back is None:
            try:
                assert get(url + "/_stcore/health")[0] == 200
            except OSError:
                failed += 1
            with contextlib.suppress(OSError):
                get(f"http://127.0.0.1:{port + 1}/_stcore/health")
                back = time.time() - start
            time.sleep(0.2)
        print(f"replica back after {back} s; failed requests {failed}")
        assert failed == 0
        assert back is not None and back <= 30, back
