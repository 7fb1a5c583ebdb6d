"""Flair's import paths that polytag keeps for ported code: one table, resolved lazily.

Flair code imports ``flair.trainers.ModelTrainer``, ``flair.nn.Classifier``,
``flair.nn.multitask.make_multitask_model_and_corpus`` and
``flair.models.entity_linker_model.CandidateGenerator``. polytag keeps those module paths as tiny
shim modules (``polytag.trainers``, ``polytag.nn.multitask``, ...) whose module-level ``__getattr__``
asks :func:`resolve`, which imports the real object only when it is first used. So a shim may name an
object of a *higher* layer (``polytag.nn`` offers ``polytag.models.base.Classifier``) without
importing that layer when the shim is imported.

Layer order of the package; imports run one way only, a lower layer never imports an upper one at
import time (this table is how a lower-layer path may still *name* an upper-layer object):

    errors → data → formats/evaluation/io → datasets → embeddings → nn → models
    → training/export → config → cli

This module imports nothing from polytag at import time.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

# shim module -> {name: "real.module:attribute"}
FLAIR_PATHS: dict[str, dict[str, str]] = {
    "polytag.trainers": {  # flair.trainers
        "ModelTrainer": "polytag.training:ModelTrainer",
        "NonFiniteLossError": "polytag.training:NonFiniteLossError",
    },
    "polytag.nn": {  # flair.nn: the model base classes live in polytag.models, one layer up
        "Model": "polytag.models.base:Model",
        "Classifier": "polytag.models.base:Classifier",
        "DefaultClassifier": "polytag.models.base:Classifier",  # Flair's base of the classifiers
    },
    "polytag.nn.multitask": {  # flair.nn.multitask
        "MultitaskModel": "polytag.models.multitask:MultitaskModel",
        "make_multitask_model_and_corpus": "polytag.models.multitask:make_multitask_model_and_corpus",
    },
    "polytag.models.entity_linker_model": {  # flair.models.entity_linker_model
        "SpanClassifier": "polytag.models.span_classifier:SpanClassifier",
        "EntityLinker": "polytag.models.span_classifier:SpanClassifier",  # Flair's older name
        "SpanClassifierError": "polytag.models.span_classifier:SpanClassifierError",
        "SpanScores": "polytag.models.span_classifier:SpanScores",
        "entity_name": "polytag.models.span_classifier:entity_name",
        "CandidateGenerator": "polytag.nn.candidates:CandidateGenerator",
    },
}


def shim_names(module: str) -> list[str]:
    """The names the shim ``module`` offers (its ``__all__``), sorted."""
    return sorted(FLAIR_PATHS[module])


def resolve(module: str, name: str) -> Any:
    """The object ``module.name`` stands for; imported now and cached on the shim module.

    Raises ``AttributeError`` (what ``getattr`` and ``from module import name`` expect) for a name
    the table does not list.
    """
    target = FLAIR_PATHS.get(module, {}).get(name)
    if target is None:
        raise AttributeError(f"module {module!r} has no attribute {name!r}")
    real_module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(real_module), attribute)
    shim = sys.modules.get(module)
    if shim is not None:
        setattr(shim, name, value)  # later look-ups skip __getattr__
    return value
