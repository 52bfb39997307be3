"""The order traces run in (dashboard/budget.py): a short text never waits behind a long one,
the smallest waiting text goes first in its lane, and a session has one trace in flight. Threads
and events only: no timing."""

import threading

import pytest

from dashboard import budget

LONG, SHORT = 100_000, 19


def hold(lanes: budget.Lanes, steps: int, session: str, started: list, release: threading.Event,
         entered: threading.Event | None = None) -> threading.Thread:
    """A trace of `steps` tokens that, once its turn comes, runs until `release` is set."""
    def run():
        with lanes.slot(steps, session):
            started.append(steps)
            if entered is not None:
                entered.set()
            release.wait(30)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def wait_until_queued(lanes: budget.Lanes, long: bool, n: int) -> None:
    with lanes._cond:
        assert lanes._cond.wait_for(lambda: len(lanes._waiting[long]) >= n, timeout=30)


def test_a_short_text_runs_while_long_ones_hold_the_long_lane():
    lanes, started, release = budget.Lanes(long_steps=5_000), [], threading.Event()
    running = threading.Event()
    longs = [hold(lanes, LONG, f"long{i}", started, release, running if i == 0 else None)
             for i in range(3)]
    assert running.wait(30)
    wait_until_queued(lanes, True, 2)  # the other two wait behind the first
    go, short_done = threading.Event(), threading.Event()
    go.set()  # the short trace returns as soon as its turn comes
    short = hold(lanes, SHORT, "short", started, go, short_done)
    assert short_done.wait(30)  # it ran although no long trace finished
    short.join(30)
    assert started == [LONG, SHORT] and not release.is_set()
    release.set()
    for thread in longs:
        thread.join(30)
    assert started == [LONG, SHORT, LONG, LONG]


def test_the_smallest_waiting_text_goes_first_in_its_lane():
    lanes, started, release = budget.Lanes(long_steps=5_000), [], threading.Event()
    first = threading.Event()
    threads = [hold(lanes, 90_000, "a", started, release, first)]
    assert first.wait(30)
    threads += [hold(lanes, 80_000, "b", started, release)]
    wait_until_queued(lanes, True, 1)
    threads += [hold(lanes, 6_000, "c", started, release)]
    wait_until_queued(lanes, True, 2)
    release.set()
    for thread in threads:
        thread.join(30)
    assert started == [90_000, 6_000, 80_000]


def test_a_session_has_one_trace_in_flight():
    lanes, started, release, running = budget.Lanes(), [], threading.Event(), threading.Event()
    thread = hold(lanes, LONG, "s", started, release, running)
    assert running.wait(30)
    with pytest.raises(budget.Busy, match="already has 1 text"), lanes.slot(SHORT, "s"):
        pass
    with lanes.slot(SHORT, "other"):  # another session is not held up
        pass
    release.set()
    thread.join(30)
    with lanes.slot(SHORT, "s"):  # and the session's slot is free again
        pass
    assert not lanes._in_flight


def test_a_trace_that_fails_gives_its_turn_back():
    lanes = budget.Lanes()
    with pytest.raises(RuntimeError, match="boom"), lanes.slot(LONG, "s"):
        raise RuntimeError("boom")
    with lanes.slot(LONG, "s"):
        pass
    assert not lanes._in_flight and not any(lanes._running.values())


def test_the_longest_text_is_a_host_setting(monkeypatch):
    monkeypatch.delenv("GRU_STEPPER_MAX_TEXT", raising=False)
    assert budget.max_text() == budget.DEFAULT_MAX_TEXT
    monkeypatch.setenv("GRU_STEPPER_MAX_TEXT", "2000")
    assert budget.max_text() == 2000
