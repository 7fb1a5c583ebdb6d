"""``export_onnx``: a polytag model as an ONNX graph plus the settings and tokenizer to run it.

The exported folder holds

* ``model.onnx``: encoder, subtoken pooling and every head in one graph (the shared encoder once);
* ``polytag-onnx.json``: the encoder's batching settings (pooling, context, windows), and per head its
  task id, label type, labels, output name and decoding settings (BIOES spans, CRF transitions,
  multi-label threshold);
* ``tokenizer/``: the tokenizer files.

:class:`polytag.export.OnnxPredictor` reads it back without the polytag model file (see its docstring
for what runs in Python around the graph).
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import torch

from polytag.data import Sentence
from polytag.embeddings import TransformerEmbeddings
from polytag.errors import PolytagError
from polytag.export.feeds import graph_feeds
from polytag.export.graph import ExportGraph
from polytag.models import Model, MultitaskModel, SequenceTagger, TextClassifier, TokenClassifier
from polytag.nn.int8 import Int8Linear

FORMAT = "polytag-onnx"
FORMAT_VERSION = 1
SETTINGS_FILE = "polytag-onnx.json"
GRAPH_FILE = "model.onnx"
TOKENIZER_DIR = "tokenizer"
DEFAULT_OPSET = 17
SINGLE_TASK = "main"
_EXPORTABLE = (TokenClassifier, SequenceTagger, TextClassifier)
# example sentences for tracing: different lengths so that nothing about the shapes looks constant
_TRACE_TEXTS = (
    ["George", "Washington", "went", "to", "Washington", "yesterday", "."],
    ["Short", "one"],
    ["A", "third", "sentence", ",", "somewhat", "longer", "than", "the", "others", ",", "ends", "here", "."],
)


class ExportError(PolytagError, ValueError):
    """A model (or a setting of it) that cannot be exported to ONNX."""


def model_heads(model: Model) -> list[tuple[str, torch.nn.Module]]:
    """``(task id, head)`` pairs: the tasks of a MultitaskModel, or ``("main", model)``."""
    if isinstance(model, MultitaskModel):
        return list(model.tasks.items())
    return [(SINGLE_TASK, model)]


def _check(model: Model, heads: list[tuple[str, torch.nn.Module]]) -> TransformerEmbeddings:
    for task, head in heads:
        if type(head) not in _EXPORTABLE:
            raise ExportError(
                f"task {task!r}: a {type(head).__name__} cannot be exported to ONNX (supported: "
                "TokenClassifier, SequenceTagger, TextClassifier and MultitaskModels of them; "
                "span classifiers / entity linkers need candidate lookups outside any graph)"
            )
    encoders: dict[int, Any] = {id(head.embeddings): head.embeddings for _, head in heads}
    if len(encoders) != 1:
        raise ExportError(f"the heads use {len(encoders)} encoders; export needs one shared encoder")
    for name, parameter in model.named_parameters():
        if parameter.dtype != torch.float32:
            raise ExportError(f"parameter {name} is {parameter.dtype}; export a float32 model")
    for module in model.modules():
        if isinstance(module, Int8Linear) or "quantized" in type(module).__module__:
            raise ExportError("a quantized model cannot be exported; export the float32 model")
    return next(iter(encoders.values()))


def _head_settings(task: str, head: Any) -> dict[str, Any]:
    common = {"task": task, "class": type(head).__name__, "label_type": head.label_type}
    if isinstance(head, TextClassifier):
        return {
            **common,
            "kind": "text",
            "output": f"{task}.probs",
            "labels": list(head.label_dictionary.idx2item),
            "multi_label": bool(head.multi_label),
            "multi_label_threshold": float(head.multi_label_threshold),
        }
    crf = getattr(head, "crf", None)
    settings: dict[str, Any] = {
        **common,
        "kind": "token",
        "output": f"{task}.emissions" if crf is not None else f"{task}.probs",
        "labels": list(head.tag_dictionary.idx2item),
        "predict_spans": bool(head.predict_spans),
        "crf": None,
    }
    if crf is not None:
        settings["crf"] = {
            "transitions": crf.transitions.detach().cpu().tolist(),
            "start_transitions": crf.start_transitions.detach().cpu().tolist(),
            "end_transitions": crf.end_transitions.detach().cpu().tolist(),
        }
    return settings


def _encoder_settings(embeddings: TransformerEmbeddings, tokenizer_dir: Path) -> dict[str, Any]:
    """Batching settings of the encoder; its tokenizer files are written to ``tokenizer_dir``."""
    import base64

    config = embeddings.to_config()
    tokenizer_dir.mkdir(parents=True, exist_ok=True)
    for key, text in config.pop("tokenizer_files").items():
        target = tokenizer_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for key, data in config.pop("tokenizer_binary_files", {}).items():
        target = tokenizer_dir / key
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(base64.b64decode(data))
    encoder_config = config.pop("encoder_config")
    config["hidden_size"] = int(encoder_config["hidden_size"])
    config["num_hidden_layers"] = int(encoder_config.get("num_hidden_layers", 0) or 0)
    config["encoder_type"] = encoder_config.get("model_type")
    return config


def export_onnx(
    model: Model,
    directory: str | os.PathLike,
    opset: int = DEFAULT_OPSET,
) -> Path:
    """Write ``model`` as an ONNX folder (see the module docstring) and return the folder.

    Dynamic axes: batch, subtoken width, number of encoder windows, tokens per sentence. Uses PyTorch's
    TorchScript-based exporter (``dynamo=False``), which needs no extra package.
    """
    heads = model_heads(model)
    embeddings = _check(model, heads)
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    kinds = [("text" if isinstance(head, TextClassifier) else "token", head) for _, head in heads]
    graph = ExportGraph(embeddings, kinds).eval()
    names = graph.input_names()
    sentences = [Sentence.from_tokens(words) for words in _TRACE_TEXTS]
    feeds = graph_feeds(embeddings.planner, sentences, graph.needs_tokens, graph.needs_document)
    device = embeddings.device
    args = tuple(torch.from_numpy(feeds[name]).to(device) for name in names)
    head_settings = [_head_settings(task, head) for task, head in heads]
    outputs = [h["output"] for h in head_settings]
    axes: dict[str, dict[int, str]] = {
        "input_ids": {0: "pieces", 1: "width"},
        "attention_mask": {0: "pieces", 1: "width"},
        "token_source": {0: "batch", 1: "tokens", 2: "k"},
        "lengths": {0: "batch"},
        "doc_source": {0: "batch", 1: "doc_k"},
    }
    axes = {name: axes[name] for name in names}
    for settings in head_settings:
        axes[settings["output"]] = {0: "batch", 1: "tokens"} if settings["kind"] == "token" else {0: "batch"}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on Python values it records as constants
            torch.onnx.export(
                graph,
                args,
                str(target / GRAPH_FILE),
                input_names=names,
                output_names=outputs,
                dynamic_axes=axes,
                opset_version=opset,
                dynamo=False,
                do_constant_folding=True,
            )
    finally:
        model.train(was_training)
    settings = {
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "model_class": type(model).__name__,
        "opset": opset,
        "inputs": names,
        "encoder": _encoder_settings(embeddings, target / TOKENIZER_DIR),
        "heads": head_settings,
    }
    (target / SETTINGS_FILE).write_text(json.dumps(settings, indent=1, ensure_ascii=False), encoding="utf-8")
    return target
