"""Your own model: find nn.Embedding -> nn.GRU -> nn.Linear in a plain state_dict.

A state_dict is a flat dict of tensors under the module's own attribute names (spro's char-rnn:
encoder.weight, rnn.weight_ih_l0, decoder.weight; d2l: rnn.*, linear.*). The parts are found by
key suffixes and shapes, never by unpickling code:
- the GRU: weight_ih_l{k}[_reverse] .. bias_hh_l{k} under one prefix, with 3H rows (4H is an
  LSTM, H a plain RNN);
- an embedding: a 2-D `weight` without a bias whose width is the GRU's input size;
- a head: a 2-D `weight` (and its `bias`) that reads the last layer's output (D*H wide).
Anything else in the file, or two candidates for one part, is named in the error.
"""

from __future__ import annotations

import re
from collections import defaultdict

import torch
from torch import nn

from .bounds import few
from .model import GRUConfig
from .weights import config_of

GRU_KEY = re.compile(
    r"^(?P<prefix>(?:.*\.)?)(?P<name>(?:weight|bias)_(?:ih|hh)_l\d+(?:_reverse)?)$")
EMBEDDING_NAMES = ("embed", "encoder", "emb", "wte", "lookup")
HEAD_NAMES = ("head", "decoder", "linear", "fc", "out", "proj", "classifier", "dense")


class NotFound(ValueError):
    """The state_dict does not hold the parts in a form the stepper can trace."""


def find_gru_model(sd: dict[str, torch.Tensor], vocab_size: int
                   ) -> tuple[GRUConfig, dict, dict[str, torch.Tensor], list[str]]:
    """-> (config, options for TokenGRU, its state_dict, what was found, in words)."""
    prefix, gru = _find_gru(sd)
    config = config_of(gru)
    D, H = config.num_directions, config.hidden_size
    rest = {k: v for k, v in sd.items() if not k.startswith(prefix) or k[len(prefix):] not in gru}
    modules = _modules(rest)
    embedding = _pick(modules, "an nn.Embedding", EMBEDDING_NAMES, lambda w, b: (
        b is None and w.dim() == 2 and w.shape[1] == config.input_size))
    head = _pick({k: v for k, v in modules.items() if k != embedding}, "an nn.Linear head",
                 HEAD_NAMES, lambda w, b: w.dim() == 2 and w.shape[1] == D * H and (
                     b is None or b.shape == w.shape[:1]))
    used = {embedding, head} - {None}
    unused = sorted(k for name, part in modules.items() if name not in used for k in part["keys"])
    if unused:
        raise NotFound(f"the file also holds {few(unused)}: the stepper traces an embedding (or "
                       "one-hot input) -> nn.GRU -> an nn.Linear head and nothing else")
    state = {f"gru.{k}": v for k, v in gru.items()}
    found = [f"nn.GRU at '{prefix.rstrip('.') or '(top level)'}': {config.num_layers} layer(s) × "
             f"{H} units{', bidirectional' if D == 2 else ''}, input {config.input_size}"]
    if embedding is None:
        _check_size("one-hot input", config.input_size, vocab_size)
        found.insert(0, f"no embedding: x_t is one-hot over the {vocab_size} tokens")
    else:
        w = modules[embedding]["weight"]
        _check_size(f"the embedding '{embedding}'", w.shape[0], vocab_size)
        state["embed.weight"] = w
        found.insert(0, f"nn.Embedding at '{embedding}': {w.shape[0]} tokens × {w.shape[1]}")
    if head is None:
        found.append("no head: the app shows the states, not next-token probabilities")
    else:
        w, b = modules[head]["weight"], modules[head]["bias"]
        state["head.weight"] = w
        state["head.bias"] = torch.zeros(w.shape[0], dtype=w.dtype) if b is None else b
        found.append(f"nn.Linear head at '{head}': {w.shape[1]} -> {w.shape[0]}" + (
            "" if w.shape[0] == vocab_size else f", {w.shape[0]} classes at every step (not the "
            f"{vocab_size} tokens: a tagger; a classifier reads the last step's row)"))
    options = {"embedding": embedding is not None, "head": head is not None}
    if head is not None and modules[head]["weight"].shape[0] != vocab_size:
        options["head_size"] = modules[head]["weight"].shape[0]
    return config, options, state, found


def _find_gru(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, torch.Tensor]]:
    groups: dict[str, dict[str, torch.Tensor]] = defaultdict(dict)
    for key, value in sd.items():
        m = GRU_KEY.match(key)
        if m:
            groups[m["prefix"]][m["name"]] = value
    grus = {p: g for p, g in groups.items() if _gates(g) == 3}
    if not grus:
        kinds = {4: "an LSTM", 1: "a plain RNN"}
        other = [kinds.get(_gates(g), "a recurrent layer") + f" at '{p.rstrip('.')}'"
                 for p, g in groups.items()]
        raise NotFound("no nn.GRU found" + (f": the file holds {few(other)}; only GRUs "
                                            "can be stepped" if other else
                                            " (no weight_ih_l0 / weight_hh_l0 keys)"))
    if len(grus) > 1:
        raise NotFound(f"{len(grus)} GRUs found, at {few(repr(p.rstrip('.')) for p in grus)}"
                       ": save the state_dict of the one to step")
    prefix, gru = next(iter(grus.items()))
    try:
        config = config_of(gru)
    except ValueError as e:
        raise NotFound(f"the GRU at '{prefix.rstrip('.')}' is incomplete: {e}") from None
    with torch.device("meta"):
        expected = nn.GRU(config.input_size, config.hidden_size, config.num_layers,
                          bias=config.bias, bidirectional=config.bidirectional).state_dict()
    missing = sorted(prefix + k for k in expected.keys() - gru.keys())
    if missing:
        raise NotFound(f"the GRU at '{prefix.rstrip('.')}' is incomplete: no {few(missing)}")
    return prefix, gru


def _gates(group: dict[str, torch.Tensor]) -> int:
    """Rows of weight_hh_l0 per hidden unit: 3 for a GRU, 4 for an LSTM, 1 for an RNN."""
    w = group.get("weight_hh_l0")
    if w is None or w.dim() != 2 or w.shape[1] == 0 or w.shape[0] % w.shape[1]:
        return 0
    return w.shape[0] // w.shape[1]


def _modules(rest: dict[str, torch.Tensor]) -> dict[str, dict]:
    """The remaining tensors grouped by module: 'decoder' -> weight, bias and their keys."""
    modules: dict[str, dict] = defaultdict(lambda: {"weight": None, "bias": None, "keys": []})
    for key, value in rest.items():
        name, _, leaf = key.rpartition(".")
        modules[name]["keys"].append(key)
        if leaf in ("weight", "bias"):
            modules[name][leaf] = value
    return dict(modules)


def _pick(modules: dict[str, dict], what: str, names: tuple[str, ...], fits) -> str | None:
    """The one module that fits by shape; key names break a tie, otherwise the tie is named."""
    fitting = [name for name, m in modules.items() if m["weight"] is not None
               and set(m["keys"]) <= {f"{name}.weight".lstrip("."), f"{name}.bias".lstrip(".")}
               and fits(m["weight"], m["bias"])]
    if len(fitting) > 1:
        named = [n for n in fitting if any(hint in n.lower() for hint in names)]
        if len(named) != 1:
            raise NotFound(f"more than one candidate for {what}: "
                           f"{few(repr(n) for n in fitting)}")
        fitting = named
    return fitting[0] if fitting else None


def _check_size(what: str, size: int, vocab_size: int) -> None:
    if size != vocab_size:
        raise NotFound(f"{what} has {size} rows but the vocabulary has {vocab_size} tokens: "
                       "give the vocabulary the model was trained with, in its order")
