"""gru_core: nn.GRU recomputed exactly, every intermediate term exposed, and the analyses on top.

    import gru_core
    trace = gru_core.recompute(gru, x)            # any nn.GRU (or its state_dict) and input
    trace.gate("z", layer=0, batch=2)             # a batch, batch_first or PackedSequence call
    tt = gru_core.load_checkpoint("model.pt").trace("The cats, which ...")
    tt = dec.trace("<s> K AE1 T", h0=enc.trace("cat</s>"))  # from an encoder's final state
    card = gru_core.step_card(tt, t=12, unit=9)   # every term of one step, one unit

Three layers: core/ (the exact trace and the model around it), analysis/ (numbers read off a
trace), data/ (corpora, the agreement task and the trainer). See docs/architecture.md.
"""

from .analysis import *  # noqa: F403
from .analysis import __all__ as _analysis
from .core import *  # noqa: F403
from .core import __all__ as _core

__all__ = [*_core, *_analysis]
