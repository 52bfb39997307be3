"""The checkpoint file: written with torch.save, read with torch.load(weights_only=True) only.

A file is untrusted input (users upload them), so loading never unpickles arbitrary objects and
every field is checked before a module is built from it. Every failure is a CheckpointError whose
message says what is wrong in words a user can act on.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field
from pathlib import Path

import torch

from .lm import TextTrace, trace_text
from .model import GRUConfig, TokenGRU
from .vocab import Vocab

FORMAT = "gru-stepper/1"
MAX_BYTES = 64 * 1024 * 1024
LIMITS = {"input_size": 4096, "hidden_size": 4096, "num_layers": 8}
MAX_VOCAB, MAX_TOKEN = 100_000, 64
OPTIONS = {"embedding": False, "head": True}  # optional in config; older files have neither
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


@dataclass
class Checkpoint:
    config: GRUConfig
    vocab: Vocab
    module: TokenGRU
    meta: dict = field(default_factory=dict)
    name: str = ""

    def encode(self, text: str) -> torch.Tensor:
        """text -> (T, input_size): the x_t that nn.GRU reads."""
        return self.module.inputs(self.vocab.encode(text))

    def trace(self, text: str) -> TextTrace:
        return trace_text(self, text)


def save_checkpoint(path: str | Path, module: TokenGRU, vocab: list[str] | Vocab,
                    meta: dict) -> None:
    state = {k: v.detach().cpu().contiguous().clone() for k, v in module.state_dict().items()}
    options = {"embedding": module.embed is not None, "head": module.head is not None}
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


def load_checkpoint(source: str | Path | bytes) -> Checkpoint:
    """Read and validate a checkpoint from a path or from the file's bytes."""
    obj = _unpickle_safely(_read_bytes(source))
    if not isinstance(obj, dict):
        raise CheckpointError(f"expected a dict at the top of the file, found {type(obj).__name__}")
    missing = [k for k in KEYS if k not in obj]
    if missing:
        raise CheckpointError(f"missing keys: {', '.join(missing)}")
    if obj["format"] != FORMAT:
        raise CheckpointError(f"unknown format {obj['format']!r}; this version reads {FORMAT!r}")
    config, options = _check_config(obj["config"])
    vocab = _check_vocab(obj["vocab"], config, options["embedding"])
    state = _check_state_dict(obj["state_dict"], config, len(vocab), options)
    if not isinstance(obj["meta"], dict):
        raise CheckpointError("'meta' must be a dict")
    return _build(config, vocab, state, options, obj["meta"])


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


def _unpickle_safely(data: bytes) -> object:
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else "unpickling failed"
        raise CheckpointError(
            f"refused to load: the file holds objects other than tensors and plain data ({first})"
        ) from None
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
    kinds = {**CONFIG_TYPES, **{k: bool for k in OPTIONS if k in raw}}
    for key, kind in kinds.items():
        value = raw[key]
        ok = isinstance(value, bool) if kind is bool else type(value) is int
        if not ok:
            raise CheckpointError(f"config[{key!r}] must be {kind.__name__}, got {value!r}")
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
            f"state_dict does not match the config: missing {missing or 'nothing'}, "
            f"unexpected {extra or 'nothing'}"
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
