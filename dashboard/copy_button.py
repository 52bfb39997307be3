"""A "Copy the post" button that says what happened: "Copied ✓" with the number of characters
once the text is on the clipboard, or, where the browser refuses (a page served over plain
http), how to copy it by hand. st.code's own copy icon only swaps its icon for two seconds.

The text travels as JSON inside a script, with every '<' escaped, so no text can close the
script or open a tag; it is only ever written to the clipboard, never into the page."""

from __future__ import annotations

import json

import streamlit.components.v1 as components

PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body { margin: 0; font-family: "Source Sans Pro", sans-serif; font-size: 14px; }
button { font-size: 14px; padding: 4px 14px; cursor: pointer; }
#state { margin-left: 10px; }
.done { color: #1a7f37; font-weight: 600; } .failed { color: #b42318; }
</style></head><body>
<button id="copy" aria-describedby="state">%(label)s</button>
<span id="state" role="status" aria-live="polite"></span>
<script>
const text = %(text)s;
const state = document.getElementById("state");
document.getElementById("copy").onclick = async () => {
  try {
    await navigator.clipboard.writeText(text);
    state.className = "done";
    state.textContent = `Copied ✓ (${text.length.toLocaleString("en")} characters on the ` +
                        "clipboard: paste it into the forum's editor)";
  } catch (err) {
    state.className = "failed";
    state.textContent = "Not copied: this browser refused the clipboard (a page served over " +
                        "plain http may not use it). Select the text above and press Ctrl+C.";
  }
};
</script></body></html>"""


def copy_button(text: str, label: str = "Copy the post") -> None:
    """A button that copies `text` and shows, beside it, that it did (or why it could not)."""
    payload = json.dumps(text).replace("<", "\\u003c")
    components.html(PAGE % {"label": label, "text": payload}, height=40)
