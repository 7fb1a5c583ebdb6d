"""Flair's ``flair.trainers``: ``from polytag.trainers import ModelTrainer`` (see polytag.flair_paths)."""

from typing import Any

from polytag.flair_paths import resolve, shim_names

__all__ = shim_names(__name__)


def __getattr__(name: str) -> Any:
    return resolve(__name__, name)
