"""Training: the trainer loop and its small parts (batching, step, schedule, checkpoint, reporting, plots)."""

from polytag.training.checkpoint import CheckpointNotFoundError, find_checkpoint, load_checkpoint
from polytag.training.options import TrainingConfig
from polytag.training.step import NonFiniteLossError
from polytag.training.trainer import ModelTrainer

__all__ = [
    "CheckpointNotFoundError",
    "ModelTrainer",
    "NonFiniteLossError",
    "TrainingConfig",
    "find_checkpoint",
    "load_checkpoint",
]
