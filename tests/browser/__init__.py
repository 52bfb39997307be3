"""A Streamlit server on a free local port and Debian's Chromium driven by Playwright.

Shared by the browser tests and the benchmarks in bench/. Waiting follows Streamlit's own
end-to-end suite (e2e_playwright/conftest.py, wait_for_app_run): a short initial wait so that a
rerun triggered by the last action has started, then the app's own status attributes.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from playwright.sync_api import expect, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / "artifacts" / "logs"
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-quic"]
INITIAL_WAIT_MS = 210  # Streamlit debounces some widgets by ~200 ms; a rerun starts after that
# the allocator as the Dockerfile, `make run` and deploy/run.sh set it: two malloc arenas, not
# one per thread that ever allocated, each keeping its freed pages (peak RSS lower, steadier)
HOSTED = {"MALLOC_ARENA_MAX": "2"}


class Served(str):
    """The server's base URL, with the process id of the server (for its memory) and the
    file its output goes to."""

    pid: int
    log: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(script: str | Path, timeout: float = 60, env: dict[str, str] | None = None,
          args: tuple[str, ...] = ()):
    """Yield the base URL of `streamlit run script [-- args]`, started as hosted (HOSTED) and
    stopped on exit. The server's output goes to artifacts/logs/ (a pipe nobody reads would
    block the server once full)."""
    port = free_port()
    LOGS.mkdir(parents=True, exist_ok=True)
    log_path = LOGS / f"streamlit-{Path(script).stem}-{port}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
             "--server.port", str(port), "--server.address", "127.0.0.1",
             "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             *(("--", *args) if args else ())],
            cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            env={**os.environ, **HOSTED, **(env or {})})
    url = Served(f"http://127.0.0.1:{port}")
    url.pid, url.log = proc.pid, log_path
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("streamlit did not start; its log " + str(log_path)
                                       + " ends:\n" + log_path.read_text()[-2000:]) from None
                time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=20)


@contextlib.contextmanager
def browser():
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        try:
            yield b
        finally:
            b.close()


@contextlib.contextmanager
def chromium(width: int = 1400, height: int = 1000):
    """One page in a fresh headless Chromium."""
    with browser() as b:
        yield b.new_page(viewport={"width": width, "height": height})


def settle(page, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished the rerun the last action started: connected, the
    script not running, no stale elements and no skeletons left."""
    page.wait_for_timeout(INITIAL_WAIT_MS)
    app = page.locator("[data-testid=stApp]")
    expect(app).to_have_attribute("data-test-connection-state", "CONNECTED", timeout=timeout)
    expect(app).to_have_attribute("data-test-script-state", "notRunning", timeout=timeout)
    expect(page.locator("[data-stale=true]")).to_have_count(0, timeout=timeout)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=timeout)


def click_when_still(locator, frames: int = 10) -> None:
    """Click `locator` once it has stayed in place for `frames` animation frames. A page that is
    still scrolling (Streamlit scrolls smoothly after an expander opens, slowly on a loaded
    machine) moves it between the press and the release, and the click lands on its block."""
    locator.scroll_into_view_if_needed()
    locator.evaluate("""(el, n) => new Promise((done) => {
      let last = '', same = 0;
      const look = () => {
        const r = el.getBoundingClientRect(), at = `${r.x},${r.y}`;
        same = at === last ? same + 1 : 0;
        last = at;
        if (same >= n) done(); else requestAnimationFrame(look);
      };
      look();
    })""", frames)
    locator.click()


def params(page) -> dict[str, str]:
    """The page's URL parameters, parsed."""
    return {k: v[0] for k, v in parse_qs(urlparse(page.url).query).items()}


def wait_for_params(page, changed: dict[str, str], timeout: float = 30_000) -> None:
    """Wait until none of the URL parameters in `changed` has its old value any more."""
    page.wait_for_function(
        "old => { const q = new URLSearchParams(location.search);"
        " return Object.entries(old).every(([k, v]) => q.has(k) && q.get(k) !== v); }",
        arg=changed, timeout=timeout)
