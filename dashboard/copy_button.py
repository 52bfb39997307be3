"""A "Copy the post" button that says what happened: "Copied ✓" with the number of characters
once the text is on the clipboard, or, where the browser refuses (a page served over plain
http), how to copy it by hand. st.code's own copy icon only swaps its icon for two seconds.

A components-v2 element: drawn in the page itself (a shadow root for its styles, no iframe).
The text reaches it as the mount's `data`, a JSON value the script only ever hands to the
clipboard and counts; the label is set as textContent, so neither is read as HTML."""

from __future__ import annotations

import streamlit as st

HTML = """<button class="copy" aria-describedby="state"></button>
<span class="state" id="state" role="status" aria-live="polite"></span>"""

CSS = """
:host { font-family: var(--st-font, "Source Sans Pro", sans-serif); font-size: 14px; }
.copy { font: inherit; padding: 4px 14px; cursor: pointer; }
.state { margin-left: 10px; }
.done { color: #1a7f37; font-weight: 600; } .failed { color: #b42318; }
"""

# Called on every mount and every new `data`: the button takes the latest text, and the status
# line is cleared, so a confirmation never describes a text that is no longer the one shown.
JS = """
export default function ({ data, parentElement }) {
  const button = parentElement.querySelector(".copy");
  const state = parentElement.querySelector(".state");
  const text = data.text;
  button.textContent = data.label;
  state.className = "state";
  state.textContent = "";
  button.onclick = async () => {
    try {
      await navigator.clipboard.writeText(text);
      state.className = "state done";
      state.textContent = `Copied ✓ (${text.length.toLocaleString("en")} characters on the ` +
                          "clipboard: paste it into the forum's editor)";
    } catch (err) {
      state.className = "state failed";
      state.textContent = "Not copied: this browser refused the clipboard (a page served " +
                          "over plain http may not use it). " +
                          "Select the text above and press Ctrl+C.";
    }
  };
}
"""

_component = st.components.v2.component("copy_button", html=HTML, css=CSS, js=JS)


def copy_button(text: str, label: str = "Copy the post", key: str | None = None) -> None:
    """A button that copies `text` and shows, beside it, that it did (or why it could not)."""
    _component(data={"text": text, "label": label}, key=key)
