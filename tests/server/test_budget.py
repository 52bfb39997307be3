"""The server's memory: traces accounted by their bytes under one budget, the least recently
used evicted first, and a text whose trace alone exceeds the budget refused with a message."""

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import budget, cache, catalogue
from gru_core import load_checkpoint

from ..conftest import CHECKPOINTS, ROOT

TEXT = "The dogs, which chased the cat, were tired. "


@pytest.fixture
def model():
    return catalogue.model("agreement")  # resident: its traces are accounted at their tensors


def test_least_recently_used_traces_are_evicted_to_stay_in_budget(model, monkeypatch):
    texts = [(TEXT * 40)[:n] for n in (1500, 1400, 1300)]
    peaks = [budget.peak_nbytes(model, len(t)) for t in texts]
    held_0 = budget.estimate_nbytes(model, len(texts[0]))
    room = held_0 + max(peaks[1:])  # one held and another at its peak; never all three
    monkeypatch.setenv("GRU_STEPPER_CACHE_MB", str(room / 2**20))
    first = cache.trace("agreement", model, texts[0])
    cache.trace("agreement", model, texts[1])
    assert cache.trace("agreement", model, texts[0]) is first  # a hit, now most recent
    cache.trace("agreement", model, texts[2])  # needs room: texts[1] is the least recent
    held = cache.traces()
    assert set(held) == {("agreement", texts[0]), ("agreement", texts[2])}
    assert held.currsize == sum(tt.nbytes() for tt in held.values()) <= held.maxsize
    assert all(held.getsizeof(tt) == tt.nbytes() for tt in held.values())  # shipped: resident


def test_a_text_too_large_for_the_budget_is_refused(model, monkeypatch):
    monkeypatch.setenv("GRU_STEPPER_CACHE_MB", "1")
    with pytest.raises(cache.TooLarge, match=r"About [\d,]+ characters fit"):
        cache.trace("agreement", model, TEXT * 20)
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"ckpt": "agreement", "text": TEXT * 20})
    at.run()
    assert not at.exception
    assert "too long for this server" in at.error[0].value
    at.text_area[0].set_value(TEXT).run()  # a short text still works on the same page
    assert not at.exception and not at.error


def test_a_trace_of_an_upload_is_accounted_with_the_parameters_it_keeps_alive(monkeypatch):
    upload = load_checkpoint((CHECKPOINTS / "agreement.pt").read_bytes())  # not resident
    monkeypatch.setenv("GRU_STEPPER_CACHE_MB", "64")
    tt = cache.trace("upload:x", upload, TEXT)
    params = sum(p.nbytes for p in upload.module.parameters())
    assert cache.traces().getsizeof(tt) == tt.nbytes() + params
    cache.forget("upload:x")
    assert ("upload:x", TEXT) not in cache.traces()


def test_room_is_made_for_a_trace_at_its_peak(model):
    T = 1000
    peak = budget.peak_nbytes(model, T)
    V = len(model.vocab)
    assert peak - budget.estimate_nbytes(model, T) == 4 * T * V  # one-hot: the logits only
    two = catalogue.model("shakespeare-2layer")  # its second layer reads dense input
    assert (budget.peak_nbytes(two, T) - budget.estimate_nbytes(two, T)
            == 4 * T * 4 * two.config.hidden_size)
    assert budget.peak_nbytes(two, 100_000) <= budget.DEFAULT_CACHE_MB * 2**20  # fits by default


def test_an_upload_is_released_when_its_session_ends(monkeypatch):
    monkeypatch.setattr(catalogue, "_UPLOADS", {})  # no other session (AppTest's) holds it
    monkeypatch.setattr(catalogue, "session_id", lambda: "student")
    data = (CHECKPOINTS / "agreement.pt").read_bytes()
    key = catalogue.upload_key(data, None)
    ck = catalogue.uploaded(key, data, None)
    assert catalogue.uploaded(key, data, None) is ck  # loaded once for the session
    cache.trace(key, ck, TEXT)
    catalogue.end_session("student")
    assert (key, TEXT) not in cache.traces()
    assert sum(p.numel() for p in ck.module.parameters()) == 0  # a kept reference holds nothing
    assert "student" not in catalogue._UPLOADS


def test_the_sweep_releases_the_uploads_of_sessions_the_runtime_no_longer_has(monkeypatch):
    removed = []

    class Store:  # Streamlit's upload and media stores: what they were asked to free
        file_storage = {"gone": {}, "here": {}}
        remove_session_files = staticmethod(removed.append)
        clear_session_refs = staticmethod(lambda session: removed.append(("media", session)))
        remove_orphaned_files = staticmethod(lambda: None)

    class Runtime:  # the server's runtime: only "here" is an active session
        exists = staticmethod(lambda: True)
        instance = staticmethod(lambda: Runtime)
        is_active_session = staticmethod(lambda session: session == "here")
        uploaded_file_mgr = media_file_mgr = Store

    monkeypatch.setattr(catalogue, "_UPLOADS", {})
    data = (CHECKPOINTS / "agreement.pt").read_bytes()
    key = catalogue.upload_key(data, None)
    for session in ("here", "gone"):
        monkeypatch.setattr(catalogue, "session_id", lambda s=session: s)
        catalogue.uploaded(key, data, None)
    monkeypatch.setattr(catalogue, "Runtime", Runtime)
    monkeypatch.setattr(catalogue, "_SEEN", {})
    catalogue.sweep()
    assert set(catalogue._UPLOADS) == {"here", "gone"}  # one sweep's grace: a reconnect
    catalogue.sweep()
    assert removed == ["gone", ("media", "gone")]  # Streamlit's own copies freed too
    assert set(catalogue._UPLOADS) == {"here"}  # the same file, still held where it is open
    assert sum(p.numel() for p in catalogue._UPLOADS["here"][1].module.parameters()) > 0
    catalogue.end_session("here")
