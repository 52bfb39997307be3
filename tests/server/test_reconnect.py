"""A student whose replica died reconnects to another (or the restarted one): the URL brings
back the same step, and a page that read an upload says to upload it again (the new process
holds no upload), with no traceback."""

from streamlit.testing.v1 import AppTest

from dashboard.selection import UPLOAD

from ..conftest import ROOT


def test_a_page_that_read_an_upload_asks_for_it_again_on_another_server():
    at = AppTest.from_file(str(ROOT / "dashboard/app.py"), default_timeout=120)
    at.query_params.update({"uploaded": "1", "text": "the cats were full.", "t": "3"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="ckpt").value == UPLOAD
    assert any("upload the file again" in w.value for w in at.warning)
    assert at.session_state["t"] == 3 and at.session_state["text"] == "the cats were full."
