"""The README and docs/python.md, run as written: every Python snippet executes, every
`print(...)  # what it prints` prints that (`...` stands for a part left out), the README's
own model opens in the app, and each of the README's links opens its view."""

import io
import re
import sys
import tokenize
from urllib.parse import parse_qsl, urlparse

import pytest
import torch
from streamlit.testing.v1 import AppTest

from dashboard.registry import VIEWS

from ..conftest import ROOT

APP = str(ROOT / "dashboard/app.py")
DOCS = ("README.md", "docs/python.md")


def snippets(doc: str) -> list[tuple[str, str]]:
    """(the heading above it, the code) for each ```python block of a document."""
    text = (ROOT / doc).read_text()
    found = []
    for m in re.finditer(r"```python\n(.*?)```", text, re.S):
        heading = re.findall(r"^#+ (.*)$", text[:m.start()], re.M)[-1]
        found.append((heading, m.group(1)))
    return found


def claims(code: str) -> dict[int, str]:
    """{line: the comment} for each line that prints and says what it prints."""
    out = {}
    lines = code.splitlines()
    for tok in tokenize.generate_tokens(io.StringIO(code).readline):
        if tok.type == tokenize.COMMENT and lines[tok.start[0] - 1].lstrip().startswith("print("):
            out[tok.start[0]] = tok.string[1:].strip()
    return out


def run(code: str, name: str) -> dict[int, str]:
    """Execute the snippet; {line: what the print on that line printed}."""
    printed: dict[int, str] = {}

    def record(*args, sep=" ", end="\n", file=None):
        line = sys._getframe(1).f_lineno
        printed[line] = printed.get(line, "") + sep.join(map(str, args))

    exec(compile(code, name, "exec"), {"print": record, "__name__": "__snippet__"})
    return printed


def says(printed: str, claim: str) -> bool:
    """`claim` describes `printed`: its parts between "..." appear in it, in order, the first
    at its start and the last at its end."""
    parts = [p.strip() for p in claim.split("...")]
    pattern = ".*".join(re.escape(p) for p in parts)
    return re.fullmatch(pattern, printed.strip(), re.S) is not None


CASES = [(doc, heading, code) for doc in DOCS for heading, code in snippets(doc)]


def test_the_docs_have_snippets_that_say_what_they_print():
    assert {h for d, h, _ in CASES if d == "README.md"} >= {"From Python", "Your own model"}
    assert sum(len(claims(code)) for _, _, code in CASES) >= 12


@pytest.mark.parametrize("doc, heading, code", CASES,
                         ids=[f"{d}:{h}:{i}" for i, (d, h, _) in enumerate(CASES)])
def test_snippet_runs_and_prints_what_it_says(doc, heading, code, tmp_path, monkeypatch):
    if "import keras" in code:
        from ..exact import test_keras  # noqa: F401  (KERAS_BACKEND=torch before keras is imported)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "checkpoints").symlink_to(ROOT / "checkpoints")  # "checkpoints/agreement.pt"
    torch.manual_seed(0)
    printed = run(code, f"{doc} ({heading})")
    for line, claim in claims(code).items():
        assert line in printed, f"line {line} printed nothing"
        assert says(printed[line], claim), f"line {line}: printed {printed[line]!r}, " \
                                           f"the docs say {claim!r}"


def test_says_is_strict():
    assert says("True", "True") and not says("False", "True") and not says("True True", "True")
    assert says("['<s>', 'K'] h_prev at t = 0 is the final state", "['<s>', 'K'] h_prev ...")
    assert not says("nn.GRU at 'rnn'", "nn.Embedding at 'encoder', nn.GRU at 'rnn'")


def test_your_own_model_opens_in_the_app(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (code,) = [c for d, h, c in CASES if h == "Your own model" and "CharRNN" in c]
    run(code, "README.md (Your own model)")
    # as `make run STREAMLIT_ARGS="-- --model mine.pt --vocab mine.vocab.json"` starts it
    monkeypatch.setattr(sys, "argv", ["app.py", "--model", "mine.pt", "--vocab",
                                      "mine.vocab.json"])
    text = "the cats, which already ate the fish, were full."
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update({"ckpt": "mine", "text": text, "t": "4", "unit": "0"})
    at.run()
    assert not at.exception and not at.error
    assert at.query_params["ckpt"] == "mine"
    assert "difference **0 (bit for bit)**" in "\n".join(m.value for m in at.markdown)
    assert "make run STREAMLIT_ARGS=\"-- --model mine.pt --vocab mine.vocab.json\"" in (
        ROOT / "README.md").read_text()


LINKS = re.findall(r"\]\((http://localhost:8501/\?[^)]*)\)", (ROOT / "README.md").read_text())


def test_the_readme_links_every_view():
    assert {dict(parse_qsl(urlparse(u).query))["view"] for u in LINKS} == set(VIEWS)


@pytest.mark.parametrize("link", LINKS)
def test_readme_link_opens_its_view(link):
    query = dict(parse_qsl(urlparse(link).query))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params.update(query)
    at.run()
    assert not at.exception and not at.error  # (a warning says AppTest has no server URL)
    assert {k: at.query_params[k] for k in query} == query  # nothing clamped or dropped
    if query["view"] != "step":
        assert [h.value for h in at.header] == [VIEWS[query["view"]].question]
