"""The README's "Your own model" section, run as written, then opened in the app."""

import re
import sys

import pytest
import torch
from streamlit.testing.v1 import AppTest

from .conftest import ROOT


def readme_code(heading: str) -> str:
    text = (ROOT / "README.md").read_text()
    section = text[text.index(f"## {heading}"):]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_your_own_model_section_runs_and_opens_in_the_app(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_code("Your own model"), "README.md", "exec"), {})
    printed = capsys.readouterr().out
    assert "nn.Embedding at 'encoder'" in printed and printed.strip().endswith("True")
    # as `make run STREAMLIT_ARGS="-- --model mine.pt --vocab mine.vocab.json"` starts it
    monkeypatch.setattr(sys, "argv", ["app.py", "--model", "mine.pt", "--vocab",
                                      "mine.vocab.json"])
    text = "the cats, which already ate the fish, were full."
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"ckpt": "mine", "text": text, "t": "4", "unit": "0"})
    at.run()
    assert not at.exception and not at.error
    assert at.query_params["ckpt"] == "mine"
    shown = "\n".join(m.value for m in at.markdown)
    assert "difference **0 (bit for bit)**" in shown
    state = torch.load("mine.pt", weights_only=True)
    assert state["rnn.weight_hh_l1"].shape == (192, 64)


@pytest.mark.parametrize("heading", ["gru_core: nn.GRU, recomputed exactly"])
def test_other_readme_snippets_run(heading, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    exec(compile(readme_code(heading), "README.md", "exec"), {})
