"""The memory budget bounds the server's resident memory: a series of uploads, each traced over a
long text, and long texts on a shipped model, measured in a subprocess (its own peak RSS, VmHWM,
reset after the baseline). The bound: baseline + budget + the upload a session is loading (the
state_dict read from its bytes, the model built from it) + SLACK for what the allocator keeps of
freed traces (glibc arenas of the trace's worker threads, which vary by machine). A budget that
did not count uploads' parameters and traces' peaks would let ten uploads hold ten models, well
over this bound."""

import json
import os
import string
import subprocess
import sys
from pathlib import Path

from ..conftest import ROOT

BUDGET_MB = 160
SLACK = 80 * 2**20
CHILD = r"""
import io, json, string, sys, torch
from torch import nn
from dashboard import budget, cache, catalogue

def rss(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1]) * 1024

printable = list(string.printable)
def upload(seed):  # spro/char-rnn.pytorch's GRU, 1024 units: ~13 MB of parameters
    torch.manual_seed(seed)
    m = nn.ModuleDict({"encoder": nn.Embedding(100, 64), "rnn": nn.GRU(64, 1024),
                       "decoder": nn.Linear(1024, 100)})
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    return buf.getvalue()

corpus = (string.ascii_letters + " .,;\n") * 4000
shipped = catalogue.model("shakespeare-2layer")
cache.trace("shakespeare-2layer", shipped, corpus[:100])
files = [upload(seed) for seed in range(10)]
base = rss("VmRSS:")
open("/proc/self/clear_refs", "w").write("5")  # VmHWM := VmRSS
for i, data in enumerate(files):
    key = catalogue.upload_key(data, printable)
    ck = catalogue.uploaded(key, data, printable)
    cache.trace(key, ck, corpus[i: i + 2000])
for i in range(4):
    try:
        cache.trace("shakespeare-2layer", shipped, corpus[i: i + 3000 + 500 * i])
    except cache.TooLarge:
        pass
print(json.dumps({"base": base, "peak": rss("VmHWM:"), "file": len(files[0]),
                  "held": cache.traces().currsize, "budget": budget.budget_bytes()}))
"""


def test_uploads_and_long_texts_stay_within_the_budget():
    out = subprocess.run([sys.executable, "-c", CHILD], cwd=ROOT, capture_output=True,
                         text=True, timeout=600,
                         env={"GRU_STEPPER_CACHE_MB": str(BUDGET_MB), "PYTHONPATH": str(ROOT),
                              "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr[-3000:]
    m = json.loads(out.stdout.strip().splitlines()[-1])
    print({k: f"{v / 2**20:,.0f} MiB" for k, v in m.items()})
    assert m["held"] <= m["budget"] == BUDGET_MB * 2**20
    assert m["peak"] <= m["base"] + m["budget"] + 2 * m["file"] + SLACK, (
        f"peak RSS {m['peak'] / 2**20:,.0f} MiB over baseline {m['base'] / 2**20:,.0f} MiB + "
        f"budget {BUDGET_MB} MiB + one upload + slack")


def test_long_text_sessions_leave_no_trace_outside_the_budget():
    """Sessions on long texts, one after another and then together, each closing its tab: the
    server holds no more than the budget beyond idle, and once the tabs close, about idle. A
    download button's data built when clicked (cache.later) keeps the trace's key; a callable
    that captured the trace kept one trace per session outside the budget (Streamlit keeps the
    callable while the session lives, and a closed one for minutes)."""
    from bench.load_memory import measure

    corpus = Path(os.environ.get("TINYSHAKESPEARE", ROOT.parent / "shared/data/"
                                 "tinyshakespeare.txt"))
    text = corpus.read_text() if corpus.is_file() else (string.ascii_letters + " .,;\n") * 9000
    m = measure("shakespeare-2layer", 12_000, sessions=4, at_once=2, budget_mb=BUDGET_MB * 1.6,
                corpus=text)
    print({k: f"{v:,.0f}" for k, v in m.items()})
    assert m["errors"] == 0
    bound = m["idle"] + BUDGET_MB * 1.6 + 160  # + what the allocator keeps of freed traces
    for phase in ("one_after_another", "at_once"):
        assert m[f"{phase}_peak"] <= bound, (phase, m)
        assert m[f"{phase}_after"] <= m["idle"] + 100, (phase, m)



def test_uploads_are_released_when_their_tabs_close():
    """Tabs upload files through the page's own protocol and close: Streamlit's upload store
    and the closed sessions' state (the uploader's value holds the bytes) are freed by the
    sweeper, so the server returns to about its idle size."""
    import asyncio
    import time

    from bench.load_memory import SETTLE, rss
    from bench.load_uploads import _tabs, upload
    from tests.browser import serve

    env = {"STREAMLIT_SERVER_ENABLE_XSRF_PROTECTION": "false", "OMP_NUM_THREADS": "1"}
    with serve(ROOT / "dashboard/app.py", timeout=180, env=env) as url:
        asyncio.run(upload(url, "warm.pt", b"x"))
        time.sleep(SETTLE)
        idle = rss(url.pid) / 2**20
        held = asyncio.run(_tabs(url, os.urandom(50 * 2**20), 3))
        time.sleep(SETTLE)
        after = rss(url.pid) / 2**20
    print(f"idle {idle:,.0f} MiB, held {held:,.0f}, after {after:,.0f}")
    assert held >= idle + 100  # the uploads were held while their tabs were open
    assert after <= idle + 100  # before: idle + the uploads, for minutes
