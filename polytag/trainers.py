"""Flair's import path for the trainer: ``from polytag.trainers import ModelTrainer``."""

from polytag.training import ModelTrainer, NonFiniteLossError

__all__ = ["ModelTrainer", "NonFiniteLossError"]
