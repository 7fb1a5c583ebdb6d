"""Flair's import path ``flair.nn.multitask``: re-exports of the multitask glue."""

from polytag.models.multitask import MultitaskModel, make_multitask_model_and_corpus

__all__ = ["MultitaskModel", "make_multitask_model_and_corpus"]
