"""gru_core: nn.GRU recomputed exactly, every intermediate term exposed, and the analyses on top."""

from .cell import step
from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint
from .gradients import jacobian_norms
from .lm import TextTrace, UnknownCharacters, encode
from .memory import retention
from .model import CharGRU, GRUConfig
from .saturation import saturation
from .trace import GATES, Trace, recompute
from .weights import LayerWeights, config_of, layer_weights

__all__ = [
    "GATES", "CharGRU", "Checkpoint", "CheckpointError", "GRUConfig", "LayerWeights",
    "TextTrace", "Trace", "UnknownCharacters", "config_of", "encode", "jacobian_norms",
    "layer_weights", "load_checkpoint", "recompute", "retention", "saturation",
    "save_checkpoint", "step",
]
