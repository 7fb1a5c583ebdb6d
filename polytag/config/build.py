"""Building what a resolved config describes: corpora, encoders, heads, the model, trainer arguments.

Classes come from fixed allow-lists (heads, named corpora, file formats); a config can never make
polytag import a module path.
"""

from __future__ import annotations

import json
from typing import Any

from polytag.formats.registry import formats

NAMED_CORPORA = (
    "UD_ENGLISH",
    "CONLL_2000",
    "CONLL_03",
    "CLEANCONLL",
    "AGNEWS",
    "ZELDA",
    "AIDA_NEL",
    "NER_MULTI_WIKINER",
)
# File corpus type -> the corpus class of polytag.datasets that reads it, from the format registry (the one
# format map); jsonl has none and is read with read_jsonl_file into a plain Corpus.
FILE_CORPUS_CLASSES: dict[str, str | None] = {spec.name: spec.corpus for spec in formats()}
FILE_CORPUS_TYPES = tuple(FILE_CORPUS_CLASSES)


def corpus_class(kind: str) -> Any:
    """The corpus class of a named corpus (``UD_ENGLISH``) or of a file corpus type (``column``)."""
    import polytag.datasets as datasets

    name = FILE_CORPUS_CLASSES.get(kind) or kind
    return getattr(datasets, name)


def head_class(name: str) -> type:
    """A head class from the allow-list (SpanClassifier only where it is installed)."""
    from polytag.io import get_model_class

    if name == "SpanClassifier":
        import polytag.models.span_classifier  # noqa: F401  (registers the class)
    return get_model_class(name)


def available_heads() -> list[str]:
    """The head classes this installation has."""
    heads = ["TokenClassifier", "SequenceTagger", "TextClassifier"]
    try:
        head_class("SpanClassifier")
        heads.append("SpanClassifier")
    except Exception:  # noqa: BLE001 - not part of this installation
        pass
    return heads


def _build_jsonl_corpus(spec: dict[str, Any]) -> Any:
    from polytag.data import Corpus
    from polytag.formats import read_jsonl_file

    reader = {k: spec.pop(k) for k in ("encoding", "label_type", "span_type") if k in spec}
    folder = spec.pop("folder", None)
    files = {split: spec.pop(split, None) for split in ("train", "dev", "test")}
    if folder and not any(files.values()):
        from polytag.datasets import find_train_dev_test_files

        dev, test, train = find_train_dev_test_files(folder)
        files = {"train": train, "dev": dev, "test": test}
    splits = {k: (read_jsonl_file(v, **reader) if v else None) for k, v in files.items()}
    return Corpus(splits["train"], splits["dev"], splits["test"], **spec)


def _build_file_corpus(kind: str, spec: dict[str, Any]) -> Any:
    from pathlib import Path

    folder = spec.pop("folder", None)
    files = {f"{split}_file": spec.pop(split, None) for split in ("train", "dev", "test")}
    if folder is None:
        given = [Path(v) for v in files.values() if v]
        folder = str(given[0].parent)
    columns = spec.pop("columns", None)
    if kind == "column":
        spec["column_format"] = columns
    elif kind == "csv":
        spec["column_name_map"] = columns
    files = {k: v for k, v in files.items() if v}
    return corpus_class(kind)(folder, **files, **spec)


def build_corpus(spec: dict[str, Any]) -> Any:
    """The Corpus a resolved corpus spec describes (named, or read from files)."""
    spec = dict(spec)
    kind = spec.pop("type")
    downsample = spec.pop("downsample", None)
    if kind in NAMED_CORPORA:
        corpus = corpus_class(kind)(**spec)
    elif kind == "jsonl":
        corpus = _build_jsonl_corpus(spec)
    else:
        corpus = _build_file_corpus(kind, spec)
    if downsample is not None and downsample < 1.0:
        corpus.downsample(downsample)
    return corpus


def _build_candidates(spec: dict[str, Any] | None, corpus: Any, label_type: str) -> Any:
    if spec is None:
        return None
    from polytag.nn.candidates import CandidateGenerator

    kwargs = {"backoff": spec["backoff"], "top_k": spec["top_k"]}
    if spec.get("merge"):
        kwargs["merge"] = spec["merge"]
    if spec["source"] == "corpus":
        return CandidateGenerator.from_corpus(
            corpus, label_type=label_type, include_dev_test=spec["include_dev_test"], **kwargs
        )
    return CandidateGenerator(spec["source"], **kwargs)


def build_encoder(spec: dict[str, Any]) -> Any:
    """The TransformerEmbeddings a resolved encoder spec describes."""
    from polytag.embeddings import TransformerEmbeddings

    return TransformerEmbeddings(**spec)


def corpus_groups(resolved: dict[str, Any]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Tasks grouped by the corpus they train on: one corpus is read once however many tasks use it."""
    groups: dict[str, tuple[dict[str, Any], list[dict[str, Any]]]] = {}
    for task in resolved["tasks"]:
        ref = task["corpus"]
        spec = resolved["corpora"][ref] if isinstance(ref, str) else ref
        key = json.dumps(spec, sort_keys=True)
        groups.setdefault(key, (spec, []))[1].append(task)
    return list(groups.values())


def build_corpora(resolved: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The training corpus of a resolved config and each task's own corpus.

    One task: its corpus. Several: a MultiCorpus whose sentences carry a ``multitask_id`` label for
    every task that trains on them (tasks sharing a corpus see the same sentences: aligned data).
    """
    from polytag.data import MultiCorpus

    per_task: dict[str, Any] = {}
    corpora = []
    for spec, tasks in corpus_groups(resolved):
        corpus = build_corpus(spec)
        corpora.append(corpus)
        for task in tasks:
            per_task[task["id"]] = corpus
        if len(resolved["tasks"]) > 1:
            ids = [t["id"] for t in tasks]
            for sentence in corpus.get_all_sentences():
                present = {label.value for label in sentence.get_labels("multitask_id")}
                for task_id in ids:
                    if task_id not in present:
                        sentence.add_label("multitask_id", task_id)
    if len(resolved["tasks"]) == 1:
        return corpora[0], per_task
    return MultiCorpus(corpora, name="multicorpus"), per_task


def build_model(resolved: dict[str, Any], per_task: dict[str, Any]) -> Any:
    """The model a resolved config describes, with label dictionaries made from each task's corpus."""
    import torch

    seed = resolved["trainer"].get("seed")
    if seed is not None:
        torch.manual_seed(int(seed))
    encoders = {"default": build_encoder(resolved["encoder"])}
    for name, spec in resolved["encoders"].items():
        encoders[name] = build_encoder(spec)
    heads = []
    for task in resolved["tasks"]:
        corpus = per_task[task["id"]]
        dictionary = corpus.make_label_dictionary(task["label_type"], **task["label_dictionary"])
        options = dict(task["options"])
        if task["head"] == "SpanClassifier":
            options["candidates"] = _build_candidates(options.get("candidates"), corpus, task["label_type"])
        cls = head_class(task["head"])
        heads.append(cls(encoders[task["encoder"]], dictionary, task["label_type"], **options))
    if len(heads) == 1:
        return heads[0]
    from polytag.models import MultitaskModel

    multitask = resolved["multitask"]
    return MultitaskModel(
        heads,
        [t["id"] for t in resolved["tasks"]],
        loss_factors=[t["loss_factor"] for t in resolved["tasks"]],
        use_all_tasks=multitask["use_all_tasks"],
        task_sampling=multitask["sampling"],
        sampling_temperature=multitask["temperature"],
    )


def trainer_arguments(resolved: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The ``ModelTrainer`` method a resolved config names and its keyword arguments."""
    options = dict(resolved["trainer"])
    method = options.pop("method")
    return method, options
