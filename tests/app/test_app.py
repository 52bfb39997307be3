"""The dashboard through streamlit.testing: deep links, controls, bad input, the question views.

Every number checked here is recomputed in the test from the checkpoint file with plain nn.GRU
(tests/reference.py), not with gru_core.
"""

import base64
import json
import re

import numpy as np
import pytest
import torch

from dashboard.text import plain, text_window
from gru_core import fmt, fmt_near, pct

from .. import reference as ref
from ..conftest import CHECKPOINTS, ROOT, open_app

APP = str(ROOT / "dashboard/app.py")
COURSE = "The cats, which already ate the fish, were full."


def texts(at) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.info]
    parts += [m.value for m in at.warning] + [m.value for m in at.error]
    parts += [f"{m.label}={m.value}" for m in at.metric]
    return "\n".join(parts)


def number_after(pattern: str, text: str) -> float:
    m = re.search(pattern + r"\s*\**\s*([−-]?\d+\.\d+(?:e[+−-]?\d+)?)", text)
    assert m, f"{pattern!r} not found in:\n{text[:2000]}"
    return float(m.group(1).replace("−", "-"))


def test_default_view_is_the_course_example_on_the_number_unit():
    at = open_app()
    assert not at.exception
    assert at.text_area[0].value == COURSE
    assert at.query_params["ckpt"] == "agreement" and at.query_params["view"] == "step"
    t = int(at.slider[0].value)
    assert COURSE.index(",") < t < COURSE.index(", were")  # inside the clause
    assert set(live_charts(at)) == {"step_chart"}
    pred = next(json.loads(json.loads(c.proto.json)["spec"]) for c in at.get("bidi_component")
                if c.proto.component_name == "live_prediction")  # a window of steps' parts
    at_t = next(p for p in pred if p["t"] == t)
    assert at_t["title"] == f"Next token after t = {t}" and len(at_t["rows"]) == 5
    assert [r["actual"] for r in at_t["rows"]].count(True) <= 1


def live_charts(at) -> dict[str, dict]:
    """The figures sent to dashboard/live_chart.py's component, by key."""
    out = {}
    for el in at.get("bidi_component"):
        if el.proto.component_name == "live_chart":
            out[el.proto.id.rsplit("-", 1)[-1]] = json.loads(json.loads(el.proto.json)["spec"])
    return out


def decode(array) -> np.ndarray:
    """A plotly.py typed array ({"dtype", "bdata", "shape"}) or a plain list."""
    if isinstance(array, list):
        return np.asarray(array)
    values = np.frombuffer(base64.b64decode(array["bdata"]), dtype=array["dtype"])
    shape = array.get("shape")
    return values.reshape([int(n) for n in shape.split(",")]) if shape else values


def test_step_chart_draws_nn_grus_numbers_and_marks_step_and_unit():
    t, unit = 30, 17
    at = open_app(ckpt="agreement", text=COURSE, t=t, unit=unit)
    fig = live_charts(at)["step_chart"]
    g = ref.gates("agreement", COURSE)
    heat = {tr["yaxis"]: tr for tr in fig["data"] if tr["type"] == "heatmap"}
    steps = decode(heat["y6"]["x"]).astype(int)
    assert t in steps and len(steps) <= 60
    rows = [int(r[0]) for r in heat["y6"]["customdata"]]  # every 2nd of 128 units, and the unit
    assert rows == sorted({*range(0, 128, 2), unit})
    # h is nn.GRU's own output, bit for bit; the gates by the equations, summed in another order
    np.testing.assert_array_equal(decode(heat["y6"]["z"]), g["h"][steps][:, rows].T.numpy())
    for ya, name in (("y3", "r"), ("y4", "z"), ("y5", "n")):
        want = g[name][steps][:, rows].T.numpy()  # (unit, step)
        np.testing.assert_allclose(decode(heat[ya]["z"]), want, atol=1e-5, rtol=0)
    bars = {tr["name"]: decode(tr["y"]) for tr in fig["data"] if tr["type"] == "bar"}
    kept = (g["z"] * g["h_prev"])[steps, unit].numpy()
    np.testing.assert_allclose(bars["kept: z·h_prev"], kept, atol=1e-6)
    shapes = fig["layout"]["shapes"]
    assert [s["x0"] for s in shapes if s["xref"] == "x"] == [t]
    assert {s["y0"] for s in shapes if s["xref"] == "paper"} == {rows.index(unit)}


@pytest.mark.parametrize("t, unit", [(5, 3), (30, 102), (47, 0)])
def test_deep_link_shows_nn_grus_own_h(t, unit):
    at = open_app(ckpt="agreement", text=COURSE, t=t, unit=unit)
    assert not at.exception
    out, _, _ = ref.run("agreement", COURSE)
    page = texts(at)
    assert f"Step t = {t}, unit {unit}" in "\n".join(h.value for h in at.subheader)
    assert number_after(r"nn\.GRU's own output", page) == pytest.approx(out[t, unit].item(),
                                                                       abs=5e-5)
    assert number_after(r"Recomputed \*\*h =", page) == pytest.approx(out[t, unit].item(),
                                                                      abs=5e-5)
    assert "difference **0 (bit for bit)**" in page  # PyTorch's order of operations, H = 128
    assert at.query_params["t"] == str(t) and at.query_params["unit"] == str(unit)


def test_course_notation_shows_this_models_candidate_and_the_lecture_as_a_comparison():
    t, unit = 20, 7
    at = open_app(ckpt="agreement", text=COURSE, t=t, unit=unit, notation="course")
    g = ref.gates("agreement", COURSE)
    gru, _, vocab = ref.plain_model("agreement")
    W_in, W_hn = gru.weight_ih_l0.chunk(3)[2], gru.weight_hh_l0.chunk(3)[2]
    b_c = gru.bias_ih_l0.chunk(3)[2] + gru.bias_hh_l0.chunk(3)[2]
    x = ref.one_hot(COURSE, vocab)[t]
    with torch.no_grad():
        c_tilde = torch.tanh(W_hn @ (g["r"][t] * g["h_prev"][t]) + W_in @ x + b_c)[unit]
    info = "\n".join(i.value for i in at.info)
    assert number_after("b_r = b_ir \\+ b_hr =", info) == pytest.approx(g["b_r"][unit].item(),
                                                                        abs=5e-5)
    assert number_after("would give c̃_lecture =", info) == pytest.approx(c_tilde.item(), abs=5e-5)
    assert number_after("this model computes c̃ =", info) == pytest.approx(
        g["n"][t, unit].item(), abs=5e-5)
    assert number_after("c⟨t⟩ = a⟨t⟩ =", info) == pytest.approx(g["h"][t, unit].item(),
                                                                   abs=5e-5)
    latex = "\n".join(m.value for m in at.markdown)  # the card: c⟨t⟩ is this model's h
    h = f"{g['h'][t, unit].item():.4f}"
    assert re.search(r"c\^\{\\langle t\\rangle\} = a\^\{\\langle t\\rangle\}.*= "
                     + re.escape(h), latex)
    assert "<t" not in latex and "<t" not in "\n".join(m.value for m in at.markdown)
    assert number_after("Γu = 1 − z =", info) == pytest.approx(1 - g["z"][t, unit].item(),
                                                                abs=5e-5)


def test_controls_update_the_url():
    at = open_app(ckpt="agreement", text=COURSE, t=10, unit=5)
    at.slider[0].set_value(12).run()
    assert at.query_params["t"] == "12"
    at.button(key="next").click().run()
    assert at.slider[0].value == 13 and at.query_params["t"] == "13"
    at.button(key="prev").click().run()
    assert at.query_params["t"] == "12"
    at.number_input(key="unit").set_value(9).run()  # [0] is now the t box
    assert at.query_params["unit"] == "9"
    at.radio(key="notation").set_value("course").run()
    assert at.query_params["notation"] == "course"
    at.text_area[0].set_value("The dog, which ran, was here.").run()
    assert at.query_params["text"] == "The dog, which ran, was here."


@pytest.mark.parametrize("params, message", [
    ({"t": "9999"}, "t=9999 is outside 0..47"),
    ({"t": "-5"}, "t=-5 is outside 0..47"),
    ({"t": "abc"}, "t=` abc ` is not a whole number"),
    ({"unit": "500"}, "unit=500 is outside 0..127"),
    ({"unit": "1.5"}, "unit=` 1.5 ` is not a whole number"),
    ({"ckpt": "../../etc/passwd"}, "Unknown model ` ../../etc/passwd `"),
    ({"ckpt": "nonsense"}, "Unknown model ` nonsense `"),
    ({"view": "hack"}, "Unknown view ` hack `"),
])
def test_bad_url_values_are_clamped_with_a_notice(params, message):
    at = open_app(**{"ckpt": "agreement", "text": COURSE, **params})
    assert not at.exception
    assert any(message in w.value for w in at.warning), [w.value for w in at.warning]
    assert 0 <= at.slider[0].value <= len(COURSE) - 1
    assert 0 <= at.number_input(key="unit").value <= 127


def test_empty_text():
    at = open_app(ckpt="agreement", text="")
    assert not at.exception
    assert any("empty" in w.value for w in at.warning)


def test_out_of_vocabulary_text_names_characters_and_offers_to_drop_them():
    at = open_app(ckpt="agreement", text="The cats — 3 of them — sat.")
    assert not at.exception
    err = at.error[0].value
    assert "` 3 `" in err and "` — `" in err and "positions 9, 11, 21" in err
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.text_area[0].value == "The cats   of them  sat."


def test_very_long_text_answers_with_windowed_charts():
    text = ("The dogs, which chased the cat, were tired. " * 2300)[:100_000]
    at = open_app(ckpt="agreement", text=text, t=99_990, unit=4)
    assert not at.exception
    assert at.slider[0].value == 99_990
    short = open_app(ckpt="agreement", text=COURSE * 2, t=60, unit=4)
    size = len(json.dumps(live_charts(short)["step_chart"]))
    long = live_charts(at)["step_chart"]  # windowed: as big as for a 96-character text
    assert len(json.dumps(long)) < 1.2 * size
    assert "text" not in at.query_params  # too long for a link; the rest of the view is kept
    assert at.query_params["t"] == "99990"


def test_upload_of_a_broken_file_shows_the_reason():
    at = open_app(ckpt="agreement", text=COURSE)
    at.selectbox(key="ckpt").set_value("upload").run()
    at.file_uploader[0].upload("evil.pt", b"\x80\x04not a checkpoint").run()
    assert not at.exception
    assert any("cannot be used" in e.value for e in at.error)


def test_upload_of_a_good_file_is_stepped(tmp_path):
    data = (ROOT / "checkpoints/agreement.pt").read_bytes()
    at = open_app(ckpt="agreement", text=COURSE, t=3, unit=1)
    at.selectbox(key="ckpt").set_value("upload").run()
    at.file_uploader[0].upload("mine.pt", data).run()
    assert not at.exception and not at.error
    out, _, _ = ref.run("agreement", COURSE)
    assert number_after(r"nn\.GRU's own output", texts(at)) == pytest.approx(out[3, 1].item(),
                                                                             abs=5e-5)
    assert "ckpt" not in at.query_params  # an upload cannot be linked to
    named = plain("upload mine.pt") + ":"  # named after its file
    assert any(c.value.startswith(named) for c in at.sidebar.caption)


def test_upload_of_a_state_dict_asks_for_its_vocabulary_first(tmp_path):
    import io

    buf = io.BytesIO()
    torch.save(torch.nn.GRU(5, 8).state_dict(), buf)
    at = open_app(ckpt="agreement", text=COURSE)
    at.selectbox(key="ckpt").set_value("upload").run()
    labels = [getattr(w, "label", None) for w in at.sidebar]
    assert labels.index("Vocabulary") < labels.index(at.file_uploader[0].label)  # asked first
    at.file_uploader[0].upload("my gru `x`.pt", buf.getvalue()).run()
    assert not at.exception and not at.error  # not a bad file: a question
    assert any("Pick the tokens it reads" in i.value for i in at.info)


def test_forum_post_and_csv():
    at = open_app(ckpt="agreement", text=COURSE, t=8, unit=2)
    assert not at.code  # closed: nothing is computed or sent while stepping
    at.session_state["export"] = True  # the user opens the expander
    at.run()
    post = at.code[0].value
    out, _, _ = ref.run("agreement", COURSE)
    assert "$$" in post and r"\begin{aligned}" in post and "t = 8, unit 2" in post
    assert f"{out[8, 2].item():.4f}" in post
    assert "?view=step" in post and "unit=2" in post


def test_questions_index_links_every_view():
    at = open_app(view="questions")
    page = texts(at)
    for view in ("saturation", "memory", "gradients", "reset", "number"):
        assert f"?view={view}" in page


def test_saturation_view_numbers():
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n"
    at = open_app(view="saturation", ckpt="agreement", text=text.replace(":", ",")
                  .replace("\n", " ").strip())
    assert not at.exception
    g = ref.gates("agreement", at.text_area[0].value)
    metrics = {m.label: m.value for m in at.metric}
    for gate in ("z", "r"):  # to a tenth, and the three add up to 100.0%
        said = [float(metrics[f"{gate} {k}"][:-1]) for k in ("near 0 (< 0.1)", "grey (0.1–0.9)",
                                                              "near 1 (> 0.9)")]
        assert sum(said) == pytest.approx(100)
        assert abs(said[0] - 100 * (g[gate] < 0.1).float().mean().item()) < 0.1
        assert abs(said[2] - 100 * (g[gate] > 0.9).float().mean().item()) < 0.1


def test_memory_view_retention():
    t, s = 40, 30
    at = open_app(view="memory", ckpt="agreement", text=COURSE, t=t, s=s)
    assert not at.exception
    g = ref.gates("agreement", COURSE)
    z = g["z"].double()
    ret = z[s + 1 : t + 1].prod(0)
    table = at.dataframe[0].value
    best = int(table.unit[0])
    assert best == int(ret.argmax())
    # kept as the legend writes it; every h to 4 decimals, as its neighbours
    from gru_core import share
    assert table["kept (∏z)"][0] == share(ret[best].item())
    h = g["h"].double()
    for row in table.itertuples():
        assert row.h_t == fmt(h[t, row.unit].item()) and len(row.h_t.split(".")[1]) == 4
    tiny = [u for u in table.unit if ret[u] < 1e-3]
    assert all("e−" in table.set_index("unit")["kept (∏z)"][u] for u in tiny)
    ok = (ret > 0.5) & (z[s + 1 : t + 1].min(0).values > 0.9)  # the page's rule for "held"
    unit = int(at.query_params["unit"])
    others = [u for u in range(len(ret)) if u != unit]
    held = sum(int(ok[u]) for u in others)
    rewritten = sum(int(ret[u] < 0.01) for u in others)
    page = texts(at)
    assert (f"Over the same steps {held or 'none'} of the other {len(others)} units held (z "
            f"above 0.9 at every step after step {s}, more than 50% kept) and "
            f"{rewritten} were rewritten (kept less than 1%)") in page


@pytest.mark.parametrize("view", ["memory", "gradients"])
def test_span_views_answer_at_the_first_step_and_offer_a_step(view):
    """At t = 0 there is no span: the view says how step 0 mixed the state, with the trace's
    numbers, and its button moves t to the step it suggests."""
    at = open_app(view=view, ckpt="agreement", text=COURSE, t=0, unit=3)
    assert not at.exception
    g = ref.gates("agreement", COURSE)
    page = texts(at)
    assert "At t = 0 there is no earlier step" in page
    assert f"= {g['h'][0, 3].item():.3f}.".replace("-", "−") in page
    button = next(b for b in at.button if b.label.startswith("Go to step "))
    m = re.fullmatch(r"Go to step (\d+)(?:, unit (\d+))?", button.label)
    goto, unit = int(m[1]), int(m[2] or 3)
    button.click().run()
    assert not at.exception and at.query_params["t"] == str(goto) and goto > 0
    assert at.query_params["unit"] == str(unit)
    assert "At t = 0 there is no earlier step" not in texts(at)


def test_memory_view_at_the_verb_and_on_a_short_hold():
    """At the verb the default span starts where the number unit's latest hold began (as the
    slider says) and the lead puts the move in its one step; where the selected unit held one
    step, the lead answers on the longest-holding unit and its button selects it."""
    from gru_core import default_span_start, load_checkpoint, memory_claims

    t = COURSE.index(", were") + 2
    at = open_app(view="memory", ckpt="agreement", text=COURSE, t=t, unit=76)
    assert not at.exception
    g = ref.gates("agreement", COURSE)
    z = g["z"].double()
    s = int(at.slider[-1].value)
    assert all(z[q, 76] > 0.9 for q in range(s + 1, t)) and z[s, 76] <= 0.9 < z[t - 1, 76]
    page = [m.value for m in at.markdown if not m.value.startswith("<div")]
    assert page[0].startswith(f"Not over this whole span: unit 76 held from step {s} to "
                              f"step {t - 1}")
    from gru_core import share
    ret = z[s + 1 : t + 1].prod(0)
    kept = at.dataframe[0].value.set_index("unit")["kept (∏z)"]
    assert all(kept[u] == share(ret[u].item()) for u in kept.index)
    assert any(ret[u] < 1e-3 and "e−" in kept[u] for u in kept.index)  # never a bare 0
    tt = load_checkpoint(CHECKPOINTS / "agreement.pt").trace(COURSE)
    for q in range(3, tt.T):
        for u in range(0, 128, 7):
            lead = memory_claims(tt, default_span_start(tt, q, u), q, u)[0]
            if lead.evidence.get("longest"):
                at = open_app(view="memory", ckpt="agreement", text=COURSE, t=q, unit=u)
                page = [m.value for m in at.markdown if not m.value.startswith("<div")]
                assert "too short to tell" in page[0] and lead.text.split(":")[0] in page[0]
                other = lead.evidence["longest"]["unit"]
                next(b for b in at.button if b.label == f"Show unit {other}").click().run()
                assert not at.exception and at.query_params["unit"] == str(other)
                return
    raise AssertionError("no short hold on the course sentence")


def test_memory_view_answers_for_the_selected_unit_first():
    """The default link: the number unit holds from where it began holding to t (z above 0.9
    at every step, more than half kept); the page's first line says so, and that its
    activation stayed within what it moved, while others did not hold."""
    from dashboard.views.memory import VIEW

    link = VIEW.link
    at = open_app(view="memory", **link)
    assert not at.exception
    t, unit = link["t"], link["unit"]
    g = ref.gates("agreement", COURSE)
    z, h = g["z"].double(), g["h"].double()
    held = [s for s in range(t) if z[s + 1 : t + 1, unit].prod() > 0.5
            and z[s + 1 : t + 1, unit].min() > 0.9]
    s = min(held)  # where it began holding
    assert int(at.slider[-1].value) == s and at.query_params["s"] == str(s)
    page = [m.value for m in at.markdown if not m.value.startswith("<div")]
    moved = (h[s : t + 1, unit] - h[s, unit]).abs().max().item()
    assert page[0].startswith("Only where the gate holds: ") and moved < 0.05
    assert (f"unit {unit} held from step {s} to step {t} ({t - s} steps; z above 0.9 at every "
            f"step after step {s})") in page[0]
    assert f"stayed within {fmt_near(moved)}" in page[0]
    kept = z[s + 1 : t + 1, unit].prod().item()
    assert page[1].startswith(f"Unit {unit} has held since step {s}")
    assert f"it kept {pct(kept)}" in page[1]
    zs = json.loads(next(c.proto.spec for c in at.get("plotly_chart") if "held over" in
                         c.proto.spec))["layout"]["shapes"]
    shade = next(x for x in zs if x["type"] == "rect")  # the steps the rule reads: s+1..t
    assert (shade["x0"], shade["x1"]) == (s + 0.5, t + 0.5)
    assert "frozen over the span too" in page[2] and "a⟨t⟩ = c⟨t⟩" in page[2]
    # the bars' caption counts the orange bars it draws: units that held by the same rule
    ret = z[s + 1 : t + 1].prod(0)
    ok = (ret > 0.5) & (z[s + 1 : t + 1].min(0).values > 0.9)
    n_held = sum(int(ok[u]) for u in range(len(ret)) if u != unit)
    cap = next(c.value for c in at.caption if c.value.startswith("Retention"))
    assert (f"(of {n_held} that held)" in cap) if n_held else ("no other unit held" in cap)
    fig = json.loads(at.get("plotly_chart")[1].proto.spec)  # the bars
    orange = [i for i, c in enumerate(fig["data"][0]["marker"]["color"]) if c == "#F58518"]
    assert len(orange) == min(n_held, 3) and all(ok[u] for u in orange)


def test_memory_link_selects_the_number_unit():
    from dashboard.views.memory import NUMBER_UNIT

    at = open_app(view="number", ckpt="agreement", text=COURSE, t=COURSE.index(", were") + 2)
    assert int(at.dataframe[0].value.unit[0]) == NUMBER_UNIT


def test_gradient_view_matches_autograd_through_nn_gru():
    t = 30
    at = open_app(view="gradients", ckpt="agreement", text=COURSE, t=t)
    assert not at.exception
    gru, _, vocab = ref.plain_model("agreement")
    x = ref.one_hot(COURSE, vocab)
    with torch.no_grad():
        hs = gru(x)[0]
    J = torch.autograd.functional.jacobian(lambda h: gru(x[1 : t + 1], h.unsqueeze(0))[1][0],
                                           hs[0])
    shown = number_after(r"√H = √\d+, to", texts(at))
    assert shown == pytest.approx(J.norm().item(), rel=1e-2)


def test_reset_view_counterfactual():
    t = 12
    at = open_app(view="reset", ckpt="agreement", text=COURSE, t=t)
    assert not at.exception
    g = ref.gates("agreement", COURSE)
    delta = (g["n"][t] - g["n_no_reset"][t]).abs()
    page = texts(at)
    assert number_after(r"by up to", page) == pytest.approx(delta.max().item(), abs=2e-3)


def test_number_view_were_minus_was():
    at = open_app(view="number", ckpt="agreement", text=COURSE)
    assert not at.exception
    assert not [s for s in at.slider if s.label.startswith("Timestep")]  # t plays no part
    metrics = [m for m in at.metric if "P(were)" in m.label]
    # short labels (one line at 1280×720), each sentence in full under its metric, quoted
    assert [m.label for m in metrics] == ["P(were) − P(was), singular",
                                          "P(were) − P(was), plural"]
    captions = [c.value for c in at.caption if c.value.startswith("after ")]
    assert captions == ["after ` The cat, which already ate the fish, w `",
                        "after ` The cats, which already ate the fish, w `"]
    for m, text in zip(metrics, ("The cat, which already ate the fish, w",
                                 "The cats, which already ate the fish, w"), strict=True):
        _, probs, vocab = ref.run("agreement", text)
        expected = probs[-1, vocab.index("e")] - probs[-1, vocab.index("a")]
        assert float(m.value.replace("−", "-")) == pytest.approx(expected.item(), abs=1e-3)
    assert "?view=step" in texts(at)


def test_number_view_on_another_model_points_to_agreement(tmp_path):
    at = open_app(view="number", ckpt="shakespeare", text="To be, or not to be")
    assert not at.exception
    assert any("agreement" in i.value for i in at.info)


def test_where_from_names_the_input_column_and_top_h_prev_terms():
    t, unit = 12, 9
    at = open_app(ckpt="agreement", text=COURSE, t=t, unit=unit)
    assert "is one-hot at position" not in texts(at)  # closed until the user opens it
    at.session_state["where"] = True
    at.run()
    gru, _, vocab = ref.plain_model("agreement")
    k = vocab.index(COURSE[t])
    assert f"is one-hot at position **{k}**" in texts(at)
    from dashboard.export import f4
    assert f"W_ir = {f4(gru.weight_ih_l0[unit, k].item())}" in texts(at)
    g = ref.gates("agreement", COURSE)
    W_hr = gru.weight_hh_l0.chunk(3)[0]
    product = W_hr[unit] * g["h_prev"][t]
    top = product.abs().topk(5).indices.tolist()
    assert list(at.table[0].value.index) == top  # hr's largest terms W_hr[unit, j]·h_prev[j]


def test_questions_index_keeps_the_rest_of_the_view_in_the_url():
    at = open_app(view="questions", ckpt="shakespeare-2layer", text="ROMEO:", t=3, unit=9,
                  layer=1)
    assert not at.exception
    assert at.query_params["view"] == "questions" and at.query_params["layer"] == "1"
    assert at.query_params["text"] == "ROMEO:" and at.query_params["t"] == "3"


def test_word_model_steps_over_words_with_the_embedding_named():
    t = COURSE_WORDS.index("were")
    at = open_app(ckpt="agreement-words", text=COURSE, t=t, unit=3)
    assert not at.exception and not at.error
    assert at.slider[0].max == len(COURSE_WORDS) - 1  # one step per word or punctuation mark
    assert "reading ` were `" in at.subheader[0].value
    assert "one word per step" in at.text_area[0].label
    embed, gru, head, vocab = ref_words()
    ids = torch.tensor([vocab.index(w) for w in COURSE_WORDS])
    with torch.no_grad():
        out, _ = gru(embed(ids))
    page = texts(at)
    assert number_after(r"nn\.GRU's own output", page) == pytest.approx(out[t, 3].item(),
                                                                       abs=5e-5)
    at.session_state["where"] = True
    at.run()
    page = texts(at)
    assert f"x_t is row **{vocab.index('were')}** of the embedding E" in page
    x_t = embed.weight[vocab.index("were")]
    W_ir = gru.weight_ih_l0[:64]
    top = (W_ir[3] * x_t).abs().topk(5).indices.tolist()
    assert list(at.table[0].value.index) == top  # ir's largest terms W_ir[unit, j]·x_t[j]


def test_unknown_words_are_named_and_can_be_dropped():
    at = open_app(ckpt="agreement-words", text="The cats, which devoured the fish, were full.")
    assert not at.exception
    assert "1 word not in its vocabulary: ` devoured ` (positions 4)" in at.error[0].value
    at.button[0].click().run()
    assert not at.exception and not at.error
    assert at.text_area[0].value == "The cats, which the fish, were full."


def test_number_view_on_the_word_model():
    at = open_app(view="number", ckpt="agreement-words", text=COURSE)
    assert not at.exception
    metrics = [m for m in at.metric if "P(were)" in m.label]
    embed, gru, head, vocab = ref_words()
    for m, words in zip(metrics, (["The", "cat"], ["The", "cats"]), strict=True):
        ids = torch.tensor([vocab.index(w) for w in words + COURSE_WORDS[2:9]])
        with torch.no_grad():
            p = torch.softmax(head(gru(embed(ids))[0][-1]), -1)
        expected = p[vocab.index("were")] - p[vocab.index("was")]
        assert float(m.value.replace("−", "-")) == pytest.approx(expected.item(), abs=1e-3)


COURSE_WORDS = ["The", "cats", ",", "which", "already", "ate", "the", "fish", ",", "were", "full",
                "."]


def ref_words():
    from ..loading.test_shipped import plain_words_model
    return plain_words_model()


def test_step_summary_counts_every_unit_and_picks_a_unit():
    text, t = "The dogs, which ran past the hill, were tired.", 21
    at = open_app(ckpt="agreement", text=text, t=t, unit=0)
    assert not at.exception
    g = ref.gates("agreement", text)
    z, h, h_prev = g["z"][t], g["h"][t], g["h_prev"][t]
    kept, took = int((z > 0.9).sum()), int((z < 0.1).sum())
    headline = f"At t = {t}, {kept} of the 128 units kept their value (z > 0.9), {took} took"
    assert headline in texts(at)
    most = int((h - h_prev).abs().argmax())
    picks = [b for b in at.button if b.label.startswith("unit ")]
    assert picks[0].label == f"unit {most}"
    picks[0].click().run()
    assert not at.exception and at.number_input(key="unit").value == most
    assert at.query_params["unit"] == str(most)
    course = open_app(ckpt="agreement", text=text, t=t, unit=0, notation="course")
    assert f"(Γu < 0.1), {took} took the candidate (Γu > 0.9)" in texts(course)


def test_what_if_panel_and_forum_post_summary():
    text, t, unit = "The dogs, which ran past the hill, were tired.", 12, 5
    at = open_app(ckpt="agreement", text=text, t=t, unit=unit)
    at.session_state["whatif"] = True
    at.session_state["export"] = True
    at.run()
    assert not at.exception
    z = ref.gates("agreement", text)["z"][t, unit].item()
    edit = 0.0 if z >= 0.5 else 1.0  # the panel opens on the gate's far end: an edit that acts
    assert f"Setting z of unit {unit} at t = {t} from {fmt_near(z, 2)} to {edit:.2f}" in texts(at)
    assert "kept their value" in at.code[0].value  # the summary is in the forum post too
    assert any("“Copied”" in c.value for c in at.caption)  # what copying confirms, and if not


def test_what_if_panel_speaks_the_course_notation():
    """In course mode the what-if sentence, chart legend and axis name Γu, c⟨t⟩ and ‖Δc‖,
    never z, h or ‖Δh‖."""
    text, t, unit = "The dogs, which ran past the hill, were tired.", 12, 5
    at = open_app(ckpt="agreement", text=text, t=t, unit=unit, notation="course")
    at.session_state["whatif"] = True
    at.run()
    assert not at.exception
    z = ref.gates("agreement", text)["z"][t, unit].item()
    line = next(m.value for m in at.markdown if m.value.startswith("Setting "))
    edit = 0.0 if z >= 0.5 else 1.0
    assert line.startswith(f"Setting Γu of unit {unit} at t = {t} from {fmt_near(1 - z, 2)} to "
                           f"{1 - edit:.2f}: "
                           "its c⟨t⟩ goes to")
    assert "‖Δc‖" in line and not re.search(r"\bh\b|\bz\b|‖Δh‖", line)
    fig = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
               if "After the edit" in c.proto.spec)
    names = " ".join(d.get("name", "") for d in fig["data"])
    assert "‖Δc‖" in names and "‖Δh‖" not in names and "c⟨t⟩, unit" in names
    assert fig["layout"]["yaxis2"]["title"]["text"] == "‖Δc‖"


@pytest.mark.parametrize("ckpt, contrast", [("agreement", "agreement-rnn"),
                                            ("shakespeare", "shakespeare-rnn"),
                                            ("agreement-words", None)])
def test_gradient_view_compares_with_a_plain_rnn_only_where_it_draws_one(ckpt, contrast):
    at = open_app(view="gradients", ckpt=ckpt, text=COURSE, t=20, notation="course")
    assert not at.exception
    fig = json.loads(at.get("plotly_chart")[0].proto.spec)
    names = [d.get("name", "") for d in fig["data"]]
    page = texts(at)
    drawn = any("plain RNN" in n for n in names)
    assert drawn == (contrast is not None) and ("plain RNN" in page) == drawn
    assert not any("`" in n for n in names)  # a legend is plain text: no Markdown in it
    if contrast:
        assert contrast in page and any(contrast in n for n in names)
    assert fig["layout"]["yaxis"]["title"]["text"] and fig["layout"]["xaxis"]["title"]["text"]


def test_saturation_view_names_the_layer_of_a_two_layer_model():
    at = open_app(view="saturation", ckpt="shakespeare-2layer", text=COURSE, layer=1)
    assert not at.exception
    assert next(m.value for m in at.markdown if m.value.startswith("On this text")
                ).startswith("On this text in layer 1 ")


def test_saturation_view_has_no_t_control_and_course_shows_gamma_u():
    at = open_app(view="saturation", ckpt="agreement", text=COURSE, notation="course")
    assert not at.exception
    assert not [s for s in at.slider if s.label.startswith("Timestep")]
    labels = [m.label for m in at.metric]
    assert "Γu near 0 (< 0.1)" in labels and not [x for x in labels if "1−Γu" in x]
    g = ref.gates("agreement", COURSE)
    u = 1 - g["z"].double()
    near = ((u < 0.1).double().mean() + (u > 0.9).double().mean()).item()
    line = next(m.value for m in at.markdown if m.value.startswith("Γu:"))
    assert ("mostly saturated" in line) == (near > 2 / 3)
    assert "Exactly 0 or 1? In float32" in texts(at)


def test_heatmap_order_is_kept_in_the_url():
    at = open_app(ckpt="agreement", text=COURSE, t=20, unit=76, order="mean z")
    assert not at.exception
    box = next(s for s in at.selectbox if s.label.startswith("Heatmap rows"))
    assert box.value == "mean z" and at.query_params["order"] == "mean z"
    box.set_value("similarity").run()
    assert at.query_params["order"] == "similarity"
    bad = open_app(ckpt="agreement", text=COURSE, t=20, order="<b>x</b>")
    assert "Unknown order" in texts(bad) and bad.query_params.get("order") != "<b>x</b>"


def test_what_if_edit_in_the_url_and_its_prediction_at_a_step():
    from gru_core import load_checkpoint, what_if

    text, t, unit = COURSE, 5, 3
    at = open_app(ckpt="agreement", text=text, t=t, unit=unit, wf_gate="z", wf_value="0.5")
    assert not at.exception and at.expander[[e.label for e in at.expander].index(
        "What if? Set this unit's gate at t to another value and run on")]
    z = ref.gates("agreement", text)["z"][t, unit].item()
    assert f"Setting z of unit {unit} at t = {t} from {fmt_near(z, 2)} to 0.50" in texts(at)
    assert at.query_params["wf_gate"] == "z" and at.query_params["wf_value"] == "0.5"
    ck = load_checkpoint(ROOT / "checkpoints/agreement.pt")
    wi = what_if(ck.trace(text), t, unit, "z", 0.5, steps=20)
    most = wi.decisive_step()
    box = next(s for s in at.selectbox if s.label == "Prediction after step")
    assert box.value == most and "wf_step" not in at.query_params
    assert f"After t = {most}, the edit moves" in texts(at)
    later = most + 1 if most + 1 < len(text) else most - 1
    box.set_value(later).run()
    assert not at.exception and at.query_params["wf_step"] == str(later)
    assert f"After t = {later}, the edit moves" in texts(at)
    # the link reopens the same edit at the same step, in the course's notation as Γu = 1 − z
    again = open_app(ckpt="agreement", text=text, t=t, unit=unit, wf_gate="z", wf_value="0.5",
                     wf_step=later, notation="course")
    assert f"from {fmt_near(1 - z, 2)} to 0.50" in texts(again)
    assert f"After t = {later}, " in texts(again)


@pytest.mark.parametrize("bad", [{"wf_gate": "q", "wf_value": "0.5"},
                                 {"wf_gate": "z", "wf_value": "2"},
                                 {"wf_gate": "z", "wf_value": "[x](http://e.vil)"},
                                 {"wf_gate": "r", "wf_value": "0.5", "wf_step": "9x"},
                                 {"wf_gate": "r", "wf_value": "0.5", "wf_step": "999"}])
def test_what_if_bad_url_values_get_a_plain_notice(bad):
    at = open_app(ckpt="agreement", text=COURSE, t=5, unit=3, **bad)
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert any(w.startswith("wf_") for w in warnings), warnings
    assert not any("e.vil" in w or "9x" in w for w in warnings)  # the value is not repeated


def test_screen_share_layout_is_in_the_link():
    at = open_app(ckpt="agreement", text=COURSE, t=30, unit=5, layout="compact",
                  wf_gate="z", wf_value="0.5")
    assert not at.exception and at.toggle(key="compact").value
    assert at.query_params["layout"] == "compact" and at.query_params["wf_value"] == "0.5"
    assert len(at.get("plotly_chart")) == 2  # the unit's chart beside the card, the what-if's
    at.toggle(key="compact").set_value(False).run()
    assert "layout" not in at.query_params and at.query_params["wf_gate"] == "z"
    assert len(at.get("plotly_chart")) == 1
    bad = open_app(ckpt="agreement", text=COURSE, layout="<b>x</b>")
    assert not bad.exception and not bad.toggle(key="compact").value
    assert any(w.value.startswith("layout can only be compact") for w in bad.warning)


# --- start from: h_prev at t = 0 (issue 22) -----------------------------------------------------

START_ZEROS = "h_prev at t = 0 is zeros (no initial state was given)."


def start_line(at) -> str:
    return next(m.value for m in at.markdown if " at t = 0 is " in m.value)


@pytest.mark.parametrize("params, message", [
    ({"h0_ckpt": "nosuch", "h0_text": "The dog"}, "Unknown h0_ckpt ` nosuch `: only "),
    ({"h0_ckpt": "../../etc/passwd", "h0_text": "x"}, "Unknown h0_ckpt ` ../../etc/passwd `"),
    ({"h0_text": "The dog"}, "h0_text is given without h0_ckpt"),
    ({"h0_ckpt": "agreement"}, "h0_ckpt=` agreement ` is given without h0_text"),
    ({"h0_ckpt": "agreement", "h0_text": ""}, "h0_ckpt=` agreement ` is given without h0_text"),
    ({"h0_ckpt": "**b** <img src=x onerror=alert(1)>", "h0_text": "a"}, "Unknown h0_ckpt ` **b"),
])
def test_bad_start_from_in_the_url_runs_from_zeros_with_a_notice(params, message):
    at = open_app(ckpt="agreement", text=COURSE, t=3, **params)
    assert not at.exception and not at.error
    assert any(message in w.value and w.value.endswith("starting from zeros (h_prev at t = 0 "
                                                       "is 0).") for w in at.warning), \
        [w.value for w in at.warning]
    assert start_line(at) == START_ZEROS
    assert "h0_ckpt" not in at.query_params and "h0_text" not in at.query_params
    assert "<img" not in "".join(m.value for m in at.markdown if "` **b" not in m.value)


def test_start_from_a_texts_final_state_is_plain_nn_grus_and_in_the_link():
    """h0_ckpt and h0_text: the run starts from the final state of that text (plain nn.GRU);
    the card says so with the number; the URL keeps both; a hostile text stays a code span."""
    from dashboard.export import f4
    first = "The dogs, which cost $3 & $3, were"  # '$…$' would be math, were it Markdown
    gru, _, vocab = ref.plain_model("shakespeare")
    with torch.no_grad():
        _, h_n = gru(ref.one_hot(first, vocab))
        out, _ = gru(ref.one_hot(COURSE, vocab), h_n)
    at = open_app(ckpt="shakespeare", text=COURSE, t=0, unit=5, h0_ckpt="shakespeare",
                  h0_text=first)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert start_line(at) == (f"h_prev at t = 0 is the final state h_n of {plain(first)} on "
                              f"` shakespeare ` (for unit 5: {f4(float(h_n[0, 5]))}), not "
                              "zeros.")
    assert number_after(r"nn\.GRU's own output", texts(at)) == pytest.approx(
        float(out[0, 5]), abs=6e-5)
    assert at.query_params["h0_ckpt"] == "shakespeare" and at.query_params["h0_text"] == first
    fig = live_charts(at)["step_chart"]  # the chart's numbers are the run from h_n too
    assert f"h {f4(float(out[0, 5]))} " in fig["steps"][0]["line"]
    at.session_state["export"] = True  # open "Copy as forum post"
    at.run()
    post = next(c.value for c in at.code if c.value.startswith("**GRU step t = 0"))
    assert "\n" + start_line(at) + "\n" in post  # the post says where h_prev came from too
    at.selectbox(key="h0_ckpt").set_value(None).run()  # back to zeros: the card says so
    assert start_line(at) == START_ZEROS and "h0_ckpt" not in at.query_params


@pytest.mark.parametrize("param", ["h0_ckpt", "h0_text"])
def test_hostile_start_from_values_stay_inert(param):
    """tests/app/test_hostile.py's payloads in h0_ckpt or h0_text: named only as plain text, in a
    notice (an unknown model) or an error (a text the model cannot read); nothing is made."""
    from .test_hostile import PAYLOADS, assert_inert, bodies
    for payload in PAYLOADS.values():
        start = {"h0_ckpt": payload, "h0_text": "The dog"} if param == "h0_ckpt" else {
            "h0_ckpt": "agreement", "h0_text": payload}
        at = open_app(ckpt="agreement", text=COURSE, t=3, **start)
        assert not at.exception
        shown = bodies(at)
        for body in shown:
            assert_inert(body)
        named = (plain(payload) if param == "h0_ckpt" else "Start from: ` agreement ` cannot "
                 "read its text (`")  # the reason as a code span, its fence as long as needed
        assert any(named in b for b in shown), (payload, shown)


PROSPERO = ("PROSPERO:\nMark his condition and the event; then tell me\nIf this might be a "
            "brother.\n\nMIRANDA:\nI should sin\nTo think but nobly of my grandmother:\nGood "
            "wombs have borne bad sons.\n")


def shown_text(at) -> str:
    """The text display as a reader sees it (entities decoded, line breaks as \\n)."""
    import html
    body = next(m.value for m in at.markdown if m.proto.allow_html and "<mark" in m.value)
    return html.unescape(re.sub(r"<[^b][^>]*>|</[^>]*>", "", body).replace("<br>", "\n"))


def test_text_display_cuts_at_a_line_or_a_word_and_says_so():
    # the window reached 8 characters into the first line: "…:" stood for "PROSPERO:"
    at = open_app(ckpt="shakespeare-2layer", text=PROSPERO, t=PROSPERO.index("his"), unit=199)
    assert not at.exception
    assert shown_text(at).startswith("PROSPERO:\nMark his")  # the whole line, no "…"
    # one long line: cut between words, "… " before the first whole word, " …" after the last
    words = " ".join(["word"] * 120)
    at = open_app(ckpt="shakespeare", text=words, t=300, unit=0)
    shown = shown_text(at)
    assert re.fullmatch(r"… (word )+word …", shown.replace("␣", " ")), shown
    lo, hi = text_window(words, 300, 301)
    assert words[lo - 1] == " " and words[hi] == " " and lo < 300 - 150 and hi > 301 + 150
    # whole lines left out: "…" before the first line shown and after the last; two lines,
    # the token's and the one before it (so the stepper's card and cell stay on the screen)
    lines = "\n".join(f"line {chr(97 + i)} of a long poem" for i in range(26))
    a = lines.index("line n")
    lo, hi = text_window(lines, a, a + 1)
    assert lines[lo - 1] == "\n" and lines[hi] == "\n"
    at = open_app(ckpt="shakespeare", text=lines, t=a, unit=0)
    assert shown_text(at) == "… line m of a long poem\nline n of a long poem …"
    at = open_app(ckpt="shakespeare", text=lines, t=2, unit=0)  # the first line: and the next
    assert shown_text(at) == "line a of a long poem\nline b of a long poem …"
