"""``polytag info MODEL``: what a model file holds, and what is wrong with it if it is damaged.

The description comes from the header alone, so it works on damaged files and is quick on large ones:
whatever the header still tells is shown, followed by the problems found (the exit code is then 1).
``polytag info --verify`` (``verify=True``) also loads the file as ``Model.load`` does (no code from the
file runs), which finds tensors that do not fit the model the config describes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
from typing import Any

from polytag.config import MODEL_CONFIG_KEY


def _obj(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object, else an empty one: a damaged config must not crash ``info``."""
    return value if isinstance(value, dict) else {}


def _heads(config: dict[str, Any]) -> list[dict[str, Any]]:
    """(task, class, head config) for every head of a model config (a multitask model has several)."""
    model = _obj(config.get("model"))
    cls = config.get("class", "?")
    if cls == "MultitaskModel" or "tasks" in model:
        found = model.get("tasks")
        tasks: list[Any] = found if isinstance(found, list) else []
        return [
            {
                "task": _obj(t).get("task_id", f"Task_{i}"),
                "class": _obj(t).get("class", "?"),
                "config": _obj(_obj(t).get("model")),
            }
            for i, t in enumerate(tasks)
        ]
    return [{"task": "Task_0", "class": cls, "config": model}]


def _kind(head_class: str, head: dict[str, Any], items: list[str]) -> str:
    if head_class == "SpanClassifier":
        return "link"
    if head_class == "TextClassifier":
        return "sentence"
    dictionary = _obj(head.get("label_dictionary"))
    if dictionary.get("span_labels"):
        return "span"
    labels = [i for i in items if i not in ("<unk>", "O")]
    if labels and all(len(i) > 2 and i[1] == "-" and i[0] in "BIESLU" for i in labels):
        return "span"
    return "token"


def _verify_weights(path: str | os.PathLike) -> str | None:
    """Build the model and load its weights the way ``Model.load`` does; the problem, or None if sound."""
    from polytag.models.base import Model

    try:
        Model.load(path)
    except Exception as error:  # noqa: BLE001 - info reports every failure instead of raising
        message = str(error)
        prefix = f"{path}: "
        if message.startswith(prefix):
            message = message[len(prefix) :]
        return f"the weights cannot be loaded into the model the config describes: {message}"
    return None


def _embedding_problems(config: Any) -> list[str]:
    """What the embedding configs' own checks refuse (tokenizer files, encoder sizes), header only."""
    from polytag.embeddings import checked_embedding_config
    from polytag.errors import PolytagError

    problems = []
    embeddings = config.get("embeddings") if isinstance(config, dict) else None
    for key, emb_config in embeddings.items() if isinstance(embeddings, dict) else []:
        try:
            for transformer_config in _transformer_configs(emb_config):
                checked_embedding_config(transformer_config)
        except PolytagError as error:
            problems.append(f"encoder {key}: {error}")
    return problems


def _transformer_configs(config: Any) -> list[Any]:
    """The transformer configs in an embedding config: itself, or those inside a stack / pool (word
    vectors have none; their vocabulary is checked when the model is built)."""
    name = config.get("class") if isinstance(config, dict) else None
    if name in ("StackedEmbeddings", "DocumentPoolEmbeddings"):
        inner = config.get("embeddings")
        return [
            c
            for member in (inner if isinstance(inner, list) else [inner])
            for c in _transformer_configs(member)
        ]
    return [] if name == "WordEmbeddings" else [config]


def describe(path: str | os.PathLike, verify: bool = False) -> dict[str, Any]:
    """The facts ``polytag info`` prints, as JSON-ready data.

    Everything comes from the header; with ``verify`` a file whose header is sound is also loaded as
    ``Model.load`` would (building the model, checking every tensor's shape), which finds weights that do
    not fit the config.
    """
    from polytag.io import check_model_config, read_model_header

    header = read_model_header(path)
    problems = list(header.get("problems") or [])
    config = _obj(header.get("config"))
    if header.get("config") is not None:
        problems.extend(check_model_config(header["config"]))
        problems.extend(_embedding_problems(header["config"]))
    tensors = _obj(header.get("tensors"))
    parameters = sum(math.prod(t.get("shape") or [0]) for t in tensors.values() if isinstance(t, dict))
    dtypes = sorted({str(t.get("dtype")) for t in tensors.values() if isinstance(t, dict)})
    tasks = []
    for head in _heads(config) if config else []:
        head_config = head["config"]
        dictionary = _obj(head_config.get("label_dictionary"))
        found = dictionary.get("items")
        raw_items: list[Any] = found if isinstance(found, list) else []
        items = [str(i) for i in raw_items if i != "<unk>"]
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
    for key, emb in _obj(config.get("embeddings")).items():
        emb = _obj(emb)
        hf = _obj(emb.get("encoder_config"))
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
    weights_checked = False
    if verify and not problems:
        problem = _verify_weights(path)
        weights_checked = problem is None
        if problem:
            problems.append(problem)
    return {
        "path": header.get("path"),
        "file_size": header.get("file_size"),
        "format": header.get("format"),
        "format_version": header.get("format_version"),
        "class": config.get("class"),
        "parameters": parameters,
        "dtypes": dtypes,
        "tensors": len(tensors),
        "tasks": tasks,
        "encoders": encoders,
        "training_config": _obj(config.get(MODEL_CONFIG_KEY)) or None,
        "weights_checked": weights_checked,
        "problems": problems,
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


def run_info(
    path: str | os.PathLike, as_json: bool = False, max_labels: int = 25, verify: bool = True
) -> int:
    """Print the description; 1 when the file has problems (0 otherwise).

    ``verify`` also loads the weights of a file whose header is sound, to catch tensors that do not fit
    the model the config describes; ``False`` reads the header only (what ``polytag info`` does unless
    given ``--verify``). The Python default stays ``True`` for the callers that relied on it.
    """
    facts = describe(path, verify=verify)
    if as_json:
        print(json.dumps(facts, indent=2, ensure_ascii=False))
        return 1 if facts["problems"] else 0
    print(f"file:        {facts['path']} ({_size(facts['file_size'])})")
    if facts["format"] == "polytag":
        print(f"format:      polytag model file, version {facts['format_version']}")
    else:
        print(f"format:      not recognised ({facts['format'] or 'no polytag header'})")
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
        trainer = _obj(facts["training_config"].get("trainer"))
        print(
            f"trained with: polytag train ({trainer.get('method')}, max_epochs {trainer.get('max_epochs')}, "
            f"learning_rate {trainer.get('learning_rate')}); the full config is stored in the file "
            "(polytag info --json)"
        )
    if facts["weights_checked"]:
        print("weights:     every tensor fits the model the config describes")
    elif not verify and not facts["problems"]:
        print("weights:     not loaded (header only; --verify loads them into the model)")
    if facts["problems"]:
        print("PROBLEMS:")
        for problem in facts["problems"]:
            print(f"  - {problem}")
        return 1
    return 0


# -- the command line ----------------------------------------------------------------------------------


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    """Add the ``info`` command to the ``polytag`` parser (``commands``: its sub-parsers)."""
    info = commands.add_parser(
        "info", parents=[common], help="describe a model file (works on damaged files too)"
    )
    info.add_argument("model", help="a model file")
    info.add_argument("--json", action="store_true", help="print the description as JSON")
    info.add_argument(
        "--verify", action="store_true", help="also load the weights into the model (reads the whole file)"
    )
    info.add_argument("--header-only", action="store_true", help="read the header only (the default)")
    info.set_defaults(handler=_handle)


def _handle(args: argparse.Namespace) -> int:
    return run_info(args.model, args.json, verify=args.verify)
