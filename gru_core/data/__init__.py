"""Training data and the trainer: tinyshakespeare-style corpora, the course's agreement task
(grammar.py, agreement.py) and `python -m gru_core.train`. Imports core, never analysis."""

from . import agreement, corpus, grammar

__all__ = ["agreement", "corpus", "grammar"]
