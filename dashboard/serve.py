"""`make run`: Streamlit's own `streamlit run dashboard/app.py ARGS`, with dashboard/warm.py run
in the same process once the server answers, so that a plain `make run`'s first visitor, too,
waits for no import, model or trace. In this process, Streamlit itself says where it listens
(STREAMLIT_ARGS, config files, environment, the next port if 8501 is taken), and the warming
ends with the server. (The Dockerfile and deploy/run.sh start warm.py beside the server.)

    python -m dashboard.serve [STREAMLIT OPTIONS] [-- APP ARGS]
"""

from __future__ import annotations

import sys
import threading
import time
import urllib.request
from pathlib import Path

from streamlit import config, runtime
from streamlit.web import cli

from . import warm

APP = Path(__file__).with_name("app.py")
LOOPBACK = ("", "0.0.0.0", "::")  # listening on every address: this machine's own is one


def local_url() -> str:
    """Where this process's server listens, as read now (Streamlit moves to the next port when
    the one asked for is taken)."""
    address = config.get_option("server.address") or ""
    host = "127.0.0.1" if address in LOOPBACK else address
    host = f"[{host}]" if ":" in host else host
    path = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"http://{host}:{config.get_option('server.port')}" + (f"/{path}" if path else "")


def answering(timeout: float) -> str:
    """This process's server's URL once it answers its health check."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if runtime.exists():  # the options are read by then
            url = local_url()
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                return url
            except OSError:
                pass
        time.sleep(0.2)
    raise TimeoutError(f"the server did not answer within {timeout:.0f} s")


def warm_when_up(timeout: float = 300) -> None:
    try:
        url = answering(timeout)
        print(f"warm: {url} ready for its first visitor in {warm.warm(url, timeout):.1f} s",
              flush=True)
    except Exception as e:  # the server still serves, only colder
        print(f"warm: not warmed ({e!r})", file=sys.stderr, flush=True)


def main(args: list[str]) -> None:
    threading.Thread(target=warm_when_up, name="warm", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *args]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
