"""The models a server offers (dashboard/catalogue.py): every --model is loaded when the app
first runs; one the loader cannot read is refused there with the loader's message, shown as
plain text, and never listed."""

import sys
import zipfile

from streamlit.testing.v1 import AppTest

from dashboard import catalogue

from .conftest import CHECKPOINTS, ROOT


def test_an_unreadable_model_is_refused_at_start_with_the_loaders_message(tmp_path,
                                                                          monkeypatch):
    keras = tmp_path / "my_model.keras"  # what Keras writes: a zip this loader does not read
    with zipfile.ZipFile(keras, "w") as z:
        z.writestr("config.json", "{}")
        z.writestr("model.weights.h5", b"\x89HDF")
    mine = tmp_path / "mine.pt"
    mine.write_bytes((CHECKPOINTS / "agreement.pt").read_bytes())
    monkeypatch.setattr(sys, "argv", ["app.py", "--model", str(keras), "--model", str(mine),
                                      "--model", str(tmp_path / "gone.pt")])
    refused = catalogue.refused()
    assert [m.split(" is not offered")[0] for m in refused] == [f"--model {keras}",
                                                                f"--model {tmp_path}/gone.pt"]
    assert "No such file" in refused[1]
    assert catalogue.available()[-1] == "mine"  # the readable one only
    assert "my_model" not in catalogue.available() and "gone" not in catalogue.available()
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"ckpt": "my_model", "text": "the cats were full."})
    at.run()
    assert not at.exception
    shown = [e.value for e in at.error]
    assert any("my_model.keras is not offered" in m.replace("\\", "") for m in shown)
    assert "my_model" not in at.selectbox(key="ckpt").options
