"""The exact core: nn.GRU recomputed from its weights, every term of every step, and the model
around it (tokens in, next-token probabilities out). Imports nothing from analysis/ or data/."""

from .cell import step, update
from .checkpoint import Checkpoint, CheckpointError, check_vocab, load_checkpoint, save_checkpoint
from .convention import CONVENTIONS, Convention, KerasCell
from .course_gru import CourseGRU, CourseLM
from .features import FeatureCheckpoint, FeatureTrace
from .keras_layers import MaskedStep
from .keras_model import KerasGRU, layer_input
from .lm import TextTrace, estimate_nbytes, top_k, trace_text
from .model import GRUConfig, TokenGRU
from .trace import GATES, Trace, recompute
from .vocab import UnknownTokens, Vocab, read_vocab
from .weights import LayerWeights, config_of, layer_weights, single_layer

__all__ = [
    "CONVENTIONS", "GATES", "Checkpoint", "Convention", "CourseGRU", "CourseLM", "KerasCell",
    "FeatureCheckpoint", "FeatureTrace",
    "KerasGRU", "MaskedStep",
    "CheckpointError", "GRUConfig", "LayerWeights", "TextTrace", "TokenGRU",
    "Trace", "UnknownTokens", "Vocab", "check_vocab", "config_of", "estimate_nbytes",
    "layer_weights", "load_checkpoint", "read_vocab", "recompute", "save_checkpoint",
    "layer_input", "single_layer", "step", "top_k", "trace_text", "update",
]
