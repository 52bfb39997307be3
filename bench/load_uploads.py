"""Uploads on one server, through Streamlit's own protocol as the page's file uploader does
(ask for an upload URL over the websocket, PUT the file, rerun with the uploader's state).

    python -m bench.load_uploads [--tabs 10] [--mb 50]

Printed: the server's RSS idle; for each hostile file (builders: tests/loading/test_bombs.py)
the seconds from upload to the page's answer and the RSS it added at its peak; then `--tabs`
tabs each uploading an `--mb` MB file and closing: the RSS while they are held, and once the
sweeper has seen them go (catalogue.sweep), against idle.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import threading
import time
import urllib.request
import uuid

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from bench.load import sample_rss
from bench.load_memory import SETTLE, rss
from tests.browser import ROOT, serve


async def _until(ws, want: str):
    """Read forward messages until one of type `want`; -> (it, every element seen)."""
    seen = []
    while True:
        fwd = ForwardMsg()
        fwd.ParseFromString(await ws.recv())
        kind = fwd.WhichOneof("type")
        if kind == "delta" and fwd.delta.WhichOneof("type") == "new_element":
            seen.append(fwd.delta.new_element)
        if kind == want:
            return fwd, seen


async def _run(ws, query: str, widgets=()) -> list:
    msg = BackMsg()
    msg.rerun_script.query_string = query
    msg.rerun_script.widget_states.widgets.extend(widgets)
    await ws.send(msg.SerializeToString())
    while True:
        fwd, seen = await _until(ws, "script_finished")
        if fwd.script_finished != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return seen


def _put(url: str, name: str, data: bytes) -> None:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode() \
        + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(url, data=body, method="PUT", headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})
    urllib.request.urlopen(req, timeout=120).read()


async def upload(url: str, name: str, data: bytes, hold: asyncio.Event | None = None,
                 uploaded: asyncio.Queue | None = None) -> str:
    """Open the upload page, upload `data` as `name`; -> the page's error or success text."""
    async with websockets.connect(url.replace("http", "ws") + "/_stcore/stream",
                                  subprotocols=["streamlit"], max_size=None, open_timeout=120,
                                  ping_interval=None) as ws:
        query = "uploaded=1"  # the uploader (selection.init_from_url)
        first = await _run(ws, query)
        vocab = next(e.selectbox.id for e in first if e.WhichOneof("type") == "selectbox"
                     and e.selectbox.id.endswith("-vocab_source"))  # string.printable: a
        printable = WidgetState(id=vocab, string_value="printable")  # Keras file is parsed
        first = await _run(ws, query, [printable])
        uploader = next(e.file_uploader for e in first if e.WhichOneof("type") == "file_uploader"
                        and "model_file" in e.file_uploader.id)
        msg = BackMsg()
        msg.file_urls_request.request_id = "1"
        msg.file_urls_request.file_names.append(name)
        await ws.send(msg.SerializeToString())
        fwd, _ = await _until(ws, "file_urls_response")
        urls = fwd.file_urls_response.file_urls[0]
        _put(url + urls.upload_url, name, data)
        state = WidgetState(id=uploader.id)
        info = state.file_uploader_state_value.uploaded_file_info.add()
        info.name, info.size, info.file_id = name, len(data), urls.file_id
        info.file_urls.CopyFrom(urls)
        seen = await _run(ws, query, [printable, state])
        said = [e.alert.body for e in seen if e.WhichOneof("type") == "alert"]
        if uploaded is not None:
            uploaded.put_nowait(name)
        if hold is not None:
            await hold.wait()
        return " | ".join(said)[-300:]


def main() -> None:
    from tests.test_bombs import DEEP, keras_bomb, legacy_h5_bomb

    ap = argparse.ArgumentParser()
    ap.add_argument("--tabs", type=int, default=10)
    ap.add_argument("--mb", type=float, default=50)
    args = ap.parse_args()
    env = {"STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "false", "OMP_NUM_THREADS": "1"}
    with serve(ROOT / "dashboard/app.py", timeout=180, env=env) as url:
        asyncio.run(upload(url, "warm.pt", b"x"))
        time.sleep(SETTLE)
        idle = rss(url.pid) / 2**20
        print(f"idle server {idle:,.0f} MiB; load average {os.getloadavg()[0]:.1f}")
        for name, data in (("embedding.h5", legacy_h5_bomb()), ("embedding.keras", keras_bomb()),
                           ("deep.keras", keras_bomb(DEEP, weights=False))):
            stop, peak = threading.Event(), [0]
            t = threading.Thread(target=sample_rss, args=(url.pid, stop, peak), daemon=True)
            t.start()
            start = time.perf_counter()
            said = asyncio.run(upload(url, name, data))
            took = time.perf_counter() - start
            stop.set()
            t.join()
            print(f"{name} ({len(data):,} bytes): answered in {took:.2f} s, peak +"
                  f"{peak[0] / 2**20 - idle:,.0f} MiB: {said[-160:]!r}")
        time.sleep(SETTLE)
        idle = rss(url.pid) / 2**20
        blob = os.urandom(int(args.mb * 2**20))

        held = asyncio.run(_tabs(url, blob, args.tabs))
        time.sleep(SETTLE)
        after = rss(url.pid) / 2**20
        print(f"{args.tabs} tabs x {args.mb:g} MB uploads: {held:,.0f} MiB held (idle "
              f"{idle:,.0f} + {held - idle:,.0f}); {after:,.0f} MiB once closed (idle + "
              f"{after - idle:,.0f})")


async def _tabs(url: str, blob: bytes, n: int) -> float:
    """n tabs upload at once and stay open; -> the RSS (MiB) once all have uploaded; then
    every tab is closed."""
    hold, uploaded = asyncio.Event(), asyncio.Queue()
    tasks = [asyncio.create_task(upload(url, f"big{i}.pt", blob, hold, uploaded))
             for i in range(n)]
    for _ in range(n):
        await uploaded.get()
    held = rss(url.pid) / 2**20
    hold.set()
    await asyncio.gather(*tasks)
    return held


if __name__ == "__main__":
    main()
