"""The models a server offers (dashboard/catalogue.py): every --model is loaded when the app
first runs; one the loader cannot read is refused there with the loader's message, shown as
plain text, and never listed."""

import sys
import zipfile

from streamlit.testing.v1 import AppTest

from dashboard import catalogue

from ..conftest import CHECKPOINTS, ROOT


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


def test_agreement_course_is_shipped_as_a_keras_file_and_opens_in_the_stepper():
    """The lecture's GRU ships as Keras's own file, its vocabulary and training record beside
    it; ?ckpt=agreement-course opens it and the card names whose numbers these are."""
    assert "agreement-course" in catalogue.available()
    assert catalogue.shipped_file("agreement-course").suffix == ".keras"
    ck = catalogue.model("agreement-course")
    assert ck.meta["convention"] == "keras-reset-before"
    assert ck.meta["hyperparameters"]["seed"] == 1337  # the held-out split the views rebuild
    assert ck.meta["command"].startswith("python -m gru_core.train --cell course")
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=180)
    at.query_params.update({"ckpt": "agreement-course", "view": "step",
                            "text": "The cats, which already ate the fish, were full."})
    at.run()
    assert not at.exception
    assert at.selectbox(key="ckpt").value == "agreement-course"
    assert any("Keras 3 GRU (reset_after=False, the lecture's formula)" in c.value
               for c in at.caption)
