"""Which models this server offers: the shipped ones, the ones the host names with --model (each
loaded and validated once, the first time the app runs; one that cannot be read is refused with
the loader's message), and uploads, which belong to the session that uploaded them.

An upload is held here, never in a process-wide cache: a session holds its latest upload only,
and when the session ends (its tab closed: no longer an active session of the runtime) the model
is released. Streamlit keeps a closed session for two minutes in case it reconnects (its state
and its fragments' arguments, which can hold the model), so a released model's tensors are
emptied: what a kept session still points at no longer holds the memory."""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch
from streamlit.runtime import Runtime
from streamlit.runtime.scriptrunner import get_script_run_ctx

from dashboard import budget
from gru_core import Checkpoint, CheckpointError, FeatureCheckpoint, load_checkpoint, read_vocab

CHECKPOINT_DIR = Path(__file__).resolve().parents[1] / "checkpoints"
SHIPPED = ("agreement", "agreement-words", "agreement-course", "shakespeare",
           "shakespeare-2layer", "trigger-word")
# the plain RNNs the gradient view compares with, each trained on its GRUs' data; never stepped
CONTRASTS = ("shakespeare-rnn", "agreement-rnn")
SWEEP_SECONDS = 5.0  # how often ended sessions' uploads are looked for

_LOCK = threading.RLock()
_RESIDENT: dict[str, Checkpoint] = {}  # shipped and host-named models, loaded once
_REFUSED: dict[str, str] = {}  # host-named models that could not be read: name -> message
_LOADED_ARGS: dict = {"host": None}  # the --model arguments loaded (a server's argv is fixed)
_UPLOADS: dict[str, tuple[str, Checkpoint]] = {}  # session id -> (model key, model)
on_release: list[Callable[[str], None]] = []  # called with a model key no session holds now
on_session_end: list[Callable[[str], None]] = []  # called with a session id that ended
_SEEN: dict[str, int] = {}  # session id -> sweeps it has been missing from the runtime


def host_args(argv: list[str] | None = None) -> dict[str, tuple[Path, Path | None]]:
    """Models the host names when starting the app:
    streamlit run dashboard/app.py -- --model mine.pt [--vocab mine.json] [--model other.pt ...]
    (each --vocab belongs to the --model before it). Named after the file, linkable like the
    shipped ones; a URL can only pick among these names, never give a path."""
    p = argparse.ArgumentParser(prog="dashboard/app.py", add_help=False)
    p.add_argument("--model", action="append", default=[])
    p.add_argument("--vocab", action="append", default=[])
    args, _ = p.parse_known_args(sys.argv[1:] if argv is None else argv)
    vocabs = args.vocab + [None] * (len(args.model) - len(args.vocab))
    return {Path(m).stem: (Path(m), v and Path(v)) for m, v in zip(args.model, vocabs,
                                                                   strict=False)}


def _load_host_model(path: Path, vocab: Path | None) -> Checkpoint:
    try:
        tokens = read_vocab(vocab.read_bytes()) if vocab else None
        return load_checkpoint(path.read_bytes(), tokens)
    except OSError as e:
        raise CheckpointError(f"cannot read {e.filename or path}: {e.strerror}") from None
    except ValueError as e:  # CheckpointError, and a vocabulary the reader refuses
        raise CheckpointError(str(e)) from None
    except Exception as e:  # noqa: BLE001 - a file no loader expected: its reason, no traceback
        raise CheckpointError(f"{type(e).__name__}: {e}") from None


def host_models() -> dict[str, Checkpoint]:
    """The host-named models that loaded; loaded on the first call, once for the process."""
    with _LOCK:
        named = host_args()
        if _LOADED_ARGS["host"] != named:
            for name in [n for n in _RESIDENT if n not in SHIPPED and n not in CONTRASTS]:
                del _RESIDENT[name]
            _REFUSED.clear()
            for name, (path, vocab) in named.items():
                if name in SHIPPED or name in CONTRASTS:
                    _REFUSED[name] = f"--model {path}: the name {name!r} is a shipped model's"
                    continue
                try:
                    _RESIDENT[name] = _load_host_model(path, vocab)
                    _RESIDENT[name].name = name
                except CheckpointError as e:
                    _REFUSED[name] = f"--model {path} is not offered: {e}"
                    print(_REFUSED[name], file=sys.stderr)  # the host reads the server's log
            _LOADED_ARGS["host"] = named
        return {n: ck for n, ck in _RESIDENT.items() if n not in SHIPPED and n not in CONTRASTS}


def refused() -> list[str]:
    """Why each host-named model that could not be read is not offered (plain text)."""
    host_models()
    return list(_REFUSED.values())


def shipped_file(name: str) -> Path:
    """A shipped model's file: name.pt, or name.keras (a Keras model, with name.vocab.json, its
    tokens in one-hot order, or name.labels.json, a feature model's class names, and
    name.meta.json, its training record, beside it)."""
    pt = CHECKPOINT_DIR / f"{name}.pt"
    return pt if pt.is_file() else CHECKPOINT_DIR / f"{name}.keras"


def _load_shipped(name: str) -> Checkpoint:
    return load_checkpoint(shipped_file(name))  # a Keras file's sidecar JSON files with it


def available() -> list[str]:
    shipped = [name for name in SHIPPED if shipped_file(name).is_file()]
    return shipped + [name for name in host_models() if name not in shipped]


def reads_text(name: str) -> bool:
    """False for a model reading feature vectors (no vocabulary: nothing to type for it, no
    tokens to lend an upload); a shipped one is told by its files, without loading it."""
    hosted = host_models()
    if name in hosted:
        return not isinstance(hosted[name], FeatureCheckpoint)
    return shipped_file(name).suffix == ".pt" or (CHECKPOINT_DIR / f"{name}.vocab.json").is_file()


def sample_file(name: str) -> Path | None:
    """A shipped feature model's sample input, name.sample.npy, if it has one."""
    if name not in SHIPPED:
        return None
    path = CHECKPOINT_DIR / f"{name}.sample.npy"
    return path if path.is_file() else None


def text_models() -> list[str]:
    return [name for name in available() if reads_text(name)]


def model(name: str) -> Checkpoint:
    """A shipped model or one the host named; never a path built from user input."""
    hosted = host_models()
    if name in hosted:
        return hosted[name]
    if name not in (*SHIPPED, *CONTRASTS):
        raise KeyError(name)
    with _LOCK:
        if name not in _RESIDENT:
            ck = _load_shipped(name)
            ck.name = name
            _RESIDENT[name] = ck
        return _RESIDENT[name]


def is_resident(ck: Checkpoint) -> bool:
    """Held for the life of the process anyway (shipped, host-named): a trace of it keeps no
    memory alive beyond its own tensors."""
    return any(ck is held for held in _RESIDENT.values())


def upload_key(data: bytes, vocab: list[str] | None, features: bool = False) -> str:
    digest = hashlib.sha256(data + json.dumps([vocab, features] if features else vocab)
                            .encode()).hexdigest()
    return "upload:" + digest


def session_id() -> str:
    """The browser session this script run serves ("" outside one: tests, the CLI)."""
    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def uploaded(model_key: str, data: bytes, vocab: list[str] | None,
             name: str | None = None, features: bool = False) -> Checkpoint:
    """This session's upload, loaded once and named `name` (after its file); a new upload
    replaces the session's previous one, which is released before the new one is loaded.
    `features`: a Keras model whose GRU reads feature vectors itself (no layers before it)."""
    sweep()
    session = session_id()
    with _LOCK:
        held = _UPLOADS.get(session)
        if held is not None and held[0] == model_key:
            return held[1]
        _UPLOADS.pop(session, None)
    if held is not None:
        _release(*held)
    with _LOCK:
        shared = [ck for key, ck in _UPLOADS.values() if key == model_key]  # other sessions'
    if shared:
        ck = shared[0]
    else:
        room = budget.budget_bytes() // 2 - uploads_nbytes()
        if len(data) > room:  # the parsed model holds about as much as its file
            raise CheckpointError(
                f"this server holds {uploads_nbytes() / 2**20:,.0f} MiB of uploaded models "
                f"now, and uploads may take half of its {budget.budget_bytes() / 2**20:,.0f} "
                "MiB budget: try again in a few minutes, or use a shipped model")
        ck = load_checkpoint(data, vocab, features=features)
        ck.name = name or f"upload {model_key.removeprefix('upload:')[:8]}"
    with _LOCK:
        _UPLOADS[session] = (model_key, ck)
    return ck


def seen(session: str) -> None:
    """A session the sweeper watches: when the runtime no longer has it, what it held goes."""
    with _LOCK:
        _SEEN[session] = 0


def uploads_nbytes() -> int:
    """The parameters of the uploaded models held now (each file once), and the uploaded bytes
    Streamlit's own store holds."""
    with _LOCK:
        models = {key: ck for key, ck in _UPLOADS.values()}
    held = sum(budget.params_nbytes(ck) for ck in models.values())
    return held + _stored_upload_bytes()


def _stored_upload_bytes() -> int:
    if not Runtime.exists():
        return 0
    store = Runtime.instance().uploaded_file_mgr
    return max(0, int(getattr(store, "_total_bytes", 0)))


def _release(model_key: str, ck: Checkpoint) -> None:
    with _LOCK:
        if any(key == model_key for key, _ in _UPLOADS.values()):
            return  # another session holds the same file
    for forget in on_release:
        forget(model_key)
    with torch.no_grad():
        for tensor in [*ck.module.parameters(), *ck.module.buffers()]:
            tensor.data = torch.empty(0, dtype=tensor.dtype)


def end_session(session: str) -> None:
    """Release what a session holds (called by sweep when the runtime no longer has it): its
    upload, what cache.py keeps for it, and what Streamlit itself keeps for a closed session
    (its uploaded files, its download buttons' callables), which it would otherwise keep while
    the session waits for a reconnect."""
    with _LOCK:
        held = _UPLOADS.pop(session, None)
        _SEEN.pop(session, None)
    if held is not None:
        _release(*held)
    if Runtime.exists():
        runtime = Runtime.instance()
        manager = getattr(runtime, "_session_mgr", None)
        if manager is not None and not runtime.is_active_session(session):
            # the kept session's state holds its uploaded file's bytes (the uploader's value)
            # for a reconnect; one that comes later starts anew from its URL
            with contextlib.suppress(Exception):
                manager.close_session(session)
        runtime.uploaded_file_mgr.remove_session_files(session)
        media = runtime.media_file_mgr
        media.clear_session_refs(session)
        for _ in range(2):  # a downloadable file is marked on the first pass, freed on the next
            media.remove_orphaned_files()
    for hook in on_session_end:
        hook(session)


def sweep(grace: int = 1) -> None:
    """Release what sessions that ended held: a session missing from the runtime's active
    sessions for more than `grace` sweeps in a row (a reconnect within SWEEP_SECONDS keeps
    its upload). Without a runtime (AppTest, a script) no session ends."""
    if not Runtime.exists():
        return
    runtime = Runtime.instance()
    store = getattr(runtime.uploaded_file_mgr, "file_storage", {})
    with _LOCK:
        for session in [*_UPLOADS, *list(store)]:
            _SEEN.setdefault(session, 0)
        ended = []
        for session in list(_SEEN):
            if runtime.is_active_session(session):
                _SEEN[session] = 0
                continue
            _SEEN[session] += 1
            if _SEEN[session] > grace:
                ended.append(session)
    for session in ended:
        end_session(session)


def _sweeper() -> None:
    while True:
        time.sleep(SWEEP_SECONDS)
        with contextlib.suppress(Exception):  # a runtime shutting down: try again later
            sweep()


threading.Thread(target=_sweeper, name="gru-stepper-uploads", daemon=True).start()
