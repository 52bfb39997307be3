"""`pip install .` installs every file the app reads: the wheel is built, unpacked away from the
repository, and the app opened from it (in a process that can import nothing from here)."""

import json
import shutil
import subprocess
import sys
import zipfile

import pytest

from ..conftest import ROOT

# what a build must not see: outputs, caches, and the live chart's run-time copy of plotly.js
SKIP = shutil.ignore_patterns(".git", ".venv", "artifacts", "build", "*.egg-info", "__pycache__",
                              ".pytest_cache", ".ruff_cache", "static", "runs")

OPEN_THE_APP = """
import json, sys
from streamlit.testing.v1 import AppTest
import dashboard, gru_core
at = AppTest.from_file(sys.argv[1], default_timeout=120)
at.query_params.update({"ckpt": "agreement-course", "t": "5", "unit": "3"})
at.run()
print(json.dumps({
    "files": [dashboard.__file__, gru_core.__file__],
    "exception": [str(e.value) for e in at.exception],
    "errors": [e.value for e in at.error],
    "headings": [h.value for h in at.subheader] + [h.value for h in at.header],
    "markdown": "\\n".join(m.value for m in at.markdown),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    src = tmp_path_factory.mktemp("src") / "repo"
    shutil.copytree(ROOT, src, ignore=SKIP)
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "--disable-pip-version-check", "-q", "-w", str(out), str(src)],
                   check=True, capture_output=True, timeout=300)
    (built,) = out.glob("gru_stepper-*.whl")
    return zipfile.ZipFile(built)


def shipped(folder: str, pattern: str = "*") -> set[str]:
    return {p.relative_to(ROOT).as_posix() for p in (ROOT / folder).glob(pattern)
            if p.is_file() and "__pycache__" not in p.parts}


def test_the_wheel_holds_the_code_the_live_chart_and_the_checkpoints(wheel):
    names = set(wheel.namelist())
    code = {p for p in shipped("gru_core", "**/*.py") | shipped("dashboard", "**/*.py")}
    assert code <= names, sorted(code - names)
    # every file of dashboard/ the app may read (its run-time static copy apart) and the models
    data = {p for p in shipped("dashboard", "**/*") if not p.endswith((".py", ".pyc"))
            and not p.startswith("dashboard/static/")} | shipped("checkpoints")
    assert "dashboard/live_chart/plotly-cartesian.min.js" in data
    assert {"checkpoints/agreement.pt", "checkpoints/agreement-course.keras"} <= data
    assert data <= names, sorted(data - names)
    assert not [n for n in names if n.startswith(("tests/", "bench/", "dashboard/static/"))]


def test_the_app_opens_from_the_unpacked_wheel(wheel, tmp_path):
    site = tmp_path / "site"
    wheel.extractall(site)
    elsewhere = tmp_path / "cwd"  # no .streamlit/, no checkpoints/ beside it
    elsewhere.mkdir()
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-c", OPEN_THE_APP, str(site / "dashboard/app.py")],
                         cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    page = json.loads(run.stdout.strip().splitlines()[-1])
    assert all(f.startswith(str(site)) for f in page["files"]), page["files"]
    assert not page["exception"] and not page["errors"], page
    # the Keras checkpoint read from site-packages/checkpoints/, stepped to nn.GRU's own bits
    assert any(h.startswith("Step t = 5, unit 3") for h in page["headings"]), page["headings"]
    assert "Keras's own output" in page["markdown"]
    assert "difference **0 (bit for bit)**" in page["markdown"]
