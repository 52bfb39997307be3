"""Every option of Keras 3's GRU layer: replayed bit for bit, or refused with its name.

Each replayed option is built in Keras (torch backend), saved as .keras and as legacy .h5, loaded
by the stepper and compared with what Keras computes for the same file (keras.saving.load_model),
on random and saturating weights, one-hot and Embedding input: every h, every gate Keras's cell
computed, every probability, max difference 0. Each refused option raises a CheckpointError whose
message names the option. Options a file does not keep (use_cudnn, implementation) and
initial_state are given to KerasCell from Python and compared with Keras's layer in memory.
Masking (mask_zero, Masking) is tested with the model chain (tests/exact/test_keras_masking.py).
"""

from __future__ import annotations

import io
import json
import os
import zipfile

os.environ["KERAS_BACKEND"] = "torch"

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

keras = pytest.importorskip("keras")

from gru_core import (  # noqa: E402
    CONVENTIONS,
    CheckpointError,
    KerasCell,
    KerasGRU,
    load_checkpoint,
    recompute,
)

from .test_keras import Recorder  # noqa: E402  (Keras's own gates, recorded as it runs)

if keras.backend.backend() != "torch":
    pytest.fail("keras was imported with another backend before this module", pytrace=False)

TOKENS = list("abcdefghijklm")
V = len(TOKENS)
TEXT = "abcmlkjihgfedcbaabcdeffedcbamlkkj"
H = 21

# option id -> GRU keyword arguments; every one of them is replayed bit for bit
REPLAYED = {
    "default": {},
    "reset_after=False": {"reset_after": False},
    "use_bias=False": {"use_bias": False},
    "use_bias=False,reset_after=False": {"use_bias": False, "reset_after": False},
    "use_cudnn=False": {"use_cudnn": False},
    "use_cudnn=True": {"use_cudnn": True},
    "unroll=True": {"unroll": True},
    "unroll=True,reset_after=False": {"unroll": True, "reset_after": False},
    "implementation=1": {"implementation": 1},
    "dropout=0.3": {"dropout": 0.3},
    "recurrent_dropout=0.3": {"recurrent_dropout": 0.3},
    "recurrent_dropout=0.3,reset_after=False": {"recurrent_dropout": 0.3, "reset_after": False},
    "recurrent_dropout=0.3,use_bias=False": {"recurrent_dropout": 0.3, "use_bias": False},
    "stateful=True": {"stateful": True},
    "activation=relu": {"activation": "relu"},
    "recurrent_activation=hard_sigmoid": {"recurrent_activation": "hard_sigmoid"},
    "relu,hard_sigmoid,reset_after=False": {"activation": "relu",
                                            "recurrent_activation": "hard_sigmoid",
                                            "reset_after": False},
    "activation=linear": {"activation": "linear"},
    "activation=softsign": {"activation": "softsign"},
    "activation=sigmoid,recurrent_activation=tanh": {"activation": "sigmoid",
                                                     "recurrent_activation": "tanh"},
    "activation=elu": {"activation": "elu"},
    "activation=selu": {"activation": "selu"},
    "activation=gelu": {"activation": "gelu"},
    "activation=silu": {"activation": "silu"},
    "activation=mish": {"activation": "mish"},
    "activation=hard_tanh": {"activation": "hard_tanh"},
    "activation=leaky_relu": {"activation": "leaky_relu"},
    "activation=relu6": {"activation": "relu6"},
    "activation=softplus,recurrent_activation=log_sigmoid": {
        "activation": "softplus", "recurrent_activation": "log_sigmoid"},
    "activation=exponential": {"activation": "exponential"},
    "activation=hard_silu,use_cudnn=False": {"activation": "hard_silu", "use_cudnn": False},
    "bidirectional": {"bidirectional": True},
    "bidirectional,reset_after=False,relu": {"bidirectional": True, "reset_after": False,
                                             "activation": "relu"},
    "bidirectional,recurrent_dropout": {"bidirectional": True, "recurrent_dropout": 0.2},
}

# option id -> (GRU keyword arguments, or a config edit, the words the message must hold)
REFUSED = {
    "go_backwards=True": ({"go_backwards": True}, "go_backwards=True"),
    "activation=softmax": ({"activation": "softmax"}, "activation='softmax'"),
    "an unknown key": ({"config_x": 1}, "'x'"),
    "merge_mode=sum": ({"bidirectional": True, "merge_mode": "sum"}, "merge_mode='sum'"),
    "merge_mode=ave": ({"bidirectional": True, "merge_mode": "ave"}, "merge_mode='ave'"),
    "merge_mode=mul": ({"bidirectional": True, "merge_mode": "mul"}, "merge_mode='mul'"),
    "merge_mode=None": ({"bidirectional": True, "merge_mode": "concat", "edit_merge": None},
                        "merge_mode=None"),
    "return_state=True": ({"config_return_state": True}, "return_state=True"),
    "time_major=True": ({"config_time_major": True}, "time_major=True"),
    "dtype=mixed_bfloat16": ({"dtype": "mixed_bfloat16"}, "'mixed_bfloat16'"),
    "dtype=mixed_float16": ({"dtype": "mixed_float16"}, "'mixed_float16'"),
    "dtype=bfloat16": ({"dtype": "bfloat16"}, "'bfloat16'"),
    "dtype=float16": ({"dtype": "float16"}, "'float16'"),
    "dtype=float64": ({"dtype": "float64"}, "'float64'"),
    "use_cudnn=True,reset_after=False": ({"config_use_cudnn": True, "reset_after": False},
                                         "use_cudnn=True"),
}
# config_<key>: Keras cannot build it into a Sequential, or does not save the key: written
# into the saved config instead (a file another Keras version, or a hand, may have written)


def build(options: dict, one_hot: bool, scale: float, seed: int = 0, dtype=None):
    """Input (one-hot or Embedding) -> GRU with `options` (or Bidirectional) -> Dense(V)."""
    keras.utils.set_random_seed(seed)
    options = {k: v for k, v in options.items()
               if not k.startswith("config_") and k != "edit_merge"}
    bidirectional = options.pop("bidirectional", False)
    merge_mode = options.pop("merge_mode", "concat")
    batch = 1 if options.get("stateful") else None
    layers = [keras.Input(batch_shape=(batch, None, V)) if one_hot
              else keras.Input(batch_shape=(batch, None), dtype="int32")]
    if not one_hot:
        layers.append(keras.layers.Embedding(V, 9))
    options.setdefault("return_sequences", True)
    gru = keras.layers.GRU(H, **options)
    layers.append(keras.layers.Bidirectional(gru, merge_mode=merge_mode) if bidirectional
                  else gru)
    layers.append(keras.layers.Dense(V, activation="softmax"))
    model = keras.Sequential(layers)
    for i, w in enumerate(model.weights):
        w.assign(keras.random.normal(w.shape, seed=seed + i) * scale)
    return model


def keras_input(text: str, one_hot: bool) -> torch.Tensor:
    ids = torch.tensor([[TOKENS.index(c) for c in text]])
    return F.one_hot(ids, V).float() if one_hot else ids


def keras_run(model, x: torch.Tensor):
    """Keras's GRU output (T, D*H), its cells' gates and its probabilities (T, V)."""
    gru = model.layers[-2]
    cells = [gru.forward_layer, gru.backward_layer] if hasattr(gru, "forward_layer") else [gru]
    probs = model(x).detach()[0]
    for layer in cells:  # a stateful layer starts again from zeros, as on its first call
        if layer.stateful:
            layer.reset_states()
    recorders = [Recorder(layer.cell) for layer in cells]
    h = keras.Model(model.inputs, gru.output)(x).detach()[0]
    T = x.shape[1]
    return h, [rec.gates(T, reverse=d == 1) for d, rec in enumerate(recorders)], probs


def max_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """max |a − b|, where both being NaN at a place counts as equal (relu can overflow)."""
    same = (a == b) | (a.isnan() & b.isnan())
    return 0.0 if bool(same.all()) else float((a - b)[~same].abs().nan_to_num(float("inf")).max())


MEASURED: dict[str, float] = {}


@pytest.mark.parametrize("option", list(REPLAYED))
def test_a_replayed_option_is_keras_bit_for_bit(option, tmp_path):
    worst = 0.0
    for one_hot in (True, False):
        for scale in (1.0, 6.0):
            model = build(REPLAYED[option], one_hot, scale)
            x = keras_input(TEXT, one_hot)
            for ext in ("keras", "h5"):
                path = tmp_path / f"m.{ext}"
                model.save(path)
                ck = load_checkpoint(path, vocab=TOKENS)
                tt = ck.trace(TEXT)
                # what Keras computes for this file: the options it keeps, as it loads them
                h, gates, probs = keras_run(keras.saving.load_model(path), x)
                D = len(gates)
                diffs = [max_diff(tt.output, h), max_diff(tt.probs, probs)]
                for d in range(D):
                    for name, want in gates[d].items():
                        diffs.append(max_diff(tt.gate(name, 0, d), want))
                worst = max(worst, *diffs)
                assert max(diffs) == 0.0, (option, one_hot, scale, ext, diffs)
    MEASURED[option] = worst


def _edit(path, edit) -> bytes:
    src, buf = zipfile.ZipFile(path), io.BytesIO()
    with zipfile.ZipFile(buf, "w") as out:
        for name in src.namelist():
            data = src.read(name)
            if name == "config.json":
                data = json.dumps(edit(json.loads(data))).encode()
            out.writestr(name, data)
    return buf.getvalue()


@pytest.mark.parametrize("option", list(REFUSED))
def test_a_refused_option_is_named(option, tmp_path):
    options, words = REFUSED[option]
    extra = {k.removeprefix("config_"): v for k, v in options.items()
             if k.startswith("config_") or k == "edit_merge"}
    model = build(options, one_hot=False, scale=1.0)
    model.save(tmp_path / "m.keras")

    def edit(cfg):
        spec = next(s for s in cfg["config"]["layers"]
                    if s["class_name"] in ("GRU", "Bidirectional"))
        if "edit_merge" in extra:
            spec["config"]["merge_mode"] = None
        else:
            spec["config"].update(extra)
        return cfg
    data = _edit(tmp_path / "m.keras", edit) if extra else (tmp_path / "m.keras").read_bytes()
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(data, vocab=TOKENS)
    assert words in str(info.value), str(info.value)
    if not extra:  # the same file saved as legacy .h5 is refused for the same reason
        model.save(tmp_path / "m.h5")
        with pytest.raises(CheckpointError) as info:
            load_checkpoint(tmp_path / "m.h5", vocab=TOKENS)
        assert words in str(info.value), str(info.value)


def _layer(options: dict, seed: int = 1, scale: float = 1.0):
    keras.utils.set_random_seed(seed)
    layer = keras.layers.GRU(H, return_sequences=True, **options)
    layer.build((1, None, 9))
    for i, w in enumerate(layer.weights):
        w.assign(keras.random.normal(w.shape, seed=seed + i) * scale)
    return layer


def _cell(layer, **options) -> KerasCell:
    k, rk, *b = (torch.tensor(w) for w in layer.get_weights())
    return KerasCell(k, rk, b[0] if b else None, reset_after=layer.cell.reset_after,
                     activation=layer.cell.activation.__name__,
                     recurrent_activation=layer.cell.recurrent_activation.__name__, **options)


PYTHON = {  # options a file does not keep: given to KerasCell, compared with the layer itself
    "use_cudnn=False": ({"use_cudnn": False}, {"use_cudnn": False}),
    "implementation=1,reset_after=False": ({"implementation": 1, "reset_after": False},
                                           {"implementation": 1}),
    "implementation=1,use_cudnn=False": ({"implementation": 1, "use_cudnn": False},
                                         {"implementation": 1, "use_cudnn": False}),
    "hard_sigmoid,relu,use_bias=False": ({"activation": "relu", "use_bias": False,
                                          "recurrent_activation": "hard_sigmoid",
                                          "reset_after": False}, {}),
}


@pytest.mark.parametrize("option", list(PYTHON))
@pytest.mark.parametrize("scale", [1.0, 6.0])
def test_options_given_from_python_and_initial_state(option, scale):
    layer_options, cell_options = PYTHON[option]
    layer = _layer(layer_options, scale=scale)
    x = torch.randn(1, 40, 9, generator=torch.Generator().manual_seed(2))
    h0 = torch.randn(1, H, generator=torch.Generator().manual_seed(3))
    gru = KerasGRU([[_cell(layer, **cell_options)]])
    for start in (None, h0):
        want = layer(x) if start is None else layer(x, initial_state=[start])
        trace = recompute(gru, x[0], None if start is None else start)
        assert max_diff(trace.output, want.detach()[0]) == 0.0, (option, start is None)


def test_kerascell_carries_its_convention_and_refuses_what_it_cannot_replay():
    k, rk = torch.randn(4, 3 * H), torch.randn(H, 3 * H)
    cell = KerasCell(k, rk, None, reset_after=False, activation="relu")
    assert not cell.reset_after and cell.convention.activation == "relu"
    assert CONVENTIONS[cell.convention.name] is cell.convention
    assert KerasCell(k, rk, None).reset_after  # Keras's default without a bias to tell
    with pytest.raises(ValueError, match="activation='softmax'"):
        KerasCell(k, rk, None, activation="softmax")
    with pytest.raises(ValueError, match="reset_after=True stores it as"):
        KerasCell(k, rk, torch.zeros(3 * H), reset_after=True)
    with pytest.raises(ValueError, match="use_cudnn=True with reset_after=False"):
        KerasCell(k, rk, None, reset_after=False, use_cudnn=True)


def test_the_convention_step_uses_the_layers_activations(tmp_path):
    """The analyses' readable step (Convention.step) computes the relu cell, not tanh's."""
    model = build({"activation": "relu", "recurrent_activation": "hard_sigmoid"}, True, 1.0)
    model.save(tmp_path / "r.keras")
    tt = load_checkpoint(tmp_path / "r.keras", vocab=TOKENS).trace(TEXT)
    conv = CONVENTIONS[tt.convention]
    assert (conv.activation, conv.recurrent_activation) == ("relu", "hard_sigmoid")
    for t in (0, 7, 20):
        step = conv.step(tt.layer_inputs[0][t], tt.gate("h_prev", 0, 0, t), tt.weights())
        torch.testing.assert_close(step["h"], tt.gate("h", 0, 0, t), rtol=1e-5, atol=1e-5)


def test_a_stateful_layer_says_it_starts_from_zeros(tmp_path):
    build({"stateful": True}, True, 1.0).save(tmp_path / "s.keras")
    found = load_checkpoint(tmp_path / "s.keras", vocab=TOKENS).meta["found"]
    assert any("stateful" in f and "starts from zeros" in f for f in found), found


def test_a_float64_cell_is_refused_from_python_too():
    k, rk = torch.randn(4, 3 * H, dtype=torch.float64), torch.randn(H, 3 * H, dtype=torch.float64)
    with pytest.raises(ValueError, match="not float32.*convert the weights"):
        KerasGRU([[KerasCell(k, rk, None)]])
