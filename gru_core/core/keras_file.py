"""Keras model files, read and never executed: `.keras` (a zip of config.json and
model.weights.h5) and the legacy full-model `.h5` (HDF5 with a JSON `model_config` attribute).

Neither TensorFlow nor Keras is imported and nothing is deserialised by Keras: the JSON config is
read as data and only the layers the stepper can replay are accepted (a Lambda layer's code is
never run, it is refused by name). Supported: a Sequential or a chain-shaped Functional model of
Embedding (or one-hot input) -> 1..3 GRU layers (return_sequences, optionally Bidirectional with
merge_mode 'concat', the same units throughout) -> an optional Dense head (linear or softmax).
Dropout layers are accepted: Keras skips them at inference. A mask (Embedding(mask_zero=True),
Masking) is read as keras_layers.Mask: the GRUs it reaches run Keras's masked loop, and a trace
honours padding at the end (lm.py, features.py).

Sizes are checked before anything is inflated: the zip's declared sizes and entry count, then
every HDF5 dataset's shape before it is read.
"""

from __future__ import annotations

import io
import re
import zipfile

import h5py
import numpy as np
import torch
from torch import nn

from . import keras_layers
from .bounds import BoundsError, check_h5, loads_json_bounded, read_record, read_zip_bounded
from .convention import KerasCell, dtype_policy, keras_notes, keras_refusal
from .keras_model import KerasGRU
from .model import GRUConfig, TokenGRU

HDF5 = b"\x89HDF\r\n\x1a\n"
MAX_ENTRIES, MAX_CONFIG = 16, 4 * 2**20
MAX_WEIGHTS = 64 * 2**20  # bytes of weights, as every checkpoint
MAX_RATIO = 200  # a declared size more than this many times the compressed one is a bomb
MAX_GRU_LAYERS = 3
MAX_JSON_DEPTH = 64  # a Keras config nests ~10 levels; json.loads recurses once per level
STEPPABLE = ("the stepper reads Embedding (or one-hot input) -> 1 to 3 GRU layers "
             "(optionally Bidirectional) -> a Dense head. To step the GRU alone, call "
             "gru_core.recompute(gru_core.KerasGRU([[gru_core.KerasCell(kernel, "
             "recurrent_kernel, bias, reset_after=..., activation=..., "
             "recurrent_activation=...)]]), x, h0) from Python on its input sequence x")


class KerasFileError(ValueError):
    """Raised with a message for the user; checkpoint.py turns it into a CheckpointError."""


def is_keras(data: bytes) -> bool:
    """A .keras zip (config.json inside) or an HDF5 file. A torch.save zip has no config.json."""
    if data.startswith(HDF5):
        return True
    if not data.startswith(b"PK\x03\x04"):
        return False
    try:
        return "config.json" in read_zip_bounded(data, MAX_WEIGHTS + MAX_CONFIG, MAX_ENTRIES,
                                                 allow_compressed=True).namelist()
    except BoundsError:  # too many records for a .keras file (a torch.save zip), or a bomb:
        # the names sit in the central directory at the end; load_keras says what is wrong
        return b"config.json" in data[-65536:] and b"model.weights.h5" in data[-65536:]


def load_keras(data: bytes, vocab_size: int | None, features: bool = False
               ) -> tuple[GRUConfig, TokenGRU, dict]:
    """-> (config, a TokenGRU whose GRU and head are Keras's, meta). A model with layers
    before its GRU (Conv1D ...) reads features; one whose input goes straight into the GRU
    reads one-hot tokens unless `features` says its input is feature vectors."""
    if data.startswith(HDF5):
        h5 = _open_h5(data)
        if "model_config" not in h5.attrs:
            raise KerasFileError(
                "this HDF5 file holds weights only (model.save_weights): it carries no "
                "architecture. Save the whole model with model.save(\"model.keras\")")
        config = _json(h5.attrs["model_config"])
        source = "legacy Keras .h5 file"
        weights = _LegacyWeights(h5)
    else:
        entries = _read_zip_bounded(data, ("config.json", "model.weights.h5"))
        config = _json(entries["config.json"])
        source = "Keras .keras file"
        weights = _KerasWeights(_open_h5(entries["model.weights.h5"]))
    layers, masks = _chain(config)
    return _build(layers, weights, vocab_size, source, features, masks)


# --- bounds -------------------------------------------------------------------------------------

def _open_zip(data: bytes) -> zipfile.ZipFile:
    """The .keras zip opened by bounds.read_zip_bounded (count, declared sizes and headers
    checked before zipfile builds anything), then held to a compression ratio no model has."""
    try:
        zf = read_zip_bounded(data, MAX_WEIGHTS + MAX_CONFIG, MAX_ENTRIES, allow_compressed=True)
    except BoundsError as e:
        raise KerasFileError(f"not a usable .keras file: {e}: refused before unpacking") from None
    for i in zf.infolist():
        if i.file_size > MAX_RATIO * max(i.compress_size, 1) + 2**16:
            raise KerasFileError(f"{i.filename[:80]} in the .keras file is compressed "
                                 f"{i.file_size // max(i.compress_size, 1):,}:1, as a "
                                 "decompression bomb is: refused before unpacking")
    return zf


def _read_zip_bounded(data: bytes, names: tuple[str, ...]) -> dict[str, bytes]:
    """The records `names`, none inflated past its limit (bounds.read_record)."""
    zf = _open_zip(data)
    missing = [n for n in names if n not in zf.namelist()]
    if missing:
        raise KerasFileError(f"the .keras file has no {', '.join(missing)}")
    try:
        return {n: read_record(zf, n, MAX_CONFIG if n.endswith(".json") else MAX_WEIGHTS)
                for n in names}
    except BoundsError as e:
        raise KerasFileError(f"not a usable .keras file: {e}") from None


def _open_h5(data: bytes) -> h5py.File:
    try:
        h5 = h5py.File(io.BytesIO(data), "r")
        check_h5(h5, MAX_WEIGHTS)  # every dataset's declared size, before any is read
        return h5
    except BoundsError as e:
        raise KerasFileError(f"refused before reading: {e}") from None
    except OSError as e:
        raise KerasFileError(f"not a readable HDF5 file (corrupt or truncated): {e}") from None


def _json(raw: bytes | str) -> dict:
    if isinstance(raw, bytes) and len(raw) > MAX_CONFIG:
        raise KerasFileError("the model's config is too large")
    try:
        config = loads_json_bounded(raw, MAX_JSON_DEPTH, "model's config")
    except BoundsError as e:
        raise KerasFileError(str(e)) from None
    if not isinstance(config, dict):
        raise KerasFileError("the model's config is not a JSON object")
    return config


def _array(ds: object, shape: tuple[int, ...], what: str) -> torch.Tensor:
    """A float32/float64 dataset of exactly `shape`, checked before it is read."""
    if not isinstance(ds, h5py.Dataset):
        raise KerasFileError(f"{what}: no weights in the file")
    if ds.dtype not in (np.float32, np.float64):
        raise KerasFileError(f"{what} must be float32 or float64, found {ds.dtype}")
    if tuple(ds.shape) != shape:
        raise KerasFileError(f"{what} has shape {tuple(ds.shape)}, expected {shape}")
    t = torch.tensor(ds[()])  # a fresh, aligned copy: the bits of MKL's products depend on it
    if not torch.isfinite(t).all():
        raise KerasFileError(f"{what} contains NaN or infinite values")
    return t


# --- weights, in both file layouts ----------------------------------------------------------

class _KerasWeights:
    """model.weights.h5: layers/<snake_case class name, numbered>/[cell/]vars/<i>."""

    def __init__(self, h5: h5py.File):
        self.h5 = h5
        self.used: dict[str, int] = {}

    def layer(self, spec: dict) -> str:
        name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", str(spec["class_name"]))  # Keras's
        name = re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()  # naming.to_snake_case
        n = self.used.get(name, 0)
        self.used[name] = n + 1
        return f"layers/{name}" + (f"_{n}" if n else "")

    def get(self, path: str, part: str, i: int) -> object:
        return self.h5.get(f"{path}/{part}vars/{i}")

    def gru(self, path: str, sub: str = "") -> callable:
        return lambda i: self.get(path, f"{sub}cell/", i)

    def plain(self, path: str) -> callable:
        return lambda i: self.get(path, "", i)

    def inner(self, path: str) -> callable:
        """A wrapper's layer (TimeDistributed): its weights under layer/."""
        return lambda i: self.get(path, "layer/", i)


class _LegacyWeights:
    """Legacy .h5: model_weights/<layer name>/ with the weights in its weight_names order."""

    def __init__(self, h5: h5py.File):
        self.h5 = h5

    def layer(self, spec: dict) -> str:
        return spec["config"].get("name", "")

    def _names(self, name: str) -> list:
        group = self.h5.get(f"model_weights/{name}")
        names = [] if group is None else list(group.attrs.get("weight_names", []))
        return [n.decode() if isinstance(n, bytes) else str(n) for n in names]

    def gru(self, name: str, sub: str = "") -> callable:
        names = self._names(name)
        offset = 3 if sub == "backward_layer/" else 0
        return lambda i: (self.h5.get(f"model_weights/{name}/{names[offset + i]}")
                          if offset + i < len(names) else None)

    def plain(self, name: str) -> callable:
        names = self._names(name)
        return lambda i: (self.h5.get(f"model_weights/{name}/{names[i]}")
                          if i < len(names) else None)

    inner = plain  # a wrapper's weights are listed under its own name


# --- the architecture ---------------------------------------------------------------------

def _chain(config: dict) -> tuple[list[dict], dict | None]:
    """The model's layers in order, for a Sequential or a Functional model that is a chain, and
    for a Keras 3 Functional config the mask each layer is given (its name -> what computes
    it, _mask_made_by), or None where masks pass implicitly (Sequential, Keras 2)."""
    kind, inner = config.get("class_name"), config.get("config")
    if kind not in ("Sequential", "Functional", "Model") or not isinstance(inner, dict):
        raise KerasFileError(f"the file holds a {kind!r}, not a Sequential or Functional model: "
                             + STEPPABLE)
    layers = inner.get("layers")
    if not isinstance(layers, list) or not all(isinstance(s, dict) for s in layers):
        raise KerasFileError("the model's config has no list of layers")
    for spec in layers:
        if not isinstance(spec.get("config"), dict):
            raise KerasFileError("a layer in the config has no config")
    ops = {_name(s): s for s in layers if s.get("class_name") in MASK_OPS}
    layers = [s for s in layers if s.get("class_name") not in MASK_OPS]
    if kind != "Sequential":
        previous = None
        for spec in layers:
            sources = _inbound(spec)
            if previous is not None and sources != [previous]:
                raise KerasFileError(f"layer {spec.get('name')!r} does not read the layer "
                                     f"before it: only a chain of layers can be stepped; "
                                     + STEPPABLE)
            previous = _name(spec)
    if not ops:
        return layers, None
    return layers, {_name(s): _mask_made_by(_mask_arg(s), ops) for s in layers}


# Keras 3 writes the mask an Embedding(mask_zero=True) or a Masking layer makes as operations
# of their own in a Functional config (ops.not_equal, ops.any), which the layers after them
# take as `mask`: they are read here as that mask, never stepped as layers.
MASK_OPS = ("NotEqual", "Any")


def _name(spec: dict) -> str:
    return spec.get("name") or spec["config"].get("name", "")


def _mask_arg(spec: dict) -> str | None:
    """The name of what makes the mask a Keras 3 layer is called with, or None."""
    for node in spec.get("inbound_nodes") or []:
        mask = node.get("kwargs", {}).get("mask") if isinstance(node, dict) else None
        history = mask.get("config", {}).get("keras_history") if isinstance(mask, dict) else None
        if isinstance(history, list) and history:
            return str(history[0])
    return None


def _mask_made_by(name: str | None, ops: dict[str, dict], depth: int = 0) -> tuple | None:
    """What computes a mask: ("not_equal", input, value), ("any", ("not_equal", ...)) over the
    last axis, or ("?", name) for anything else."""
    if name is None:
        return None
    op = ops.get(name)
    if op is None or depth > 1:
        return ("?", name)
    node = (op.get("inbound_nodes") or [{}])[0]
    args = node.get("args", []) if isinstance(node, dict) else []
    tensors = [_mask_arg({"inbound_nodes": [{"kwargs": {"mask": a}}]}) for a in args]
    c = op.get("config", {})
    if op["class_name"] == "NotEqual" and len(args) == 2 and tensors[0] and isinstance(
            args[1], (int, float)) and not isinstance(args[1], bool):
        return ("not_equal", tensors[0], float(args[1]))
    if op["class_name"] == "Any" and len(args) == 1 and tensors[0] and c.get(
            "axis", -1) in (-1, [-1]) and not c.get("keepdims"):
        return ("any", _mask_made_by(tensors[0], ops, depth + 1))
    return ("?", name)


def _inbound(spec: dict) -> list[str]:
    """The layers a layer reads: Keras 3 names them in {"keras_history": [name, node, index]},
    Keras 2 (tf_keras) in nested lists [[[name, node, index, kwargs], ...]]. A Keras 3 `mask`
    argument is not read here (_mask_arg)."""
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            history = node.get("keras_history")
            if isinstance(history, list) and history:
                found.append(history[0])
                return
            for key, value in node.items():
                if key != "mask":
                    walk(value)
        elif isinstance(node, list):
            if len(node) >= 3 and isinstance(node[0], str) and isinstance(node[1], int):
                found.append(node[0])  # Keras 2: [name, node, index, kwargs]
                node = node[3:]  # its kwargs may name more tensors
            for value in node:
                walk(value)
    walk(spec.get("inbound_nodes", []))
    return found


def _refuse(spec: dict, why: str = "") -> KerasFileError:
    name = spec["config"].get("name", "?")
    return KerasFileError(f"layer {name!r} ({spec.get('class_name')}) cannot be stepped"
                          f"{': ' + why if why else ''}; " + STEPPABLE)


# A GRU layer's config keys: those that change nothing at inference, and those read below.
# Any other key is refused: an option the stepper does not know may change the numbers.
def _gru_cell(spec: dict, get, width: int, found: list[str] | None = None,
              masked: bool = False) -> KerasCell:
    """The cell of a GRU layer: its config read or refused by the convention (KerasCell), its
    arrays read here, checked against the shapes the config declares. A masked layer runs
    Keras's generic loop (backend.gru takes no mask), as use_cudnn=False does."""
    c = spec["config"]
    why = keras_refusal(c)
    if why:
        raise _refuse(spec, why)
    if masked and c.get("use_cudnn") is True:
        raise _refuse(spec, "use_cudnn=True with a mask: Keras itself refuses to run it (its "
                      "fused GRU takes no mask); save it with use_cudnn='auto'")
    c = {**c, "use_cudnn": False} if masked else c
    H, name = c["units"], c.get("name", "gru")
    bias_shape = (2, 3 * H) if c.get("reset_after", True) else (3 * H,)
    kernel = _array(get(0), (width, 3 * H), f"{name} kernel")
    recurrent = _array(get(1), (H, 3 * H), f"{name} recurrent_kernel")
    bias = _array(get(2), bias_shape, f"{name} bias") if c.get("use_bias", True) else None
    try:
        cell = KerasCell.from_config(c, kernel, recurrent, bias)
    except ValueError as e:
        raise _refuse(spec, str(e)) from None
    if found is not None:
        found += [note for note in keras_notes(c, cell) if note not in found]
    return cell


class _Chain:
    """What the walk over the layers has found so far."""

    def __init__(self):
        self.embed, self.cells, self.head, self.width = None, [], None, None
        self.front, self.between, self.pending = [], [], []  # layers before/between the GRUs
        self.last_only = False  # the last GRU returns its final state only (a classifier)
        self.head_activation, self.frames, self.found = None, None, []
        self.input_width = None  # F of a (T, F) feature input
        self.mask, self.made_by = None, None  # the mask flowing on (keras_layers.Mask) and,
        # for a Keras 3 Functional config, what computes it (_mask_made_by)
        self.gru_mask: list[keras_layers.Mask | None] = []  # the mask each GRU layer reads
        self.dropped = None  # the layer that dropped a mask before the GRUs


FRONT = ("Conv1D", "BatchNormalization", "Activation", "ReLU", "Dropout", "SpatialDropout1D",
         "GaussianNoise", "MaxPooling1D", "AveragePooling1D", "Masking")
BETWEEN = ("BatchNormalization", "Activation", "ReLU", "Dropout", "SpatialDropout1D",
           "GaussianNoise")


def _build(layers: list[dict], weights, vocab_size: int | None, source: str,
           features: bool = False, masks: dict | None = None) -> tuple[GRUConfig, TokenGRU, dict]:
    ch = _Chain()
    for spec in layers:
        _pass_mask(ch, spec)
        kind, c = spec.get("class_name"), spec["config"]
        if kind == "InputLayer":
            shape = c.get("batch_shape") or c.get("batch_input_shape") or []
            if len(shape) == 3 and isinstance(shape[-1], int):
                ch.width, ch.frames = shape[-1], shape[1]
                ch.input_width = ch.width
            continue
        if ch.width is None and ch.embed is None and kind != "Embedding":
            shape = c.get("batch_input_shape") or c.get("batch_shape") or []  # Keras 2
            if len(shape) == 3 and isinstance(shape[-1], int):  # Sequential, no InputLayer
                ch.width, ch.frames = shape[-1], shape[1]
                ch.input_width = ch.width
        path = weights.layer(spec)
        if ch.head is not None:
            _after_head(ch, spec)
        elif kind == "Embedding" and ch.embed is None and not ch.cells and not ch.front:
            _embedding(ch, spec, weights.plain(path))
        elif kind in ("GRU", "Bidirectional") and len(ch.cells) < MAX_GRU_LAYERS:
            _gru_layer(ch, spec, weights, path, _reads_mask(ch, spec, masks))
        elif kind in ("Dense", "TimeDistributed") and ch.cells:
            _head(ch, spec, weights, path)
        elif kind == "Masking" and (ch.cells or ch.embed is not None):
            raise _refuse(spec, "a Masking layer after an Embedding or a GRU: the stepper "
                          "honours a mask made from the input (Masking first, or "
                          "Embedding(mask_zero=True))")
        elif kind in FRONT and not ch.cells and (ch.embed is None or kind in BETWEEN):
            ch.front.append(_other(ch, spec, weights.plain(path), _inbound(spec)))
        elif kind in BETWEEN and ch.cells:
            ch.pending.append(_other(ch, spec, weights.plain(path)))
        else:
            raise _refuse(spec)
    if not ch.cells:
        raise KerasFileError("the model has no GRU layer: " + STEPPABLE)
    return _module(ch, vocab_size, source, features)


def _pass_mask(ch: _Chain, spec: dict) -> None:
    """A layer that does not pass a mask on (Conv1D, pooling) ends it before the GRUs, as in
    Keras; a GRU passes it on when it returns sequences."""
    kind = spec.get("class_name")
    if ch.mask is not None and kind not in keras_layers.PASSES_MASK + (
            "GRU", "Bidirectional", "Dense", "TimeDistributed", "InputLayer"):
        if not ch.cells:
            ch.dropped = f"{kind} '{_name(spec)}'"
        ch.mask = ch.made_by = None


def _reads_mask(ch: _Chain, spec: dict, masks: dict | None) -> keras_layers.Mask | None:
    """The mask a GRU layer reads: the one passed on to it, checked against the one a Keras 3
    Functional config names; anything else is refused with the layer's own name."""
    if masks is None:
        return ch.mask
    given = masks.get(_name(spec))
    if given is None:
        return None  # called with no mask (mask=None): Keras runs it on every step
    if ch.mask is None or given != ch.made_by:
        raise _refuse(spec, "it is called with a mask that is not the one an "
                      "Embedding(mask_zero=True) or a Masking layer before it makes (the mask "
                      "the stepper replays), so its skipped steps are not known")
    return ch.mask


def _embedding(ch: _Chain, spec: dict, get) -> None:
    c = spec["config"]
    if c.get("mask_zero"):
        ch.mask = keras_layers.Mask("Embedding", str(c.get("name")), 0.0)
        ch.made_by = ("not_equal", (_inbound(spec) or [None])[0], 0.0)
    V, E = c.get("input_dim"), c.get("output_dim")
    if not (isinstance(V, int) and isinstance(E, int) and 1 <= V <= 100_000 and 1 <= E <= 4096):
        raise _refuse(spec, "its sizes are out of range")
    ch.embed = _array(get(0), (V, E), f"{c.get('name')} embeddings")
    ch.width = E
    ch.found.append(f"Embedding '{c.get('name')}': {V} tokens × {E}" + (
        ", mask_zero=True (token id 0 is padding)" if ch.mask else ""))


def _gru_layer(ch: _Chain, spec: dict, weights, path: str,
               mask: keras_layers.Mask | None = None) -> None:
    kind, c = spec.get("class_name"), spec["config"]
    if ch.width is None:
        raise _refuse(spec, "its input width is unknown (no Embedding or shaped Input "
                      "before it)")
    if ch.last_only:
        raise _refuse(spec, "the GRU before it returns its last state only, not a sequence")
    if ch.cells:
        ch.between.append(keras_layers.Sequence(ch.pending))
        ch.pending = []
    inner = c.get("layer") if kind == "Bidirectional" else spec
    if isinstance(inner, dict) and isinstance(inner.get("config"), dict) and inner[
            "config"].get("return_sequences") is False:
        ch.last_only = True  # a classifier: the head reads h at the last step
        inner = {**inner, "config": {**inner["config"], "return_sequences": True}}
        spec = spec if kind == "Bidirectional" else inner
        c = {**c, "layer": inner} if kind == "Bidirectional" else inner["config"]
    if kind == "GRU":
        pair = [_gru_cell(spec, weights.gru(path), ch.width, ch.found, mask is not None)]
    else:
        if ch.last_only:
            raise _refuse(spec, "a Bidirectional GRU that returns its last state only")
        if not isinstance(inner, dict) or (
                inner.get("class_name") != "GRU" or not isinstance(inner.get("config"), dict)):
            raise _refuse(spec, "only a Bidirectional GRU")
        if c.get("merge_mode", "concat") != "concat":
            raise _refuse(spec, f"merge_mode={c.get('merge_mode')!r}: the stepper "
                          "shows both directions side by side, as merge_mode 'concat' "
                          "gives them; save it with merge_mode='concat'")
        if dtype_policy(c) != "float32":
            raise _refuse(spec, f"its dtype policy is {dtype_policy(c)!r}: only "
                          "float32 Keras GRUs are replayed bit for bit")
        back = c.get("backward_layer") or inner
        pair = [_gru_cell(inner, weights.gru(path, "forward_layer/"), ch.width, ch.found,
                          mask is not None),
                _gru_cell({**back, "config": {**back.get("config", {}), "go_backwards": False}},
                          weights.gru(path, "backward_layer/"), ch.width, None, mask is not None)]
    cells = ch.cells
    if cells and (len(pair) != len(cells[0]) or pair[0].H != cells[0][0].H
                  or pair[0].convention != cells[0][0].convention) or (
            pair[-1].convention != pair[0].convention):
        raise _refuse(spec, "stacked GRU layers must have the same units, "
                      "directions, reset_after and activations")
    if cells and (mask is None) != (ch.gru_mask[0] is None):
        raise _refuse(spec, "one GRU layer reads a mask and another does not")
    cells.append(pair)
    ch.gru_mask.append(mask)
    if ch.last_only:
        ch.mask = ch.made_by = None  # Keras passes no mask on from a last state
    ch.width = pair[0].H * len(pair)
    acts = ("" if (pair[0].activation, pair[0].recurrent_activation) == ("tanh", "sigmoid")
            else f", activation={pair[0].activation}, "
            f"recurrent_activation={pair[0].recurrent_activation}")
    ch.found.append(f"{kind} '{c.get('name')}': {pair[0].H} units, reset_after="
                    f"{pair[0].reset_after}{acts}" + (", last state only" if ch.last_only else "")
                    + (f", masked by {mask.kind} '{mask.layer}'" if mask else ""))


def _head(ch: _Chain, spec: dict, weights, path: str) -> None:
    kind, c = spec.get("class_name"), spec["config"]
    get = weights.plain(path)
    if kind == "TimeDistributed":
        inner = c.get("layer")
        if not isinstance(inner, dict) or inner.get("class_name") != "Dense" or not isinstance(
                inner.get("config"), dict):
            raise _refuse(spec, "only TimeDistributed(Dense) is a head here")
        get = weights.inner(path)
        c = inner["config"]
    act = c.get("activation") or "linear"
    if act not in ("linear", "softmax", "sigmoid") and keras_layers.activation(act) is None:
        raise _refuse(spec, f"its activation is {act!r}")
    V = c.get("units")
    if not isinstance(V, int) or not 1 <= V <= 100_000:
        raise _refuse(spec, "units out of range")
    kernel = _array(get(0), (ch.width, V), f"{c.get('name')} kernel")
    bias = _array(get(1), (V,), f"{c.get('name')} bias") if c.get("use_bias", True) else None
    per_step = kind == "TimeDistributed" or ch.last_only
    dense = keras_layers.Dense(kernel, bias, per_step)
    middle = "linear" if act in ("softmax", "sigmoid") else act
    ch.head = keras_layers.KerasHead(ch.pending, dense, middle, act)
    ch.pending = []
    ch.head_activation = act
    ch.found.append(f"{kind} head '{c.get('name')}': {ch.width} -> {V} ({act})")


def _after_head(ch: _Chain, spec: dict) -> None:
    """Only an activation (or Dropout) may follow the Dense head."""
    kind, c = spec.get("class_name"), spec["config"]
    if kind in ("Dropout", "GaussianNoise"):
        return
    act = c.get("activation") if kind == "Activation" else None
    if act not in ("softmax", "sigmoid", "linear") or ch.head.activation not in (
            "linear", "relu", "tanh"):
        raise _refuse(spec, "after the Dense head only an Activation('softmax' or 'sigmoid') "
                      "of a linear Dense is replayed")
    if act != "linear":
        ch.head.middle = keras_layers.ACTIVATIONS[ch.head.activation]
        ch.head.activation = ch.head_activation = act
    ch.found.append(f"Activation '{c.get('name')}': {act}")


def _other(ch: _Chain, spec: dict, get, sources: list[str] | None = None) -> nn.Module:
    """A layer before, between or after the GRUs that is not a GRU or the head."""
    kind, c = spec.get("class_name"), spec["config"]
    name = c.get("name", "?")
    if kind == "Masking":
        value = c.get("mask_value", 0.0)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise _refuse(spec, "its mask_value is not a number")
        ch.mask = keras_layers.Mask("Masking", str(name), float(value))
        ch.made_by = ("any", ("not_equal", (sources or [None])[0], float(value)))
        ch.found.append(f"Masking '{name}': mask_value={float(value):g} (a frame equal to it "
                        "in every feature is padding)")
        return keras_layers.Masking(float(value))
    if kind in ("Dropout", "SpatialDropout1D", "GaussianNoise"):
        return keras_layers.Identity()  # Keras skips it at inference
    if ch.width is None:
        raise _refuse(spec, "its input width is unknown (no shaped Input before it)")
    if kind in ("Activation", "ReLU"):
        act = c.get("activation") if kind == "Activation" else "relu"
        if kind == "ReLU" and (c.get("negative_slope") or c.get("max_value") is not None
                               or c.get("threshold")):
            raise _refuse(spec, "only a plain ReLU (no slope, maximum or threshold)")
        if keras_layers.activation(act) is None or act == "softmax":
            raise _refuse(spec, f"its activation {act!r} is not replayed here")
        ch.found.append(f"{kind} '{name}': {act}")
        return keras_layers.Activation(act)
    if kind == "BatchNormalization":
        axis = c.get("axis", -1)
        if axis not in (-1, 2, [-1], [2]):
            raise _refuse(spec, "only the feature axis is normalised here")
        parts = [p for p in ("gamma", "beta") if c.get({"gamma": "scale",
                                                         "beta": "center"}[p], True)]
        arrays = {p: _array(get(i), (ch.width,), f"{name} {p}")
                  for i, p in enumerate(parts + ["moving_mean", "moving_variance"])}
        ch.found.append(f"BatchNormalization '{name}': {ch.width} features (moving statistics)")
        return keras_layers.BatchNorm(arrays.get("gamma"), arrays.get("beta"),
                                      arrays["moving_mean"], arrays["moving_variance"],
                                      float(c.get("epsilon", 1e-3)))
    k = _int(c, "kernel_size" if kind == "Conv1D" else "pool_size", 2)
    strides = _int(c, "strides")
    padding = c.get("padding", "valid")
    if c.get("data_format", "channels_last") != "channels_last":
        raise _refuse(spec, "only channels_last")
    if kind == "Conv1D":
        dilation, filters, strides = _int(c, "dilation_rate", 1), c.get("filters"), strides or 1
        if padding not in ("valid", "same") or c.get("groups", 1) != 1 or not (
                isinstance(filters, int) and 1 <= filters <= 4096):
            raise _refuse(spec, "only padding 'valid' or 'same', groups 1, 1..4096 filters")
        act = c.get("activation") or "linear"
        if keras_layers.activation(act) is None:
            raise _refuse(spec, f"its activation {act!r} is not replayed here")
        kernel = _array(get(0), (k, ch.width, filters), f"{name} kernel")
        bias = _array(get(1), (filters,), f"{name} bias") if c.get("use_bias", True) else None
        ch.found.append(f"Conv1D '{name}': {ch.width} -> {filters}, kernel {k}, stride {strides}"
                        f", {padding}")
        ch.width = filters
        ch.frames = None if ch.frames is None else keras_layers.conv_length(
            ch.frames, k, strides, padding, dilation)
        return keras_layers.Conv1D(kernel, bias, strides, padding, dilation, act)
    if padding != "valid":
        raise _refuse(spec, "only padding 'valid'")
    strides = strides or k
    ch.found.append(f"{kind} '{name}': pool {k}, stride {strides}")
    ch.frames = None if ch.frames is None else keras_layers.conv_length(ch.frames, k, strides,
                                                                        "valid")
    return keras_layers.Pool1D("max" if kind.startswith("Max") else "avg", k, strides)


def _int(c: dict, key: str, default: int | None = None) -> int | None:
    """An int in 1..4096, or a one-element list of one (Keras writes kernel_size as [15])."""
    v = c.get(key)
    v = v[0] if isinstance(v, list) and len(v) == 1 else v
    if v is None:
        return default
    if not isinstance(v, int) or isinstance(v, bool) or not 1 <= v <= 4096:
        raise KerasFileError(f"layer {c.get('name', '?')!r}: {key} must be an integer in "
                             "1..4096")
    return v


def _head_kind(ch: _Chain, V_in: int | None, features: bool) -> str:
    if ch.head is None:
        return "none"
    if ch.last_only:
        return "classifier"
    if ch.head.activation == "sigmoid":
        return "sigmoid"
    if not features and ch.head.out_features == V_in:
        return "next-token"
    return "tagger" if ch.head.out_features > 1 else "regression"


def _mask_words(ch: _Chain) -> str | None:
    """What the stepper does with the model's mask, in words (meta["mask"])."""
    mask = ch.gru_mask[0]
    if mask is not None:
        return (f"{mask.kind} '{mask.layer}' ({mask.says}): padding at the end is left out of "
                "the trace, as Keras's GRU carries h through it unchanged; a masked step with "
                "steps after it is refused (Keras would skip it)")
    if ch.dropped:
        return (f"the mask stops at {ch.dropped}, as Keras drops it there: the GRUs read every "
                "step (Masking's zeros included)")
    return None


def _module(ch: _Chain, vocab_size: int | None, source: str, features: bool
            ) -> tuple[GRUConfig, TokenGRU, dict]:
    embed, cells, head = ch.embed, ch.cells, ch.head
    gru = KerasGRU(cells)
    features = embed is None and (features or len(ch.front) > 0)
    if not features and vocab_size is None:
        raise KerasFileError(
            "a Keras model carries no vocabulary: give the model's tokens in order (a text "
            "file, one per line, or a JSON list)" + ("" if embed is not None else
                                                    "; if its input is feature vectors, not "
                                                    "one-hot tokens, open it with features=True"))
    if features and vocab_size is not None:
        raise KerasFileError("this model reads feature vectors through "
                             f"{len(ch.front)} layer(s) before its GRU, not tokens: open it "
                             "without a vocabulary and trace a (T, F) array")
    V = embed.shape[0] if embed is not None else gru.input_size
    if vocab_size is not None and vocab_size != V:
        raise KerasFileError(f"the model reads {V} tokens but the vocabulary has {vocab_size}: "
                             "give the vocabulary the model was trained with, in its order")
    if head is not None and head.activation == "linear" and head.out_features > 1:
        head.activation = "softmax"  # a linear head's outputs are logits: shown as softmax
    dtypes = {t.dtype for t in (gru.weight_ih_l0, *([embed] if embed is not None else []),
                                *([head.weight] if head is not None else []))}
    if len(dtypes) > 1:
        raise KerasFileError("the model mixes float32 and float64 weights")
    if dtypes != {torch.float32}:  # measured: Keras's float64 run differs from a float64
        # replay by up to 1e-4, so some op of it is not float64 yet; not claimed bit for bit
        raise KerasFileError("this Keras model is float64: only float32 Keras models are "
                             "replayed bit for bit so far (save it with the default floatx)")
    config = GRUConfig(gru.input_size, gru.hidden_size, gru.num_layers, gru.bidirectional,
                       gru.bias)
    with torch.device("meta"):
        module = TokenGRU(config, V, embedding=embed is not None, head=False)
    module.gru = gru
    if any(len(b) for b in ch.between):
        gru.between = ch.between  # run between the stacked layers (keras_model.py)
    if embed is not None:
        module.embed = nn.Embedding.from_pretrained(embed, freeze=True)
    module.head = head
    module.mask = ch.gru_mask[0]  # the mask the GRUs read (trace_text, trace_features)
    module.eval()
    meta = {"source": source, "convention": gru.convention.name,
            "framework": gru.convention.framework, "found": ch.found,
            "input": "features" if features else "tokens",
            "head": _head_kind(ch, V, features),
            "head_activation": None if head is None else head.activation,
            "mask": _mask_words(ch)}
    if features:
        module.front = keras_layers.Sequence(ch.front)
        meta["features"] = ch.input_width
        meta["frames"] = ch.frames
    return config, module, meta
