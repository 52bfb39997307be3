"""Exports are the page: the offline chart's colours and steps, the posts' bias line, the
poster's notes outside the post; and the question views keep the reader's model and text.

Numbers are recomputed here from the checkpoint with plain nn.GRU (tests/reference.py)."""

import json
import re

import plotly.graph_objects as go
import pytest

from dashboard import charts, offline
from dashboard.post import worked_post
from gru_core import balance, heatmaps, load_checkpoint, number_claim, worked_example

from .. import reference as ref
from ..conftest import CHECKPOINTS, open_app

COURSE = "The cats, which already ate the fish, were full."
SPEECH = "First Citizen:\nBefore we proceed any further, hear me speak."


@pytest.fixture(scope="module")
def shakespeare():
    return load_checkpoint(CHECKPOINTS / "shakespeare.pt")


def test_page_and_offline_chart_share_their_colours(shakespeare):
    """A named scale is read one way by plotly.js (the page) and the other by plotly.py (the
    offline copy): the scales are spelled out, +1 red and −1 blue in both."""
    tt = shakespeare.trace(SPEECH)
    spec = charts.step_chart(balance(tt, 3), heatmaps(tt), 5, 3, {k: k for k in (
        "r", "z", "n", "h", "keep", "new")})
    page = spec["layout"]["coloraxis2"]["colorscale"]
    assert page == charts.VALUES_SCALE
    assert page[0][1] == "rgb(5,10,172)" and page[-1][1] == "rgb(178,10,28)"  # −1 blue, +1 red
    fig = go.Figure(data=spec["data"], layout=spec["layout"])  # as the offline copy builds it
    assert [list(c) for c in fig.layout.coloraxis2.colorscale] == page
    assert [list(c) for c in fig.layout.coloraxis.colorscale] == charts.GATES_SCALE


def test_offline_chart_holds_every_step_up_to_its_cap(shakespeare):
    tt = shakespeare.trace(SPEECH)
    html = offline.stepper_html(tt, 7, 3, 0, 0, {k: k for k in ("r", "z", "n", "h", "keep",
                                                                 "new")}, "shakespeare")
    assert f"every step of the text, t = 0..{tt.T - 1}" in html
    frames = re.findall(r'"name":\s*"(\d+)"', html)
    assert sorted({int(f) for f in frames}) == list(range(tt.T))
    assert "rgb(178,10,28)" in html
    for T, t in ((5000, 10), (5000, 2500), (5000, 4990), (1000, 999)):
        w = offline.chart_steps(t, T)
        assert w.start <= t < w.stop and w.stop - w.start == min(T, offline.CHART_STEPS)
        assert w.start >= 0 and w.stop <= T


@pytest.mark.parametrize("notation", ["pytorch", "course"])
def test_worked_post_states_b_r_and_holds_no_note_for_the_poster(shakespeare, notation):
    gru, _, _ = ref.plain_model("shakespeare")
    b_ir, b_hr = gru.bias_ih_l0.detach()[:256].double(), gru.bias_hh_l0.detach()[:256].double()
    tt = shakespeare.trace(SPEECH)
    units = [3, 17]
    ex = worked_example(tt, [33, 34], units)
    post = worked_post(ex, "shakespeare", SPEECH, "http://localhost:8501/?view=example",
                       notation)
    plain = post.replace("\\", "")
    assert "b_r = b_ir + b_hr" in plain  # the mentor's first remark, in the post's words
    if notation == "course":  # and each unit's own number, in the math
        for u in units:
            line = next(x for x in post.split("\n") if x.startswith(f"b_{{r,{u}}}"))
            value = float(line.rsplit("=", 1)[1].strip().rstrip("\\ "))
            assert value == pytest.approx((b_ir[u] + b_hr[u]).item(), abs=1e-4)
    assert "GRU_STEPPER_PUBLIC_URL" not in plain and "Note:" not in plain
    assert "this computer" not in plain


def test_number_claim_says_which_sentences_it_answers_on():
    import pandas as pd
    table = pd.DataFrame({"unit": [76, 3], "difference": [-0.5, 0.2],
                          "persistence": [0.9, 0.4]})
    sym = {"h": "c⟨t⟩"}
    own = number_claim(table, ("The cat, which ran, w", "The cats, which ran, w"), True, 40, sym)
    other = number_claim(table, ("a", "b"), False, 40, sym)
    assert own.text.startswith("Ranked on 40 held-out minimal pairs, unit **76**")
    assert "your sentence and its pair" in own.text and "−0.500" in own.text
    assert "(singular 'The cat, …', plural 'The cats, …')" in own.text  # each whole
    assert other.text.startswith("This view answers on minimal pairs, not on your text")
    assert "unit 76 over your own text" in other.text


def test_number_view_keeps_the_readers_text_where_it_can():
    text = "The dogs, which saw the fish, were happy."
    at = open_app(view="number", ckpt="agreement", text=text)
    assert not at.exception
    first = [m.value for m in at.markdown if not m.value.startswith("<div")][0]
    assert first.startswith("Ranked on 40") and "The dogs, …" in first
    mine = "Now, by the world, it is a lusty wench"
    at = open_app(view="number", ckpt="agreement", text=mine.lower())
    assert not at.exception
    first = [m.value for m in at.markdown if not m.value.startswith("<div")][0]
    assert first.startswith("This view answers on minimal pairs, not on your text")
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"] for c in at.get("plotly_chart")]
    assert any(t.endswith("over your text") for t in titles)


def test_questions_links_keep_the_readers_model_and_text():
    at = open_app(view="questions", ckpt="shakespeare", text="ROMEO:\nBut soft", t=4, unit=9,
                  notation="course")
    assert not at.exception
    page = "\n".join(m.value for m in at.markdown)
    for view in ("memory", "gradients", "reset", "saturation", "number"):
        mine = re.search(rf"\[[^\]]*your model and text\]\((\?view={view}[^)]*)\)", page)
        assert mine, view
        link = mine[1]
        assert "ckpt=shakespeare" in link and "text=ROMEO%3A%0ABut+soft" in link
        assert "unit=9" in link and "notation=course" in link


def test_reset_view_marks_the_actual_next_character():
    t = COURSE.index("fish") + 1  # reading 'i', next 's'
    at = open_app(view="reset", ckpt="agreement", text=COURSE, t=t)
    assert not at.exception
    figs = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][1:]  # the predictions
    assert [f["layout"]["title"]["text"] for f in figs] == [
        "Next character: this model (r as computed)", "Next character: with r = 1 at this step"]
    _, probs, vocab = ref.run("agreement", COURSE)
    for f in figs:
        bar = f["data"][0]
        marked = [y for y, c in zip(bar["y"], bar["marker"]["color"], strict=True)
                  if c == charts.NEW]
        assert marked == [repr("s")]  # the character that comes next, orange
    page = "\n".join(m.value for m in at.markdown)
    p = probs[t, vocab.index("s")].item()
    assert f"has {p:.1%} with this model's r" in page
    assert "total variation" in page.split("\n")[1] or "total variation" in page


def test_course_notation_on_the_question_views():
    for view, extra in (("memory", {}), ("gradients", {}), ("reset", {}), ("saturation", {})):
        at = open_app(view=view, ckpt="agreement", text=COURSE, t=30, unit=76,
                      notation="course", **extra)
        assert not at.exception
        words = [m.value for m in at.markdown if not m.value.startswith("<div")]
        words += [c.value for c in at.caption] + [m.label for m in at.metric]
        for c in at.get("plotly_chart"):
            lay = json.loads(c.proto.spec)["layout"]
            words += [str(lay.get("title", {}).get("text", ""))]
            words += [str(lay.get(a, {}).get("title", {}).get("text", ""))
                      for a in ("xaxis", "yaxis", "yaxis2")]
            words += [d.get("name", "") for d in json.loads(c.proto.spec)["data"]]
        for w in words:
            assert "h_prev" not in w and "∏1" not in w and "h = h" not in w, (view, w)
            if "PyTorch" not in w:  # its names only in a sentence that says it is about it
                assert not re.search(r"(?<![\w⟨−])[zn](?![\w⟩])", w), (view, w)


def test_the_course_posts_equations_use_no_pytorch_names(shakespeare):
    """In the course notation the worked example's equations name the parts of a gate's sum as
    the course does (input part, hidden part); PyTorch's ir, hr, iz, hz, in, hn appear only in
    b_r = b_ir + b_hr, the mentor's remark, and in the PyTorch notation's own post."""
    from dashboard.post import step_latex

    ex = worked_example(shakespeare.trace(SPEECH), [33, 34], [3, 17])
    for i in range(2):
        course = step_latex(ex, i, "course")
        bare = re.sub(r"b_\{\\mathrm\{(ir|hr)\}\}", "", course)
        assert not re.search(r"(?<![\\\w{])(ir|hr|iz|hz|in|hn)\b", bare), bare
        assert r"\text{input part}" in course and r"\text{hidden part}" in course
        assert re.search(r"\\sigma\(ir \+ hr\)", step_latex(ex, i, "pytorch"))
