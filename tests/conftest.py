import itertools
import os
from pathlib import Path

import pytest
import torch
from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINTS = ROOT / "checkpoints"
# char-rnn's tinyshakespeare input.txt. Where TINYSHAKESPEARE is set (.ci/run sets it) the file
# must be there; elsewhere the tests that need it are skipped with the reason.
CORPUS = Path(os.environ.get("TINYSHAKESPEARE", ROOT.parent / "shared/data/tinyshakespeare.txt"))

torch.set_num_threads(2)


def pytest_configure(config):
    config.addinivalue_line("markers", "chromium: drives Debian's Chromium (tests/browser.py)")


def pytest_collection_modifyitems(config, items):
    """`@pytest.mark.chromium` tests are skipped, with how to get it, where there is no Chromium;
    where REQUIRE_BROWSER is set (.ci/run sets it) they run, and fail, rather than skip."""
    browser_tests = [item for item in items if item.get_closest_marker("chromium")]
    if not browser_tests or os.environ.get("REQUIRE_BROWSER"):
        return
    from .browser import CHROMIUM  # Playwright only where a browser test is collected
    if Path(CHROMIUM).exists():
        return
    skip = pytest.mark.skip(reason=f"no Chromium at {CHROMIUM}: `apt-get install chromium` "
                            "(.ci/run does this, and sets REQUIRE_BROWSER=1 so that these "
                            "tests can never be skipped there)")
    for item in browser_tests:
        item.add_marker(skip)


@pytest.fixture(params=[1, 2], ids=["1-thread", "2-threads"])
def threads(request):
    """Run the test at 1 and at 2 threads (the caller's setting), restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def app_url():
    """The app served for the browser tests of one module (tests/browser.py)."""
    from .browser import serve  # Playwright only where a browser test runs
    with serve(ROOT / "dashboard/app.py") as url:
        yield url


@pytest.fixture(scope="module")
def page():
    """One page in a fresh headless Chromium, shared by a module's browser tests."""
    from .browser import chromium
    with chromium() as page:
        yield page


def make_gru(input_size=5, hidden=8, layers=1, bidirectional=False, bias=True,
             dtype=torch.float32, scale=1.0, seed=0) -> torch.nn.GRU:
    torch.manual_seed(seed)
    gru = torch.nn.GRU(input_size, hidden, num_layers=layers, bidirectional=bidirectional,
                       bias=bias).to(dtype)
    with torch.no_grad():
        for p in gru.parameters():
            p.mul_(scale)
    return gru


# dtype x layers x bidirectional x bias x weight scale (x20 drives gates to within 1e-3 of 0 or 1)
CONFIGS = list(itertools.product(
    (torch.float32, torch.float64), (1, 2), (False, True), (True, False), (1.0, 20.0)))


def config_id(c) -> str:
    dtype, layers, bi, bias, scale = c
    direction, b = "bi" if bi else "uni", "bias" if bias else "nobias"
    return f"{str(dtype)[6:]}-L{layers}-{direction}-{b}-x{scale:g}"


@pytest.fixture
def corpus_text() -> str:
    if not CORPUS.is_file():
        where = (f"tinyshakespeare not found at {CORPUS}: put char-rnn's input.txt there "
                 "or point TINYSHAKESPEARE=/path/to/it (README, 'Checkpoints')")
        if "TINYSHAKESPEARE" in os.environ:
            pytest.fail(where)
        pytest.skip(where)
    return CORPUS.read_text(encoding="utf-8")


def open_app(**params) -> AppTest:
    """The app run once through Streamlit's AppTest, opened at the URL parameters given."""
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({k: str(v) for k, v in params.items()})
    return at.run()
