"""``polytag info MODEL``: what a model file holds, read from its header alone.

No weights are loaded and nothing is built, so it is fast and it works on damaged files: whatever the
header still tells is shown, followed by the problems found (the exit code is then 1).
"""

from __future__ import annotations

import json
import math
import os
from typing import Any

from polytag.cli.config import MODEL_CONFIG_KEY


def _heads(config: dict[str, Any]) -> list[dict[str, Any]]:
    """(task, class, head config) for every head of a model config (a multitask model has several)."""
    model = config.get("model") or {}
    cls = config.get("class", "?")
    if cls == "MultitaskModel" or "tasks" in model:
        return [
            {
                "task": t.get("task_id", f"Task_{i}"),
                "class": t.get("class", "?"),
                "config": t.get("model") or {},
            }
            for i, t in enumerate(model.get("tasks") or [])
        ]
    return [{"task": "Task_0", "class": cls, "config": model}]


def _kind(head_class: str, head: dict[str, Any], items: list[str]) -> str:
    if head_class == "SpanClassifier":
        return "link"
    if head_class == "TextClassifier":
        return "sentence"
    dictionary = head.get("label_dictionary") or {}
    if dictionary.get("span_labels"):
        return "span"
    labels = [i for i in items if i not in ("<unk>", "O")]
    if labels and all(len(i) > 2 and i[1] == "-" and i[0] in "BIESLU" for i in labels):
        return "span"
    return "token"


def describe(path: str | os.PathLike) -> dict[str, Any]:
    """The facts ``polytag info`` prints, as JSON-ready data."""
    from polytag.io import read_model_header

    header = read_model_header(path)
    config = header.get("config") or {}
    tensors = header.get("tensors") or {}
    parameters = sum(math.prod(t.get("shape") or [0]) for t in tensors.values() if isinstance(t, dict))
    dtypes = sorted({str(t.get("dtype")) for t in tensors.values() if isinstance(t, dict)})
    tasks = []
    for head in _heads(config) if config else []:
        head_config = head["config"]
        dictionary = head_config.get("label_dictionary") or {}
        items = [i for i in dictionary.get("items", []) if i != "<unk>"]
        tasks.append(
            {
                "task": head["task"],
                "head": head["class"],
                "label_type": head_config.get("label_type"),
                "kind": _kind(head["class"], head_config, items),
                "labels": items,
                "encoder": head_config.get("embeddings"),
            }
        )
    encoders = {}
    for key, emb in (config.get("embeddings") or {}).items():
        hf = emb.get("encoder_config") or {}
        encoders[key] = {
            "model": emb.get("model"),
            "class": emb.get("class"),
            "architecture": hf.get("model_type"),
            "layers": hf.get("num_hidden_layers"),
            "hidden_size": hf.get("hidden_size"),
            "vocab_size": hf.get("vocab_size"),
            "fine_tune": emb.get("fine_tune"),
            "layers_used": emb.get("layers"),
            "subtoken_pooling": emb.get("subtoken_pooling"),
            "context": emb.get("use_context"),
            "max_length": emb.get("model_max_length"),
        }
    return {
        "path": header.get("path"),
        "file_size": header.get("file_size"),
        "format_version": header.get("format_version"),
        "class": config.get("class"),
        "parameters": parameters,
        "dtypes": dtypes,
        "tensors": len(tensors),
        "tasks": tasks,
        "encoders": encoders,
        "training_config": config.get(MODEL_CONFIG_KEY),
        "problems": list(header.get("problems") or []),
    }


def _size(n: int | None) -> str:
    if n is None:
        return "?"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{n} B"
        value /= 1024
    return f"{n} B"


def run_info(path: str | os.PathLike, as_json: bool = False, max_labels: int = 25) -> int:
    """Print the description; 1 when the file has problems (0 otherwise)."""
    facts = describe(path)
    if as_json:
        print(json.dumps(facts, indent=2, ensure_ascii=False))
        return 1 if facts["problems"] else 0
    print(f"file:        {facts['path']} ({_size(facts['file_size'])})")
    print(f"format:      polytag model file, version {facts['format_version']}")
    print(f"model:       {facts['class'] or '?'}")
    print(
        f"parameters:  {facts['parameters']:,} in {facts['tensors']} tensors ({', '.join(facts['dtypes'])})"
    )
    for key, enc in facts["encoders"].items():
        print(
            f"encoder {key}:   {enc['model']} ({enc['architecture']}, {enc['layers']} layers, width "
            f"{enc['hidden_size']}, vocabulary {enc['vocab_size']}; fine-tuned: {enc['fine_tune']}, "
            f"pooling: {enc['subtoken_pooling']}, context: {enc['context']})"
        )
    for task in facts["tasks"]:
        labels = task["labels"]
        shown = ", ".join(labels[:max_labels]) + (
            f", ... ({len(labels) - max_labels} more)" if len(labels) > max_labels else ""
        )
        print(
            f"task {task['task']}: {task['head']} -> '{task['label_type']}' ({task['kind']}, "
            f"{len(labels)} labels): {shown}"
        )
    if facts["training_config"]:
        trainer = facts["training_config"].get("trainer", {})
        print(
            f"trained with: polytag train ({trainer.get('method')}, max_epochs {trainer.get('max_epochs')}, "
            f"learning_rate {trainer.get('learning_rate')}); the full config is stored in the file "
            "(polytag info --json)"
        )
    if facts["problems"]:
        print("PROBLEMS:")
        for problem in facts["problems"]:
            print(f"  - {problem}")
        return 1
    return 0
