"""The view's state: read once from the URL, validated, kept in st.session_state, written back,
and handed to the views as one frozen Selection.

Every value a URL can carry is checked here; anything out of range, unknown, repeated or not
strictly a number is clamped or dropped with a notice that names it (as plain text: a notice is
Markdown, the value never is), so a pasted link never breaks the page.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import urlencode

import streamlit as st

from gru_core import SYMBOLS, Checkpoint

from .text import plain

COURSE_TEXT = "The cats, which already ate the fish, were full."
COURSE_T = COURSE_TEXT.index("ate")  # a step inside the clause: does the unit still hold "plural"?
NOTATIONS = {"pytorch": "PyTorch (r, z, n, h)", "course": "Course (Γr, Γu, c̃, c)"}
INTS = ("t", "unit", "layer", "direction", "s")
LISTS = ("steps", "units")  # the worked example's steps=33,34 or 30-34 and units=3,17,200
CHOICES = {"order": ("index", "mean z", "similarity")}  # the stepper's heatmap row order
MAX_URL_TEXT = 2000  # longer texts are not put in the URL: servers refuse very long request lines
UPLOAD = "upload"
H0 = ("h0_ckpt", "h0_text")  # start from the final state of the text h0_text on the model h0_ckpt
INPUTS = ("sample", "npy", "wav")  # a feature model's input: a link carries which (views/signal)


@dataclass(frozen=True)
class Selection:
    """What the page shows: built once per run from the URL and the widgets."""

    view: str
    model_key: str  # a shipped model's name, or "upload:<sha256>" for an uploaded file
    model: Checkpoint
    text: str
    t: int
    unit: int
    layer: int
    direction: int
    notation: str
    h0_ckpt: str | None = None  # h_prev at t = 0 is h0_text's final state on it; None: zeros
    h0_text: str = ""

    @property
    def start(self) -> tuple[str, str] | None:
        """Where h_prev at t = 0 comes from: (model, text) whose final state it is, or None
        for zeros."""
        return None if self.h0_ckpt is None else (self.h0_ckpt, self.h0_text)

    @property
    def sym(self) -> dict[str, str]:
        return SYMBOLS[self.notation]

    def params(self, **extra: object) -> dict[str, str]:
        """What the URL carries: layer and direction only where the model has them; an upload
        cannot be linked to, so its name is left out."""
        cfg = self.model.config
        params = {"view": self.view, "ckpt": self.model_key, "text": self.text, "t": self.t,
                  "unit": self.unit, "layer": self.layer if cfg.num_layers > 1 else None,
                  "direction": self.direction if cfg.bidirectional else None,
                  "notation": self.notation, "h0_ckpt": self.h0_ckpt,
                  "h0_text": self.h0_text if self.h0_ckpt else None, **extra}
        if self.model_key.startswith(UPLOAD) or len(self.text) > MAX_URL_TEXT:
            params.pop("ckpt" if self.model_key.startswith(UPLOAD) else "text")
        if self.model_key.startswith(UPLOAD):  # a reconnect to another replica asks for it again
            params["uploaded"] = 1
        return {k: str(v) for k, v in params.items() if v is not None}

    def link(self, **extra: object) -> str:
        """The address that reopens this view."""
        return f"{public_url()}?{urlencode(self.params(**extra))}"


def view_link(view: str, **params: object) -> str:
    """A relative deep link that opens `view` with these parameters."""
    return "?" + urlencode({"view": view, **params})


def public_url() -> str:
    """Where readers reach the app: GRU_STEPPER_PUBLIC_URL or public_url in secrets.toml when
    the host sets one (behind a proxy the server cannot know it), else the page's own address
    as the browser sees it (st.context.url)."""
    url = os.environ.get("GRU_STEPPER_PUBLIC_URL")
    if url is None:
        try:
            url = st.secrets.get("public_url")
        except FileNotFoundError:  # no secrets file
            url = None
    return (url or st.context.url or "").rstrip("/") + "/"


def notices() -> list[str]:
    return st.session_state.setdefault("_notices", [])


def notice(message: str) -> None:
    notices().append(message)


def first_time(flag: str) -> bool:
    """True the first time this session asks with `flag`, False after: a once-per-session
    step, such as taking the URL's parameters."""
    if st.session_state.get(flag):
        return False
    st.session_state[flag] = True
    return True


def init_from_url(views: Collection[str], shipped: Collection[str], default_model: str,
                  extra: Collection[str] = ()) -> None:
    """Once per session: take the URL's parameters into session_state, validating each.
    Every value that is not taken as given is named in a notice (shown as plain text); `extra`:
    the views' own parameters, which they read themselves."""
    if not first_time("_initialised"):
        return
    qp = _query(st.query_params, {*KNOWN, *extra})
    ckpt = qp.get("ckpt", default_model)
    if "uploaded" in qp and "ckpt" not in qp:  # this page read an upload (Selection.params)
        notice("This page read an uploaded model, which this server does not hold (it was "
               "restarted, or the page reconnected to another one): upload the file again to "
               "carry on at the same step.")
        ckpt = UPLOAD
    elif ckpt not in shipped:
        notice(f"Unknown model {plain(ckpt)}: only {', '.join(shipped)} (or an upload) can be "
               f"opened; showing {default_model}.")
        ckpt = default_model
    st.session_state["ckpt"] = ckpt
    view = qp.get("view", "step")
    if view not in views:
        notice(f"Unknown view {plain(view)}; showing the stepper.")
        view = "step"
    st.session_state["view"] = view
    notation = qp.get("notation", "pytorch")
    if notation not in NOTATIONS:
        notice(f"Unknown notation {plain(notation)}: only {', '.join(NOTATIONS)}; showing "
               "pytorch.")
        notation = "pytorch"
    st.session_state["notation"] = notation
    st.session_state["text"] = qp.get("text", COURSE_TEXT)
    for key in INTS:
        if key in qp:
            st.session_state[key] = _as_int(key, qp[key])
    for key, allowed in CHOICES.items():
        if key in qp:
            if qp[key] in allowed:
                st.session_state[key] = qp[key]
            else:
                notice(f"Unknown {key} {plain(qp[key])}: one of {', '.join(allowed)}.")
    for key in LISTS:  # the worked example's steps=33,34 or 30-34 and units=3,17,200
        if key in qp:
            st.session_state[key] = format_list(parse_list(key, qp[key]))
    if "text" not in qp and "t" not in qp:
        st.session_state["t"] = COURSE_T
    start_from_url(qp, shipped)
    input_from_url(qp)


def input_from_url(qp: dict[str, str]) -> None:
    """input: which input a feature model's page read. An uploaded one (npy, wav) cannot be
    carried by a link: the link opens the shipped sample, and says so."""
    given = qp.get("input")
    if given is None:
        return
    if given not in INPUTS:
        notice(f"Unknown input {plain(given)}: one of {', '.join(INPUTS)}; showing the "
               "shipped sample.")
    elif given != "sample":
        notice(f"This link was made from an uploaded .{given} file, which a link cannot carry: "
               f"it opens the shipped sample. Upload the .{given} again to see it.")
    st.session_state["input"] = "sample"


def start_from_url(qp: dict[str, str], models: Collection[str]) -> None:
    """h0_ckpt and h0_text: start from the final state of that text on that model, both given
    and the model one that can be opened; anything else starts from zeros, with a notice."""
    ckpt, text = qp.get("h0_ckpt"), qp.get("h0_text")
    zeros = "; starting from zeros (h_prev at t = 0 is 0)."
    if ckpt is None:
        if text is not None:
            notice("h0_text is given without h0_ckpt, the model that reads it" + zeros)
        return
    if ckpt not in models:
        notice(f"Unknown h0_ckpt {plain(ckpt)}: only {', '.join(models)} can be started "
               "from" + zeros)
        return
    if not text:
        notice(f"h0_ckpt={plain(ckpt)} is given without h0_text, the text whose final state to "
               "start from" + zeros)
        return
    if len(text) > MAX_URL_TEXT:
        notice(f"h0_text has {len(text):,} characters; only the first {MAX_URL_TEXT:,} are used.")
        text = text[:MAX_URL_TEXT]
    st.session_state["h0_ckpt"], st.session_state["h0_text"] = ckpt, text


KNOWN = ("view", "ckpt", "uploaded", "text", "notation", "input", *INTS, *LISTS, *H0)
STREAMLIT_OWN = ("embed", "embed_options")  # read by Streamlit's frontend, not by the app
_INT = re.compile(r"[+-]?[0-9]{1,9}")  # ASCII digits only: int() also takes "1_0" and "١٠"


def _query(qp, known: Collection[str]) -> dict[str, str]:
    """One value per known parameter: a repeated one takes its last value, with a notice; an
    unknown one is dropped, with a notice."""
    out = {}
    for key in qp:
        values = qp.get_all(key)
        if key in STREAMLIT_OWN:
            continue
        if key not in known:
            notice(f"Unknown URL parameter {plain(key)} ignored.")
            continue
        if len(values) > 1:
            notice(f"{key} is given {len(values)} times; using the last, {key}="
                   f"{plain(values[-1])}.")
        out[key] = values[-1]
    return out


MAX_LIST = 10  # a worked example shows at most 10 steps × 10 units
_ITEM = re.compile(r"([0-9]{1,7})(?:-([0-9]{1,7}))?")  # ASCII digits only: not '٣' or '³'


def parse_list(key: str, raw: str, cap: int = MAX_LIST) -> list[int]:
    """'33,34' or '30-34' (or both: '3,10-12') -> sorted distinct ints, at most `cap`. What is
    not a number or a range is dropped with a notice that does not repeat it."""
    values: set[int] = set()
    bad = 0
    for item in raw.split(","):
        m = _ITEM.fullmatch(item.strip())
        if not m or int(m[2] or m[1]) < int(m[1]):  # '34-30' is not a range
            bad += bool(item.strip())
            continue
        lo, hi = int(m[1]), int(m[2] or m[1])
        values.update(range(lo, min(hi, lo + cap) + 1))  # a range longer than cap is cut
    if bad:
        notice(f"{key}: {bad} entr{'y was' if bad == 1 else 'ies were'} not a whole number or "
               "a range like 30-34, and dropped.")
    if len(values) > cap:
        notice(f"{key}: at most {cap}; the first {cap} are kept.")
    return sorted(values)[:cap]


def format_list(values: list[int]) -> str:
    """[30, 31, 32, 34] -> '30-32,34', the form parse_list reads."""
    runs: list[list[int]] = []
    for v in sorted(set(values)):
        if runs and v == runs[-1][-1] + 1:
            runs[-1].append(v)
        else:
            runs.append([v])
    return ",".join(f"{r[0]}-{r[-1]}" if len(r) > 2 else ",".join(map(str, r)) for r in runs)


def _as_int(key: str, raw: str) -> int:
    if _INT.fullmatch(raw):
        return int(raw)
    notice(f"{key}={plain(raw)} is not a whole number (ASCII digits, at most 9); "
           f"using {key}=0.")
    return 0


def clamp(key: str, hi: int, what: str, default: int = 0, quiet: bool = False) -> int:
    """Keep session_state[key] within 0..hi, with a notice when it had to move."""
    value = st.session_state.get(key, default)
    if not isinstance(value, int):
        value = default
    if value < 0 or value > hi:
        fixed = 0 if value < 0 else hi
        if not quiet:
            notice(f"{key}={value} is outside 0..{hi} ({what}); showing {key}={fixed}.")
        value = fixed
    st.session_state[key] = value
    return value


def write_url(params: dict[str, str]) -> None:
    """Mirror the view into the URL so that copying it reproduces the page."""
    current = dict(st.query_params)
    for k in current.keys() - params.keys():
        del st.query_params[k]
    for k, v in params.items():  # each write is one history entry: a step writes only t
        if current.get(k) != v:
            st.query_params[k] = v
