"""Checkpoint files: this project's own format, or a plain state_dict (.pt, .safetensors).

A file is untrusted input (users upload them), so loading never unpickles arbitrary objects
(torch.load(weights_only=True); safetensors holds tensors only), never runs TorchScript, checks
what a file declares before anything is inflated (bounds.py: torch.load and safetensors trust the
declarations), and checks every field before a module is built from it. Every failure is a
CheckpointError whose message says what is wrong in words a user can act on, naming at most a few
items.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

import safetensors.torch
import torch

from . import keras_file
from .bounds import (
    BoundsError,
    Unreadable,
    check_safetensors,
    few,
    loads_json_bounded,
    read_zip_bounded,
    require_methods,
)
from .importer import NotFound, find_gru_model
from .lm import TextTrace, trace_text
from .model import CELLS, GRUConfig, TokenGRU
from .vocab import Vocab, read_vocab

FORMAT = "gru-stepper/1"
MAX_BYTES = 64 * 1024 * 1024
LIMITS = {"input_size": 4096, "hidden_size": 4096, "num_layers": 8}
MAX_VOCAB, MAX_TOKEN = 100_000, 64
# What a file may declare. The largest model accepted is the largest that fits MAX_BYTES, and
# torch.save stores its records uncompressed, so together they never hold more than the file.
# The largest allowed architecture has 8 layers x 2 directions x 4 tensors + 3: MAX_TENSORS
# leaves room for what training scripts save beside the model (an optimizer's state).
MAX_TENSORS = 1024
ZIP_RECORDS = MAX_TENSORS + 16  # torch.save's own: data.pkl, version, byteorder, ...
MAX_SAFETENSORS_HEADER = 2 * 2**20  # ~100 bytes of JSON a tensor
OPTIONS = {"embedding": False, "head": True, "cell": "gru"}  # optional in config: older files
# have none of them; cell "rnn" is the plain RNN kept to compare gradients with, never traced
CONFIG_TYPES = {
    "input_size": int,
    "hidden_size": int,
    "num_layers": int,
    "bidirectional": bool,
    "bias": bool,
}
KEYS = ("format", "config", "vocab", "state_dict", "meta")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used, with the reason in plain words."""


class NoVocabulary(CheckpointError):
    """A plain state_dict given without its vocabulary: not a bad file, a question to ask."""


@dataclass
class Checkpoint:
    config: GRUConfig
    vocab: Vocab
    module: TokenGRU
    meta: dict = field(default_factory=dict)
    name: str = ""
    labels: tuple[str, ...] | None = None  # the head's classes, where they are not the tokens

    def encode(self, text: str) -> torch.Tensor:
        """text -> (T, input_size): the x_t that nn.GRU reads."""
        return self.module.inputs(self.vocab.encode(text))

    def trace(self, text: str, h0: torch.Tensor | TextTrace | None = None,
              h0_source: str | None = None) -> TextTrace:
        """The text traced from h0: zeros, another trace's final state (an encoder's h_n, or
        the trace itself), or a tensor (L*D, H); h0_source says in words where it came from."""
        if self.module.cell != "gru":
            raise ValueError(f"{self.name or 'this model'} is a plain RNN: it has no gates to "
                             "trace (it is there to compare gradients with)")
        return trace_text(self, text, h0, h0_source)


def save_checkpoint(path: str | Path, module: TokenGRU, vocab: list[str] | Vocab,
                    meta: dict) -> None:
    state = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
    options = {"embedding": module.embed is not None, "head": module.head is not None,
               "cell": module.cell}
    torch.save(
        {
            "format": FORMAT,
            "config": {**module.config.to_dict(), **options},
            "vocab": list(vocab.tokens if isinstance(vocab, Vocab) else vocab),
            "state_dict": state,
            "meta": meta,
        },
        path,
    )


def load_checkpoint(source: str | Path | bytes, vocab: list[str] | Vocab | None = None,
                    labels: list[str] | None = None, features: bool = False) -> Checkpoint:
    """Read and validate a checkpoint from a path or from the file's bytes: this project's own
    format, or a plain state_dict (torch.save(model.state_dict()) or safetensors) holding one
    nn.GRU, optionally an nn.Embedding and an nn.Linear head, with `vocab` its tokens in order,
    or a Keras file (a model reading feature vectors needs no vocabulary: one with layers
    before its GRU, or any with features=True). `labels` names the
    classes of a head that does not predict the next token (default: their indices).
    A file's declared sizes are checked before anything in it is inflated."""
    data = _read_bytes(source)
    if keras_file.is_keras(data):  # .keras / .h5: read as data, never run (keras_file.py)
        record: dict = {}
        if isinstance(source, str | Path):
            vocab, labels, record = _beside(Path(source), vocab, labels)
        ck = _from_keras(data, vocab, labels, features)
        ck.meta = {**record, **ck.meta}
        return ck
    obj = _safetensors(data) if _is_safetensors(data) else _unpickle_safely(data)
    if not isinstance(obj, dict):
        raise CheckpointError(f"expected a dict at the top of the file, found {type(obj).__name__}")
    if "format" not in obj:
        return _from_state_dict(obj, vocab, labels)
    missing = [k for k in KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"missing keys: {', '.join(missing)}")
    if obj["format"] != FORMAT:
        raise CheckpointError(f"unknown format {obj['format']!r:.60}; this version reads "
                              f"{FORMAT!r}")
    config, options = _check_config(obj["config"])
    vocab = _check_vocab(obj["vocab"], config, options["embedding"])
    state = _check_state_dict(obj["state_dict"], config, len(vocab), options)
    if not isinstance(obj["meta"], dict):
        raise CheckpointError("'meta' must be a dict")
    return _build(config, vocab, state, options, obj["meta"])


def _beside(path: Path, vocab, labels) -> tuple:
    """A Keras file carries no vocabulary, class names or preprocessing: read them from
    name.vocab.json, name.labels.json and name.meta.json beside it where the caller gave none
    (a feature model's meta says how its input was made: without it a .wav would be fed
    unprocessed, and silently wrong)."""
    def side(kind: str) -> bytes | None:
        f = path.with_name(f"{path.stem}.{kind}.json")
        return f.read_bytes() if f.is_file() else None
    if vocab is None and (raw := side("vocab")) is not None:
        vocab = read_vocab(raw)
    if labels is None and vocab is None and (raw := side("labels")) is not None:
        labels = loads_json_bounded(raw, 4, "labels")
    raw = side("meta")
    record = loads_json_bounded(raw, 64, "training record") if raw is not None else {}
    if not isinstance(record, dict):
        raise CheckpointError(f"{path.stem}.meta.json must hold a JSON object")
    return vocab, labels, record


def _from_state_dict(obj: dict, vocab: list[str] | Vocab | None, labels: list[str] | None
                     ) -> Checkpoint:
    state, where = _tensors_of(obj)
    if vocab is None:
        raise NoVocabulary("this is a plain state_dict, which carries no vocabulary: give the "
                              "model's tokens in order (a text file, one per line, or a JSON "
                              "list), the same list it was trained with")
    vocab = vocab if isinstance(vocab, Vocab) else check_vocab(vocab)
    try:
        config, options, state, found = find_gru_model(state, len(vocab))
    except NotFound as e:
        raise CheckpointError(str(e)) from None
    _check_config(config.to_dict())  # the limits on sizes hold for state_dicts too
    check_tensors(state, _expected_shapes(config, len(vocab), options))
    size = options.get("head_size")
    meta = {"source": f"plain state_dict{where}", "found": found,
            "head": "none" if not options["head"] else "tagger" if size else "next-token",
            "head_activation": None if not options["head"] else "sigmoid" if size == 1
            else "softmax"}
    ck = _build(config, vocab, state, options, meta)
    if size == 1:  # one logit: read as a binary probability, as BCEWithLogitsLoss trains it
        ck.module.head.activation = "sigmoid"
    ck.labels = check_labels(labels, ck.module.head, meta["head"])
    return ck


def _from_keras(data: bytes, vocab: list[str] | Vocab | None, labels: list[str] | None,
                features: bool) -> Checkpoint:
    if vocab is not None:
        vocab = vocab if isinstance(vocab, Vocab) else check_vocab(vocab)
    try:
        config, module, meta = keras_file.load_keras(data, None if vocab is None else len(vocab),
                                                     features)
    except keras_file.KerasFileError as e:
        raise CheckpointError(str(e)) from None
    _check_config(config.to_dict())
    labels = check_labels(labels, module.head, meta["head"])
    if meta["input"] == "features":
        from .features import FeatureCheckpoint
        return FeatureCheckpoint(config=config, vocab=Vocab(labels or ("-",)), module=module,
                                 meta=meta, labels=labels)
    return Checkpoint(config=config, vocab=vocab, module=module, meta=meta, labels=labels)


def check_labels(raw: list[str] | None, head, kind: str) -> tuple[str, ...] | None:
    """The head's class names: given (one per output), or the outputs' indices; None for a
    next-token head (its classes are the vocabulary) or no head."""
    if head is None or kind == "next-token":
        if raw is not None and head is None:
            raise CheckpointError("labels were given but the model has no head")
        return None
    V = head.out_features
    if raw is None:
        return tuple(str(i) for i in range(V))
    if not isinstance(raw, (list, tuple)) or not all(
            isinstance(x, str) and 0 < len(x) <= MAX_TOKEN for x in raw):
        raise CheckpointError(f"labels must be a list of names of 1 to {MAX_TOKEN} characters")
    if len(raw) != V:
        raise CheckpointError(f"the head has {V} outputs but {len(raw)} labels were given: "
                              "give one name per output, in the head's order")
    if len(set(raw)) != len(raw):
        raise CheckpointError("the labels have repeated names")
    return tuple(raw)


def _tensors_of(obj: dict) -> tuple[dict[str, torch.Tensor], str]:
    """The dict of tensors: the file itself, or the one dict of tensors inside it (training
    scripts often save {"model": state_dict, "epoch": ...})."""
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return obj, ""
    inner = [(k, v) for k, v in obj.items() if isinstance(v, dict) and v
             and all(isinstance(t, torch.Tensor) for t in v.values())]
    if len(inner) == 1:
        return inner[0][1], f" (under {inner[0][0]!r})"
    raise CheckpointError("not a state_dict: expected a dict of tensors (as written by "
                          "torch.save(model.state_dict(), path)), or this project's format")


def _is_safetensors(data: bytes) -> bool:
    """safetensors: an 8-byte little-endian header size, then a JSON header (a torch.save zip
    starts with PK, a pickle with \\x80)."""
    return len(data) > 8 and data[8:9] == b"{" and 0 < int.from_bytes(data[:8], "little") < 2**32


def _safetensors(data: bytes) -> dict[str, torch.Tensor]:
    try:
        check_safetensors(data, MAX_SAFETENSORS_HEADER, MAX_TENSORS, MAX_BYTES)
    except Unreadable as e:
        raise CheckpointError(f"not a readable checkpoint (corrupt safetensors file): {e}"
                              ) from None
    except BoundsError as e:
        raise CheckpointError(f"refused to load this safetensors file: {e}") from None
    try:
        return safetensors.torch.load(data)
    except Exception as e:  # a corrupt header or payload, in any of its forms
        raise CheckpointError(f"not a readable checkpoint (corrupt safetensors file): {e}"
                              ) from None


def _build(config: GRUConfig, vocab: Vocab, state: dict[str, torch.Tensor], options: dict,
           meta: dict) -> Checkpoint:
    dtype = next(iter(state.values())).dtype
    module = TokenGRU(config, len(vocab), **options).to(dtype)
    module.load_state_dict(state)
    module.eval()
    return Checkpoint(config=config, vocab=vocab, module=module, meta=meta)


def _read_bytes(source: str | Path | bytes) -> bytes:
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        if not path.is_file():
            raise CheckpointError(f"no checkpoint file at {str(path)!r}")
        if path.stat().st_size > MAX_BYTES:
            raise CheckpointError(f"file is larger than the {MAX_BYTES // 2**20} MiB limit")
        data = path.read_bytes()
    if not data:
        raise CheckpointError("the file is empty")
    if len(data) > MAX_BYTES:
        raise CheckpointError(f"file is larger than the {MAX_BYTES // 2**20} MiB limit")
    return data


TORCHSCRIPT = (
    "refused to load: this is a TorchScript archive (written by torch.jit.save or "
    "torch.jit.trace), and loading TorchScript runs the code inside it, so it is never opened "
    "here. Save its weights on your own machine with torch.save(torch.jit.load(\"model.pt\")"
    ".state_dict(), \"state_dict.pt\") and open state_dict.pt with its vocabulary")
LEGACY = (
    "refused to load: this file is in PyTorch's legacy format (torch.save before PyTorch 1.6, "
    "or _use_new_zipfile_serialization=False), whose tensor sizes cannot be checked before "
    "they are allocated. Save it again on your own machine with "
    "torch.save(torch.load(\"old.pt\", weights_only=True), \"model.pt\")")


def _refuse_pickle(named: str | None) -> CheckpointError:
    what = f"a pickled Python object ({named})" if named else "data"
    return CheckpointError(
        f"refused to load: the file holds {what} other than tensors and plain values (or is "
        "corrupt), and a pickle can run code, so it is never opened here. A model saved "
        "whole with torch.save(model) is such a file: save its weights instead, with "
        "torch.save(model.state_dict(), \"model.pt\")")


def _check_zip(data: bytes) -> None:
    """torch.save's zip, checked before torch.load inflates any record of it. TorchScript
    (whose code records are deflated) is told apart by its record names first."""
    try:
        zf = read_zip_bounded(data, MAX_BYTES, ZIP_RECORDS, allow_compressed=True)
        if any("/code/" in n or n.rpartition("/")[2] == "constants.pkl" for n in zf.namelist()):
            raise CheckpointError(TORCHSCRIPT)
        require_methods(zf, (zipfile.ZIP_STORED,))
    except Unreadable as e:
        raise CheckpointError(f"not a readable checkpoint (corrupt or truncated file): {e}"
                              ) from None
    except BoundsError as e:
        raise CheckpointError(f"refused to load: {e}") from None


def _refuse_not_zip(data: bytes) -> NoReturn:
    """Not a zip: PyTorch's legacy format (a pickled magic number first) or a bare pickle.
    torch.load would allocate the legacy format's storages at the sizes its pickle declares,
    so neither reaches it; the first pickle is only parsed (pickletools runs nothing) to say
    which it is."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pickletools decodes garbage's escapes noisily
            ops = _first_pickle(data)
    except CheckpointError:
        raise
    except Exception:  # garbage: any parse error of pickletools
        raise CheckpointError("not a readable checkpoint (corrupt or truncated file, or not a "
                              "file written by torch.save or safetensors)") from None
    if [arg for name, arg in ops if name not in ("PROTO", "FRAME", "STOP")] == [
            torch.serialization.MAGIC_NUMBER]:
        raise CheckpointError(LEGACY)
    raise CheckpointError("not a readable checkpoint (a bare pickle, not a file written by "
                          "torch.save or safetensors)")


def _first_pickle(data: bytes, max_ops: int = 100_000) -> list[tuple[str, object]]:
    """(opcode, argument) of the file's first pickle; refused at the first that builds an
    object (the global it names, where it names one)."""
    ops: list[tuple[str, object]] = []
    for op, arg, _ in pickletools.genops(io.BytesIO(data)):
        ops.append((op.name, arg))
        if op.name in ("GLOBAL", "INST"):
            raise _refuse_pickle(str(arg).replace(" ", "."))
        if op.name in ("STACK_GLOBAL", "REDUCE", "OBJ", "NEWOBJ", "NEWOBJ_EX", "BUILD"):
            strings = [a for _, a in ops if isinstance(a, str)]
            raise _refuse_pickle(".".join(strings[-2:]) if op.name == "STACK_GLOBAL" else None)
        if len(ops) > max_ops:
            break
    return ops


def _unpickle_safely(data: bytes) -> object:
    if data[:4] != b"PK\x03\x04":  # torch.load's own test for its zip format
        _refuse_not_zip(data)
    _check_zip(data)
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        named = re.search(r"GLOBAL ([\w.]+)", str(e))
        raise _refuse_pickle(named.group(1) if named else None) from None
    except Exception as e:  # garbage trips the unpickler in many ways (IndexError, KeyError,
        # ...): to the user they all mean the same
        raise CheckpointError(
            f"not a readable checkpoint (corrupt or truncated file): {e}"
        ) from None


def _check_config(raw: object) -> tuple[GRUConfig, dict]:
    if not isinstance(raw, dict):
        raise CheckpointError("'config' must be a dict")
    missing = [k for k in CONFIG_TYPES if k not in raw]
    if missing:
        raise CheckpointError(f"config is missing: {', '.join(missing)}")
    kinds = {**CONFIG_TYPES, **{k: type(v) for k, v in OPTIONS.items() if k in raw}}
    for key, kind in kinds.items():
        value = raw[key]
        ok = isinstance(value, bool) if kind is bool else type(value) is kind
        if not ok:
            raise CheckpointError(f"config[{key!r}] must be {kind.__name__}, got {value!r:.60}")
    if raw.get("cell", "gru") not in CELLS:
        raise CheckpointError(f"config['cell'] must be one of {', '.join(CELLS)}")
    for key, limit in LIMITS.items():
        if not 1 <= raw[key] <= limit:
            raise CheckpointError(f"config[{key!r}] = {raw[key]} is outside 1..{limit}")
    options = {k: raw.get(k, default) for k, default in OPTIONS.items()}
    return GRUConfig(**{k: raw[k] for k in CONFIG_TYPES}), options


def check_vocab(tokens: object) -> Vocab:
    """A vocabulary is a list of distinct tokens: single characters, or words without spaces."""
    if not isinstance(tokens, (list, tuple)) or not tokens:
        raise CheckpointError("the vocabulary must be a non-empty list of strings")
    if len(tokens) > MAX_VOCAB:
        raise CheckpointError(f"the vocabulary has {len(tokens):,} tokens; the limit is "
                              f"{MAX_VOCAB:,}")
    for tok in tokens:
        if not isinstance(tok, str) or not tok or len(tok) > MAX_TOKEN or (
                len(tok) > 1 and any(c.isspace() for c in tok)):
            raise CheckpointError(
                f"vocabulary entry {tok!r:.40} is not a token: tokens are single characters, "
                f"or words of up to {MAX_TOKEN} characters without spaces")
    if len(set(tokens)) != len(tokens):
        raise CheckpointError("the vocabulary has repeated tokens")
    return Vocab(tuple(tokens))


def _check_vocab(raw: object, config: GRUConfig, embedding: bool) -> Vocab:
    vocab = check_vocab(raw)
    if not embedding and len(vocab) != config.input_size:
        raise CheckpointError(
            f"vocabulary has {len(vocab)} {vocab.kind} but input_size is {config.input_size}")
    return vocab


def _expected_shapes(config: GRUConfig, vocab_size: int, options: dict) -> dict[str, torch.Size]:
    with torch.device("meta"):
        return {k: v.shape for k, v in TokenGRU(config, vocab_size, **options).state_dict().items()}


def check_tensors(state: dict, expected: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """Every expected key present with its shape, float32 or float64 throughout, finite."""
    missing = sorted(set(expected) - set(state))
    extra = sorted(set(state) - set(expected))
    if missing or extra:
        raise CheckpointError(
            f"state_dict does not match the config: missing {few(missing) or 'nothing'}, "
            f"unexpected {few(extra) or 'nothing'}"
        )
    dtypes = set()
    for key, shape in expected.items():
        t = state[key]
        if not isinstance(t, torch.Tensor) or t.dtype not in (torch.float32, torch.float64):
            raise CheckpointError(f"{key} must be a float32 or float64 tensor")
        if t.shape != shape:
            raise CheckpointError(f"{key} has shape {tuple(t.shape)}, expected {tuple(shape)}")
        if not torch.isfinite(t).all():
            raise CheckpointError(f"{key} contains NaN or infinite values")
        dtypes.add(t.dtype)
    if len(dtypes) > 1:
        raise CheckpointError("state_dict mixes float32 and float64 tensors")
    return state


def _check_state_dict(state: object, config: GRUConfig, vocab_size: int, options: dict
                      ) -> dict[str, torch.Tensor]:
    if not isinstance(state, dict):
        raise CheckpointError("'state_dict' must be a dict of tensors")
    return check_tensors(state, _expected_shapes(config, vocab_size, options))
