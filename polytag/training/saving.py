"""Writing and reading back the model files of a run (``final-model.pt``, ``best-model.pt`` ...).

Each name is recorded in the folder's manifest (``outputs.py``) before the file is written, so later runs
know the file as their own and a user's file of the same name was refused before training began.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from polytag.training.distributed import Distributed


def save_model(run: Any, name: str, wanted: bool = True) -> None:
    """Save ``run``'s model as ``base_path/name`` (rank 0 only; not in ``param_selection_mode``)."""
    if wanted and not run.config.param_selection_mode and run.distributed.is_main:
        run.outputs.claim(name)
        run.model.save(run.base_path / name)


def load_weights(model: Any, path: Path, distributed: Distributed) -> None:
    """Load a saved model's weights (rank 0 reads the file, the other ranks receive its weights)."""
    if distributed.is_main:
        loaded = type(model).load(path)
        model.load_state_dict(loaded.state_dict())
    distributed.broadcast_module(model)
