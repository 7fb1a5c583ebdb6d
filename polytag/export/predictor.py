"""``OnnxPredictor``: label Sentences with an exported folder and onnxruntime, no polytag model file.

Split of the work between the graph and Python:

* Python, before the graph: tokenizing, document context (FLERT), cutting long sentences into encoder
  windows and the gather indexes for subtoken pooling. This is the very code the torch model runs
  (the encoder's :class:`~polytag.embeddings.SubtokenPlanner`, rebuilt from the saved settings; no weights),
  so both see identical encoder rows. Batches are length-sorted by subtokens as in ``Model.predict``.
* The graph: the encoder, subtoken -> token pooling, the document vector and every head up to
  probabilities (softmax / sigmoid) or, for CRF taggers, emission scores.
* Python, after the graph: argmax and BIOES -> span decoding for token heads, the multi-label
  threshold for text heads, and for CRF taggers Viterbi decoding plus forward-backward marginals (the
  confidence scores) with polytag's own :class:`CRF` on the emissions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from polytag.data import Sentence
from polytag.embeddings import EncoderSettings, SubtokenPlanner, tokenizer_from_folder
from polytag.errors import ModelFileError
from polytag.export.exporter import FORMAT, FORMAT_VERSION, GRAPH_FILE, SETTINGS_FILE, TOKENIZER_DIR
from polytag.export.feeds import graph_feeds
from polytag.models.base import as_sentence_list, length_sorted_batches
from polytag.models.token_classifier import write_tag_decisions
from polytag.nn.crf import CRF


def _batch_planner(settings: dict[str, Any], tokenizer_dir: Path) -> SubtokenPlanner:
    """The planner the exported encoder's settings describe (tokenizing, windows, context; no weights)."""
    return SubtokenPlanner(tokenizer_from_folder(tokenizer_dir), EncoderSettings.from_config(settings))


class _Head:
    """One exported head: its output name and how its output becomes labels."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.task: str = settings["task"]
        self.kind: str = settings["kind"]
        self.label_type: str = settings["label_type"]
        self.output: str = settings["output"]
        self.labels: list[str] = list(settings["labels"])
        self.predict_spans = bool(settings.get("predict_spans", False))
        self.multi_label = bool(settings.get("multi_label", False))
        self.threshold = float(settings.get("multi_label_threshold", 0.5))
        self.crf: CRF | None = None
        if settings.get("crf"):
            crf = CRF(len(self.labels))
            with torch.no_grad():
                for name in ("transitions", "start_transitions", "end_transitions"):
                    getattr(crf, name).copy_(torch.tensor(settings["crf"][name], dtype=torch.float32))
            self.crf = crf.eval()

    # token heads ----------------------------------------------------------------------------------
    def _token_decisions(
        self, output: np.ndarray, lengths: list[int]
    ) -> tuple[list[list[int]], list[list[float]], np.ndarray]:
        if self.crf is None:
            best = output.argmax(axis=-1)
            score = np.take_along_axis(output, best[..., None], axis=-1)[..., 0]
            tags = [row[:n] for row, n in zip(best.tolist(), lengths)]
            scores = [row[:n] for row, n in zip(score.tolist(), lengths)]
            return tags, scores, output
        emissions = torch.from_numpy(output)
        mask = torch.arange(emissions.shape[1])[None, :] < torch.tensor(lengths)[:, None]
        with torch.no_grad():
            probs = self.crf.marginals(emissions, mask)
            paths = self.crf.viterbi(emissions, mask)
        rows = probs.tolist()
        scores = [[rows[b][t][tag] for t, tag in enumerate(path)] for b, path in enumerate(paths)]
        return paths, scores, probs.numpy()

    def write_tokens(
        self, sentences: list[Sentence], output: np.ndarray, label_name: str, all_classes: bool
    ) -> None:
        tags, scores, probs = self._token_decisions(output, [len(s) for s in sentences])
        all_probs = probs.tolist() if all_classes else None
        write_tag_decisions(sentences, tags, scores, all_probs, self.labels, self.predict_spans, label_name)

    # text heads -----------------------------------------------------------------------------------
    def write_text(
        self, sentences: list[Sentence], output: np.ndarray, label_name: str, all_classes: bool
    ) -> None:
        items = self.labels
        rows = output.tolist()
        if self.multi_label:
            for sentence, row in zip(sentences, rows):
                for c, p in enumerate(row):
                    if all_classes or p > self.threshold:
                        sentence.add_label(label_name, items[c], p)
            return
        if all_classes:
            for sentence, row in zip(sentences, rows):
                for c in sorted(range(len(row)), key=lambda c: -row[c]):
                    sentence.add_label(label_name, items[c], row[c])
            return
        best = output.argmax(axis=-1).tolist()
        for sentence, c, row in zip(sentences, best, rows):
            sentence.add_label(label_name, items[c], row[c])


class OnnxPredictor:
    """Predicts like the exported model's ``predict``, with onnxruntime (see the module docstring).

    ``threads`` sets onnxruntime's intra-op threads (None: its default, all cores); ``providers`` are
    onnxruntime execution providers (default: CPU).
    """

    def __init__(
        self,
        directory: str | os.PathLike,
        threads: int | None = None,
        providers: list[str] | None = None,
    ) -> None:
        import onnxruntime

        folder = Path(directory)
        settings_file = folder / SETTINGS_FILE
        if not settings_file.is_file() or not (folder / GRAPH_FILE).is_file():
            raise ModelFileError(f"{folder}: not an exported polytag ONNX folder ({SETTINGS_FILE} missing)")
        settings = json.loads(settings_file.read_text(encoding="utf-8"))
        if settings.get("format") != FORMAT or int(settings.get("version", 0)) > FORMAT_VERSION:
            raise ModelFileError(
                f"{settings_file}: format {settings.get('format')!r} version {settings.get('version')} "
                f"is not {FORMAT} <= {FORMAT_VERSION}"
            )
        self.settings = settings
        names = list(settings["inputs"])
        self.heads = [_Head(h) for h in settings["heads"]]
        self.needs_tokens = "token_source" in names
        self.needs_document = "doc_source" in names
        self.planner = _batch_planner(settings["encoder"], folder / TOKENIZER_DIR)
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = int(threads)
            options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            str(folder / GRAPH_FILE), options, providers=providers or ["CPUExecutionProvider"]
        )
        # inputs a graph does not use (``lengths`` without a BiLSTM) are pruned by the exporter
        self.inputs: list[str] = [i.name for i in self.session.get_inputs()]

    @property
    def label_types(self) -> list[str]:
        return [head.label_type for head in self.heads]

    def run_batch(self, sentences: list[Sentence]) -> dict[str, np.ndarray]:
        """The graph's outputs (by output name) for one batch, in the given sentence order."""
        feeds = graph_feeds(self.planner, sentences, self.needs_tokens, self.needs_document)
        names = [head.output for head in self.heads]
        values = self.session.run(names, {name: feeds[name] for name in self.inputs})
        return dict(zip(names, values))

    def predict(
        self,
        sentences: Sentence | Iterable[Sentence],
        mini_batch_size: int = 32,
        return_probabilities_for_all_classes: bool = False,
        label_name: str | None = None,
    ) -> None:
        """Label ``sentences`` in place, as ``Model.predict`` does (same label names and scores)."""
        sentences = as_sentence_list(sentences)
        names = {head.task: label_name or head.label_type for head in self.heads}
        if label_name is not None and len(self.heads) > 1:
            names = {head.task: f"{label_name}_{head.task}" for head in self.heads}
        lengths = self.planner.subtoken_lengths(sentences).tolist() if sentences else []
        for chunk in length_sorted_batches(sentences, mini_batch_size, lengths):
            outputs = self.run_batch(chunk)
            for head in self.heads:
                name = names[head.task]
                for sentence in chunk:
                    sentence.remove_labels(name)
                write = head.write_tokens if head.kind == "token" else head.write_text
                write(chunk, outputs[head.output], name, return_probabilities_for_all_classes)
