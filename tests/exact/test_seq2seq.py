"""An encoder-decoder pair as people build one (embedding + GRU; embedding + GRU + head), saved as
plain state_dicts, loaded with gru_core.load_checkpoint, and the decoder traced from the encoder's
final state with special tokens typed: bitwise the modules' own calls, and the greedy predictions
read off the trace are the decoder's own greedy decoding."""

import re

import pytest
import torch
from torch import nn

import gru_core

from ..conftest import ROOT
from ..reference import gru_cell_steps

SPECIALS = ["<s>", "</s>", "<unk>", "<pad>"]
LETTERS = SPECIALS + list("abcdefghijklmnopqrstuvwxyz")
PHONES = SPECIALS + ["AE1", "B", "D", "G", "IH0", "K", "N", "OW1", "S", "T", "UW1", "Z"]


class Encoder(nn.Module):
    def __init__(self, layers, dtype):
        super().__init__()
        self.embed = nn.Embedding(len(LETTERS), 12, padding_idx=3)
        self.rnn = nn.GRU(12, 24, num_layers=layers)
        self.to(dtype)


class Decoder(nn.Module):
    def __init__(self, layers, dtype):
        super().__init__()
        self.embed = nn.Embedding(len(PHONES), 10, padding_idx=3)
        self.rnn = nn.GRU(10, 24, num_layers=layers)
        self.out = nn.Linear(24, len(PHONES))
        self.to(dtype)

    @torch.no_grad()
    def greedy(self, h: torch.Tensor, steps: int = 8) -> list[str]:
        """The decoder's own greedy decoding: one step at a time from <s>, until </s>."""
        tokens = ["<s>"]
        for _ in range(steps):
            x = self.embed(torch.tensor([PHONES.index(tokens[-1])]))
            out, h = self.rnn(x, h)
            tokens.append(PHONES[int(self.out(out[-1]).argmax())])
            if tokens[-1] == "</s>":
                break
        return tokens


def _pair(tmp_path, layers, dtype, seed=0):
    torch.manual_seed(seed)
    enc, dec = Encoder(layers, dtype).eval(), Decoder(layers, dtype).eval()
    torch.save(enc.state_dict(), tmp_path / "enc.pt")
    torch.save(dec.state_dict(), tmp_path / "dec.pt")
    enc_ck = gru_core.load_checkpoint(tmp_path / "enc.pt", vocab=LETTERS)
    dec_ck = gru_core.load_checkpoint(tmp_path / "dec.pt", vocab=PHONES)
    enc_ck.name, dec_ck.name = "enc", "dec"  # as the app names them after their files
    return enc, dec, enc_ck, dec_ck


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("layers", [1, 2])
def test_decoder_from_the_encoders_final_state_is_bitwise(tmp_path, threads, layers, dtype):
    enc, dec, enc_ck, dec_ck = _pair(tmp_path, layers, dtype, seed=layers)
    src = "cat</s>"
    enc_tt = enc_ck.trace(src)
    assert enc_tt.tokens == ["c", "a", "t", "</s>"] and enc_tt.probs is None
    ids = torch.tensor([LETTERS.index(c) for c in "cat"] + [LETTERS.index("</s>")])
    with torch.no_grad():
        out, h_enc = enc.rnn(enc.embed(ids))
    assert torch.equal(enc_tt.output, out) and torch.equal(enc_tt.h_n, h_enc)

    text = "<s> K AE1 T"
    tt = dec_ck.trace(text, h0=enc_tt.h_n)
    assert tt.tokens == ["<s>", "K", "AE1", "T"]
    ids = torch.tensor([PHONES.index(p) for p in tt.tokens])
    with torch.no_grad():
        x = dec.embed(ids)
        out, h_n = dec.rnn(x, h_enc)
        probs = torch.softmax(dec.out(out), -1)
    assert torch.equal(tt.output, out) and torch.equal(tt.h_n, h_n) and torch.equal(tt.probs, probs)
    assert torch.equal(tt.gate("h_prev")[0], h_enc[0])  # h_prev at t = 0 is the encoder's state
    ref = gru_cell_steps(dec.rnn, x, h0=tt.h0[0])
    for name in gru_core.GATES:
        assert torch.equal(tt.gate(name), ref[name]), name
    assert tt.starts_from == "h_prev at t = 0 is an initial state given by the caller"

    # from zeros, the decoder's run differs, and the trace says where it started
    cold = dec_ck.trace(text)
    assert cold.starts_from == "h_prev at t = 0 is zeros (no initial state was given)"
    assert not torch.equal(cold.output, tt.output)


@pytest.mark.parametrize("layers", [1, 2])
def test_greedy_predictions_read_off_the_trace_are_the_decoders_own(tmp_path, threads, layers):
    for seed in range(4):
        enc, dec, enc_ck, dec_ck = _pair(tmp_path, layers, torch.float32, seed=seed)
        for word in ("cat", "dog", "kids", "zebra"):
            enc_tt = enc_ck.trace(word + "</s>")
            own = dec.greedy(enc_tt.h_n)
            tt = dec_ck.trace(" ".join(own), h0=enc_tt)  # the trace itself: its h_n
            assert tt.h0_source == f"the final state of '{word}</s>' on enc"
            read = [PHONES[int(p.argmax())] for p in tt.probs]
            assert read[: len(own) - 1] == own[1:], (seed, word)


def test_special_tokens_unknown_and_lower_case(tmp_path):
    _, _, enc_ck, dec_ck = _pair(tmp_path, 1, torch.float32)
    v = enc_ck.vocab
    assert v.split("<s>cat</s><pad>") == ["<s>", "c", "a", "t", "</s>", "<pad>"]
    assert v.split("a<b") == ["a", "<", "b"]  # not a special token: single characters
    with pytest.raises(gru_core.core.vocab.UnknownTokens, match="'<', 'é'"):
        v.encode("cé<t")
    assert v.unknown == "<unk>" and v.as_unknown("cé<t</s>") == "c<unk><unk>t</s>"
    tt = enc_ck.trace(v.as_unknown("cét</s>"))
    assert tt.tokens == ["c", "<unk>", "t", "</s>"]
    assert v.lowered("CAT</s>") == "cat</s>" and v.lowered("cat") is None
    w = dec_ck.vocab
    assert w.words and w.split("<s> K AE1 T</s>") == ["<s>", "K", "AE1", "T", "</s>"]
    assert w.as_unknown("<s> K EH1 T") == "<s> K <unk> T"
    assert w.has_capitals and w.lowered("K AE1") is None
    no_unk = gru_core.core.vocab.Vocab(("a", "b"))
    assert no_unk.unknown is None
    with pytest.raises(ValueError, match="no unknown-token entry"):
        no_unk.as_unknown("abc")


def test_initial_states_that_do_not_fit_are_named(tmp_path):
    _, _, enc_ck, dec_ck = _pair(tmp_path, 2, torch.float32)
    with pytest.raises(ValueError, match=r"h0 must be \(layers x directions, hidden\) = "
                                         r"\(2, 24\) for dec \(2 layer\(s\), 1 direction\(s\), "
                                         r"24 units\), got \(1, 24\)"):
        dec_ck.trace("<s> K", h0=torch.zeros(1, 24))
    with pytest.raises(ValueError, match="h0 is float64 but dec is float32"):
        dec_ck.trace("<s> K", h0=torch.zeros(2, 24, dtype=torch.float64))
    h = enc_ck.trace("cat</s>").h_n
    batched = dec_ck.trace("<s> K", h0=h.unsqueeze(1))  # nn.GRU's (L*D, 1, H) layout
    assert torch.equal(batched.output, dec_ck.trace("<s> K", h0=h).output)


def test_docs_batch_and_encoder_decoder_examples_run(tmp_path, monkeypatch, capsys):
    """docs/python.md's batch and encoder -> decoder examples, run as written."""
    text = (ROOT / "docs/python.md").read_text()

    def first_snippet(heading: str) -> str:
        section = text[text.index(heading):]
        return re.search(r"```python\n(.*?)```", section, re.S).group(1)

    batch, seq2seq = first_snippet("## Batches"), first_snippet("## An encoder's state")
    monkeypatch.chdir(tmp_path)
    exec(compile(batch, "docs/python.md", "exec"), {})
    assert capsys.readouterr().out.split("\n")[:3] == [
        "True True", "torch.Size([25, 32])", "True torch.Size([3, 32])"]
    exec(compile(seq2seq, "docs/python.md", "exec"), {})
    tokens, unk = capsys.readouterr().out.strip().split("\n")
    assert tokens.startswith("['<s>', 'K', 'AE1', 'T'] h_prev at t = 0 is the final state of "
                             "'cat</s>' on enc")
    assert unk == "caf<unk></s>"


def test_app_offers_unknown_token_and_lower_case(tmp_path, monkeypatch):
    """A text the vocabulary cannot read: the app offers to read it as <unk> (the vocabulary has
    one) and, for the letters model (no capitals), to lower-case it; either then traces."""
    import json
    import sys

    from streamlit.testing.v1 import AppTest

    _pair(tmp_path, 1, torch.float32)
    for name, vocab in (("enc", LETTERS), ("dec", PHONES)):
        (tmp_path / f"{name}.vocab.json").write_text(json.dumps(vocab))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["app.py", "--model", "dec.pt", "--vocab", "dec.vocab.json",
                                      "--model", "enc.pt", "--vocab", "enc.vocab.json"])
    for ckpt, text, label, after in (
            ("dec", "<s> K EH1 T", "Read them as `<unk>`", "<s> K <unk> T"),
            ("enc", "Cat</s>", "Lower-case the text (the vocabulary has no capitals)", "cat</s>"),
            ("enc", "cät</s>", "Read them as `<unk>`", "c<unk>t</s>")):
        at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
        at.query_params.update({"ckpt": ckpt, "text": text})
        at.run()
        assert at.error and "cannot read this text" in at.error[0].value
        labels = [b.label for b in at.button]
        assert ("Lower-case the text (the vocabulary has no capitals)" in labels) == (
            text == "Cat</s>")
        next(b for b in at.button if b.label == label).click().run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        assert at.session_state["text"] == after


@pytest.mark.parametrize("layout", ["unbatched", "batched"])
def test_a_dtype_nn_gru_refuses_is_refused_not_cast(layout):
    """nn.GRU refuses float64 x or h0 on a float32 module (and the reverse); recompute says so
    instead of casting them silently."""
    gru = nn.GRU(3, 4)
    shape = (5, 3) if layout == "unbatched" else (5, 2, 3)
    h_shape = (1, 4) if layout == "unbatched" else (1, 2, 4)
    for x, h0, name in ((torch.randn(shape, dtype=torch.float64), None, "x"),
                        (torch.randn(shape), torch.zeros(h_shape, dtype=torch.float64), "h0")):
        with pytest.raises((ValueError, RuntimeError)):
            gru(x, h0)  # nn.GRU itself
        with pytest.raises(ValueError, match=rf"{name} is float64 but the GRU is float32, as "
                                             rf"nn.GRU refuses it: convert {name}.to\("):
            gru_core.recompute(gru, x, h0)
    with pytest.raises(ValueError, match="x is float32 but the GRU is float64"):
        gru_core.recompute(nn.GRU(3, 4).double(), torch.randn(shape))


def _serve_pair(tmp_path, monkeypatch, layers=2):
    """The encoder-decoder pair saved with vocabulary files, and the app's argv naming both."""
    import json
    import sys
    enc, dec, *_ = _pair(tmp_path, layers, torch.float32, seed=5)
    for name, vocab in (("enc", LETTERS), ("dec", PHONES)):
        (tmp_path / f"{name}.vocab.json").write_text(json.dumps(vocab))
    args = [str(tmp_path / f) for f in ("dec.pt", "dec.vocab.json", "enc.pt", "enc.vocab.json")]
    args = ["--model", args[0], "--vocab", args[1], "--model", args[2], "--vocab", args[3]]
    from dashboard import cache  # this process's app: no trace of another test's "enc" left
    cache.traces().clear()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["app.py", *args])
    return enc, dec, args


@torch.no_grad()
def _encoded(enc: Encoder, word: str) -> torch.Tensor:
    """The encoder's final state for word + '</s>', by the plain modules."""
    ids = torch.tensor([LETTERS.index(c) for c in word] + [LETTERS.index("</s>")])
    return enc.rnn(enc.embed(ids))[1]


def test_app_starts_the_decoder_from_the_encoders_final_state(tmp_path, monkeypatch):
    """Start from: the final state of a text on another model, in the URL; the card says where
    h_prev at t = 0 came from, with the encoder's own number (plain nn.GRU), for each layer;
    back to zeros, it says zeros and the URL drops the start."""
    import json

    from streamlit.testing.v1 import AppTest

    from dashboard.export import f4
    from dashboard.text import plain
    from dashboard.views.stepper.start_from import ZEROS

    enc, dec, _ = _serve_pair(tmp_path, monkeypatch)
    h_enc = _encoded(enc, "cat")
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"ckpt": "dec", "text": "<s> K AE1 T", "t": "0", "unit": "3",
                            "h0_ckpt": "enc", "h0_text": "cat</s>"})
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]

    def said() -> str:
        return next(m.value for m in at.markdown if "at t = 0 is" in m.value)

    assert said() == (f"h_prev at t = 0 is the final state h_n of {plain('cat</s>')} on "
                      f"{plain('enc')} (for unit 3: {f4(float(h_enc[0, 3]))}), not zeros.")
    spec = next(json.loads(json.loads(c.proto.json)["spec"]) for c in at.get("bidi_component")
                if c.proto.component_name == "live_chart")  # the step chart's own data
    assert f"h_prev {f4(float(h_enc[0, 3]))} →" in spec["steps"][0]["line"]
    assert at.query_params["h0_ckpt"] == "enc" and at.query_params["h0_text"] == "cat</s>"
    at.selectbox(key="layer").set_value(1).run()
    assert f"(for unit 3: {f4(float(h_enc[1, 3]))})" in said()
    at.selectbox(key="h0_ckpt").set_value(None).run()
    assert said() == ZEROS + "." and "h0_ckpt" not in at.query_params
    assert not at.exception and not at.error


def test_app_names_a_state_that_does_not_fit(tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest
    _serve_pair(tmp_path, monkeypatch)  # a process keeps its --model models: the same pair
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"ckpt": "agreement", "h0_ckpt": "enc", "h0_text": "cat</s>"})
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "Start from: the final state of that text on ` enc ` is (2, 24) float32, but "
        "` agreement ` starts from (1, 128) float32: h0 must be (layers × directions, units) = "
        "(1, 128), float32, as nn.GRU takes it (1 layer(s), 1 direction(s), 128 units). Pick "
        "a model of this shape under “Start from”, or start from zeros."]
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"ckpt": "dec", "text": "<s> K", "h0_ckpt": "enc", "h0_text": "c@t"})
    at.run()
    assert not at.exception
    assert at.error and at.error[0].value.startswith("Start from: ` enc ` cannot read its text")


@pytest.mark.chromium
def test_start_from_in_chromium(tmp_path, monkeypatch):
    """In the browser: the decoder from zeros says so; choosing "the final state of a text on
    enc" and typing the encoder's text makes h_prev at t = 0 the encoder's final state (plain
    nn.GRU), on the card and on the chart; the link reopens the same numbers in a fresh
    context."""
    from urllib.parse import urlencode

    from playwright.sync_api import expect

    from dashboard.export import f4

    from ..browser import browser, serve, settle

    enc, dec, args = _serve_pair(tmp_path, monkeypatch)
    h_enc = _encoded(enc, "cat")
    text = "<s> K AE1 T"
    with torch.no_grad():  # the decoder's layer 0 (the card's), from the encoder's state
        layer0 = nn.GRU(10, 24)
        layer0.load_state_dict({k: v for k, v in dec.rnn.state_dict().items()
                                if k.endswith("_l0")})
        ids = torch.tensor([PHONES.index(p) for p in text.split()])
        out, _ = layer0(dec.embed(ids), h_enc[:1])
    want = f"(for unit 3: {f4(float(h_enc[0, 3]))}), not zeros."

    def start_line(page):
        return page.locator("[data-testid=stMarkdown]", has_text=" at t = 0 is ")

    def check(page):
        line = start_line(page)
        expect(line).to_contain_text("h_prev at t = 0 is the final state h_n of cat</s> on enc")
        expect(line).to_contain_text(want)
        chart = page.locator(".st-key-step_chart")  # a components-v2 element: no frame
        expect(chart.locator(".gl-line")).to_contain_text(
            f"h_prev {f4(float(h_enc[0, 3]))} → h {f4(float(out[0, 3]))} ", timeout=30_000)

    with serve(ROOT / "dashboard/app.py", args=tuple(args)) as url, browser() as b:
        page = b.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/?" + urlencode({"ckpt": "dec", "text": text, "t": 0, "unit": 3}))
        settle(page)
        expect(start_line(page)).to_have_text("h_prev at t = 0 is zeros (no initial state was "
                                              "given).", timeout=60_000)
        page.get_by_test_id("stSelectbox").filter(has_text="Start from").click()
        page.get_by_role("option", name="the final state of a text on enc").click()
        settle(page)
        box = page.get_by_label("The text enc reads first")
        box.fill("cat</s>")
        box.press("Enter")
        settle(page)
        check(page)
        link = page.url
        assert "h0_ckpt=enc" in link and "h0_text=cat%3C%2Fs%3E" in link
        fresh = b.new_context().new_page()
        fresh.goto(link)
        settle(fresh)
        check(fresh)
        expect(fresh.get_by_test_id("stException")).to_have_count(0)
