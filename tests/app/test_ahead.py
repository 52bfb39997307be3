"""What is computed ahead of a click (dashboard/cache.py) and before the first visitor
(dashboard/warm.py): the same numbers, computed once."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import torch

from dashboard import cache, warm
from dashboard.registry import VIEWS
from dashboard.selection import COURSE_TEXT
from dashboard.text import plain, show_token
from gru_core import (
    HIGH,
    LOW,
    default_span_start,
    exact_counts,
    fractions,
    histogram,
    holders,
    jacobian_norms,
    memory_claims,
    saturation,
)

from ..browser import ROOT, free_port, serve
from ..conftest import open_app


def test_a_value_asked_for_while_it_is_computed_is_computed_once():
    analyses, calls, started = cache.Analyses(), [], threading.Event()

    def slow():
        calls.append(1)
        started.set()
        time.sleep(0.3)
        return [1.0, 2.0]

    out = []
    first = threading.Thread(target=lambda: out.append(analyses.get(("k",), slow, "…")))
    first.start()
    started.wait()
    out.append(analyses.get(("k",), slow, "…"))  # waits for the first instead
    first.join()
    assert out == [[1.0, 2.0], [1.0, 2.0]] and len(calls) == 1


def test_ahead_runs_only_the_latest_request_once_the_reader_pauses():
    ahead, ran, done = cache.Ahead(), [], threading.Event()
    for i in range(5):  # stepping through a text: each step replaces the last
        ahead.submit(lambda i=i: (ran.append(i), done.set()))
    assert done.wait(5) and ran == [4]


EXIT_UNDER_A_JOB = """
import threading, time, sys
from dashboard import cache
started = threading.Event()
def job():
    started.set()
    time.sleep(1.0)
    open(sys.argv[1], "w").write("finished")
cache.Ahead().submit(job)
started.wait(10)
"""  # the process ends while the job runs


def test_a_process_ending_while_a_job_runs_waits_for_it(tmp_path):
    """A daemon thread cut off at exit while torch works aborts the process (status 134): the
    background job is joined instead."""
    out = tmp_path / "out.txt"
    done = subprocess.run([sys.executable, "-c", EXIT_UNDER_A_JOB, str(out)], cwd=ROOT,
                          timeout=120)
    assert done.returncode == 0 and out.read_text() == "finished"


def test_the_gradient_curve_computed_ahead_is_the_views_own():
    ck = cache.model("agreement")
    tt = cache.trace("agreement", ck, COURSE_TEXT)
    t = COURSE_TEXT.index(", were") + 2
    cache.ahead("agreement", ck, tt, t, 0, 0)
    key = ("grad", "agreement", COURSE_TEXT, t, 0, 0)
    deadline = time.time() + 60
    while key not in cache._ANALYSES._done and time.time() < deadline:
        time.sleep(0.1)
    ahead = cache.gradient_norms("agreement", COURSE_TEXT, t, 0, 0, tt)
    assert torch.equal(torch.tensor(ahead), jacobian_norms(tt, t, 0, since=0))


def test_warm_opens_every_question_link_and_every_view():
    with serve(ROOT / "dashboard/app.py", timeout=120) as url:
        opened = warm.run_all(url)
    linked = [v for v in VIEWS.values() if v.link]
    # each question's deep link, on the reader's model and text and on its shipped example
    assert len([q for q in opened if "&" in q]) == 2 * len(linked)
    assert {f"view={v.key}" for v in linked} <= set(opened)  # and each view on the default text
    assert not any(opened.values())  # none of the pages showed an exception


def test_make_run_warms_its_own_server_before_the_first_visitor(tmp_path):
    """`make run` (dashboard/serve.py) warms the server it starts, on the port Streamlit was
    given through STREAMLIT_ARGS, with no warm.py beside it: no visitor has come yet."""
    port, log = free_port(), tmp_path / "run.log"
    args = f"--server.headless true --server.port {port} --server.fileWatcherType none"
    with open(log, "wb") as out:
        run = subprocess.Popen(["make", "run", f"STREAMLIT_ARGS={args}"], cwd=ROOT, stdout=out,
                               stderr=subprocess.STDOUT, start_new_session=True)
    url, deadline = f"http://127.0.0.1:{port}", time.time() + 240
    try:
        while f"warm: {url} ready for its first visitor in" not in log.read_text():
            assert run.poll() is None and time.time() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        links, failed = asyncio.run(warm.run_once(url, "view=questions"))  # it still serves
        assert links and not failed
        assert "not warmed" not in log.read_text()
    finally:
        os.killpg(run.pid, signal.SIGTERM)
        run.wait(timeout=30)


def test_a_computation_that_failed_is_done_again_by_the_one_who_waited_for_it():
    analyses, started = cache.Analyses(), threading.Event()

    def fails():
        started.set()
        time.sleep(0.3)
        raise RuntimeError("evicted")

    raised = []

    def view():
        try:
            analyses.get(("k",), fails, "…")
        except RuntimeError as e:
            raised.append(e)

    first = threading.Thread(target=view)
    first.start()
    started.wait()
    assert analyses.get(("k",), lambda: [3.0], "…") == [3.0]
    first.join()
    assert len(raised) == 1  # the failure reached its own caller only


def wait_for(key: tuple, seconds: float = 60) -> object:
    deadline = time.time() + seconds
    while key not in cache._ANALYSES._done:
        assert time.time() < deadline, f"{key[:2]} was not computed ahead"
        time.sleep(0.1)
    return cache._ANALYSES._done[key]


def test_the_question_views_numbers_are_ready_after_the_first_page():
    """The stepper drawn, the numbers of "Do gates go to 0/1?" and "Is the state frozen?" are
    computed in the background under the keys their views read; they are the analyses' own,
    and the views opened next draw them."""
    text = "The wolves, which already ate the plums, were full."
    at = open_app(ckpt="agreement", text=text, t=9, unit=3)
    assert not at.exception
    tt = cache.trace("agreement", cache.model("agreement"), text)
    s = default_span_start(tt, 9, 3, 0)
    gates = wait_for(("saturation", "agreement", text, None, 0, ("r", "z")))
    frozen = wait_for(("memory", "agreement", text, None, 9, 3, 0, s, "pytorch"))
    df = saturation(tt, LOW, HIGH, ("r", "z"))
    pd.testing.assert_frame_equal(gates.units, df[df.layer == 0])
    assert gates.f == {g: fractions(tt, g, 0, LOW, HIGH) for g in ("r", "z")}
    assert gates.exact == {g: exact_counts(tt, g, 0) for g in ("r", "z")}
    for g in ("r", "z"):
        pd.testing.assert_frame_equal(gates.hists[g], histogram(tt, g, 0))
    pd.testing.assert_frame_equal(frozen.holders, holders(tt, s, 9, 0))
    tokens = [show_token(tok) for tok in tt.tokens]
    assert [c.text for c in frozen.claims] == [
        c.text for c in memory_claims(tt, s, 9, 3, 0, "pytorch", tokens, quote=plain)]
    at.sidebar.radio(key="view").set_value("saturation").run()
    assert not at.exception
    shown = {m.label: m.value for m in at.metric}
    assert shown[f"z near 1 (> {HIGH})"] == f"{gates.f['z']['above']:.1%}"
    at.sidebar.radio(key="view").set_value("memory").run()
    assert not at.exception
    assert frozen.claims[0].text in [m.value for m in at.markdown]
