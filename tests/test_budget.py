"""The server's memory: traces accounted by their bytes under one budget, the least recently
used evicted first, and a text whose trace alone exceeds the budget refused with a message."""

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import cache
from gru_core import estimate_nbytes, load_checkpoint

from .conftest import CHECKPOINTS, ROOT

TEXT = "The dogs, which chased the cat, were tired. "


@pytest.fixture
def model():
    ck = load_checkpoint(CHECKPOINTS / "agreement.pt")
    ck.name = "agreement"
    return ck


def test_least_recently_used_traces_are_evicted_to_stay_in_budget(model, monkeypatch):
    texts = [(TEXT * 40)[:n] for n in (1500, 1400, 1300)]
    sizes = [estimate_nbytes(model, len(t)) for t in texts]
    budget = sizes[0] + sizes[1] + sizes[2] // 2  # room for two of the three
    monkeypatch.setenv("GRU_STEPPER_CACHE_MB", str(budget / 2**20))
    first = cache.trace("agreement", model, texts[0])
    cache.trace("agreement", model, texts[1])
    assert cache.trace("agreement", model, texts[0]) is first  # a hit, now most recent
    cache.trace("agreement", model, texts[2])  # needs room: texts[1] is the least recent
    held = cache.traces()
    assert set(held) == {("agreement", texts[0]), ("agreement", texts[2])}
    assert held.currsize == sizes[0] + sizes[2] <= held.maxsize
    assert all(held.getsizeof(tt) == tt.nbytes() for tt in held.values())


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
