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
from pathlib import Path

from streamlit import config, runtime
from streamlit.web import cli

from . import warm

APP = Path(__file__).with_name("app.py")
EVERY_ADDRESS = ("", "0.0.0.0", "::")  # listening on all of them: this machine's own is one


def local_url() -> str | None:
    """Where this process's server listens, as read now (Streamlit moves to the next port when
    the one asked for is taken); None until Streamlit has read its options."""
    if not runtime.exists():
        return None
    address = config.get_option("server.address") or ""
    host = "127.0.0.1" if address in EVERY_ADDRESS else address
    host = f"[{host}]" if ":" in host else host
    path = (config.get_option("server.baseUrlPath") or "").strip("/")
    return f"http://{host}:{config.get_option('server.port')}" + (f"/{path}" if path else "")


def main(args: list[str]) -> None:
    threading.Thread(target=warm.announce, args=(local_url,), name="warm", daemon=True).start()
    sys.argv = ["streamlit", "run", str(APP), *args]
    cli.main()


if __name__ == "__main__":
    main(sys.argv[1:])
