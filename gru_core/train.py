"""python -m gru_core.train --help: the trainer (gru_core/data/train.py), at the path the shipped
checkpoints record in their command."""

from .data.train import main

if __name__ == "__main__":
    main()
