"""MultitaskModel: several heads, one encoder pass per batch for all heads that share the encoder.

Sentences are routed to heads by their ``multitask_id`` labels (``Task_0``, ``Task_1`` ...). A sentence
with several ids (aligned data), or any sentence when ``use_all_tasks=True``, runs the encoder once and
feeds every head it belongs to. Heads built over the same embeddings object keep sharing it after
:meth:`Model.load`, because the model file stores the encoder once and rebuilds one module.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from typing import Any

import torch

from polytag.data import Corpus, MultiCorpus, Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.evaluation import Result, evaluate_items
from polytag.io import get_model_class, register_model_class
from polytag.models.base import PREDICTED, Classifier, Model
from polytag.models.batching import as_sentence_list, select_rows
from polytag.models.head import Head
from polytag.models.prediction import (
    TaskLosses,
    encode_per_task,
    predict_heads,
    warn_unused_prediction_options,
)
from polytag.models.token_classifier import TokenClassifier

log = logging.getLogger("polytag")

TASK_LABEL = "multitask_id"
SAMPLING = ("proportional", "uniform", "temperature")

__all__ = [
    "SAMPLING",
    "TASK_LABEL",
    "MultitaskModel",
    "combine_results",
    "make_multitask_model_and_corpus",
    "select_rows",
]


@register_model_class
class MultitaskModel(Model):
    """Heads trained together; ``tasks`` maps task ids to heads (Flair's attribute name).

    As in Flair, where it is a ``flair.nn.Classifier``, ``Classifier.load`` reads a multitask file.
    """

    loads_as_classifier = True

    def __init__(
        self,
        models: list[Classifier],
        task_ids: list[str] | None = None,
        loss_factors: list[float] | None = None,
        use_all_tasks: bool = False,
        task_sampling: str = "proportional",
        sampling_temperature: float = 2.0,
    ) -> None:
        super().__init__()
        if not models:
            raise ValueError("a MultitaskModel needs at least one head")
        for model in models:
            if not isinstance(model, Head):
                raise ValueError(
                    f"every task of a MultitaskModel must be a head over one encoder, got a "
                    f"{type(model).__name__}"
                )
        task_ids = task_ids or [f"Task_{i}" for i in range(len(models))]
        if len(task_ids) != len(models) or len(set(task_ids)) != len(task_ids):
            raise ValueError(f"need one distinct task id per model, got {task_ids} for {len(models)} models")
        loss_factors = loss_factors or [1.0] * len(models)
        if len(loss_factors) != len(models):
            raise ValueError(f"{len(loss_factors)} loss factors for {len(models)} models")
        if task_sampling not in SAMPLING:
            raise ValueError(f"task_sampling must be one of {SAMPLING}, got {task_sampling!r}")
        self.tasks = torch.nn.ModuleDict(dict(zip(task_ids, models)))
        self.loss_factors = dict(zip(task_ids, (float(f) for f in loss_factors)))
        self.use_all_tasks = use_all_tasks
        self.task_sampling = task_sampling
        self.sampling_temperature = sampling_temperature
        self.label_type = "multitask"  # the trainer's gold type; each head scores its own

    # -- routing -----------------------------------------------------------------------------------
    def task_rows(self, sentences: list[Sentence]) -> dict[str, list[int]]:
        """Rows of ``sentences`` each task sees: by ``multitask_id``, or all of them."""
        rows: dict[str, list[int]] = {task: [] for task in self.tasks}
        for i, sentence in enumerate(sentences):
            ids = [label.value for label in sentence.get_labels(TASK_LABEL)]
            for task in rows if (self.use_all_tasks or not ids) else ids:
                if task in rows:
                    rows[task].append(i)
        return rows

    # -- training ------------------------------------------------------------------------------------
    def forward_loss(
        self, sentences: list[Sentence], batch: EmbeddingBatch | None = None
    ) -> tuple[torch.Tensor, int]:
        """Each task's mean loss, weighted by its loss factor and its number of sentences.

        Normalising inside a task first means a token task does not outweigh a sentence task merely
        because it counts more items; the trainer divides by the returned sentence count.
        """
        rows = self.task_rows(sentences)
        heads = self.heads()
        total = None
        for task, subset, sub_batch in encode_per_task(heads, sentences, rows):
            head = heads[task]
            loss, count = head.compute_loss(subset, head.compute_scores(subset, sub_batch), sub_batch)
            if count == 0:
                continue
            term = self.loss_factors[task] * loss / count * len(subset)
            total = term if total is None else total + term
        if total is None:
            return torch.zeros((), requires_grad=True, device=self.device), 0
        return total, len(sentences)

    def sample_weights(self, dataset: Iterable[Sentence]) -> list[float] | None:
        """Per-sentence sampling weights for the trainer: None means plain shuffling (proportional)."""
        if self.task_sampling == "proportional":
            return None
        sentences = list(dataset)
        firsts = []
        for s in sentences:
            ids = [label.value for label in s.get_labels(TASK_LABEL)]
            firsts.append(ids[0] if ids else next(iter(self.tasks)))
        sizes = {task: firsts.count(task) for task in self.tasks}
        exponent = 0.0 if self.task_sampling == "uniform" else 1.0 / self.sampling_temperature
        return [(sizes[t] ** exponent) / sizes[t] for t in firsts]

    # -- prediction and evaluation -------------------------------------------------------------------
    def heads(self) -> dict[str, Head]:
        """Task id -> head, as the shared prediction loop takes them."""
        return {task: head for task, head in self.tasks.items() if isinstance(head, Head)}

    @staticmethod
    def _summed(losses: TaskLosses) -> dict[str, tuple[float, int]]:
        """Each task's (loss, count) summed over its batches."""
        totals = {}
        for task, batches in losses.items():
            loss, count = 0.0, 0
            for batch_loss, batch_count in batches:
                loss, count = loss + float(batch_loss), count + batch_count
            totals[task] = (loss, count)
        return totals

    def predict(
        self,
        sentences: Sentence | list[Sentence],
        mini_batch_size: int = 32,
        return_probabilities_for_all_classes: bool = False,
        verbose: bool = False,
        label_name: str | None = None,
        return_loss: bool = False,
        embedding_storage_mode: str = "none",
        force_token_predictions: bool = False,
    ) -> Any:
        """Fill every task's labels (each under its own label type) in one pass per batch.

        ``force_token_predictions`` reaches the tagger tasks, as Flair passes it on to each task."""
        warn_unused_prediction_options(embedding_storage_mode)
        sentences = as_sentence_list(sentences)
        everything = list(range(len(sentences)))
        names = {task: label_name or head.label_type for task, head in self.heads().items()}
        if label_name is not None and len(self.tasks) > 1:
            names = {task: f"{label_name}_{task}" for task in self.tasks}
        taggers = [head for head in self.heads().values() if isinstance(head, TokenClassifier)]
        for tagger in taggers:
            tagger.force_token_predictions_once = force_token_predictions
        try:
            losses = self._summed(
                predict_heads(
                    self,
                    self.heads(),
                    sentences,
                    {task: everything for task in self.tasks},
                    names,
                    mini_batch_size,
                    return_loss=return_loss,
                    return_probabilities_for_all_classes=return_probabilities_for_all_classes,
                    verbose=verbose,
                )
            )
        finally:
            for tagger in taggers:
                del tagger.force_token_predictions_once
        if return_loss:
            return sum(v[0] for v in losses.values()), sum(v[1] for v in losses.values())
        return None

    def evaluate(
        self,
        data_points: Iterable[Sentence],
        gold_label_type: str | None = None,
        out_path: str | os.PathLike | None = None,
        embedding_storage_mode: str = "none",
        mini_batch_size: int = 32,
        main_evaluation_metric: tuple[str, str] | None = None,
        exclude_labels: Iterable[str] = (),
        gold_label_dictionary: Any = None,
        return_loss: bool = True,
        evaluate_all: bool = True,
        **kwargs: Any,
    ) -> Result:
        """Score each task on its own sentences; the main score and loss are the tasks' means."""
        sentences = as_sentence_list(data_points)
        rows_of = self.task_rows(sentences)
        names = {task: f"{PREDICTED}_{task}" for task in self.tasks}
        losses = self._summed(
            predict_heads(
                self, self.heads(), sentences, rows_of, names, mini_batch_size, return_loss=return_loss
            )
        )
        task_results: dict[str, tuple[str, Result]] = {}
        for task, head in self.heads().items():
            subset = [sentences[r] for r in rows_of[task]]
            if not subset:
                continue
            gold = head.evaluation_items(subset, head.label_type, 0)
            predicted = head.evaluation_items(subset, names[task], 0)
            loss, count = losses[task]
            result = evaluate_items(
                gold,
                predicted,
                kind=head.evaluation_kind,
                main_metric=main_evaluation_metric,
                exclude_labels=tuple(exclude_labels),
                loss=loss / max(count, 1) if return_loss else None,
            )
            task_results[task] = (type(head).__name__, result)
        for sentence in sentences:
            for name in names.values():
                sentence.remove_labels(name)
        return combine_results(task_results, return_loss)

    # -- model file ------------------------------------------------------------------------------------
    def get_config(self, embedding_ids: dict[int, str]) -> dict[str, Any]:
        return {
            "tasks": [
                {"task_id": task, "class": type(head).__name__, "model": head.get_config(embedding_ids)}
                for task, head in self.heads().items()
            ],
            "loss_factors": [self.loss_factors[t] for t in self.tasks],
            "use_all_tasks": self.use_all_tasks,
            "task_sampling": self.task_sampling,
            "sampling_temperature": self.sampling_temperature,
        }

    @classmethod
    def from_config(
        cls, config: dict[str, Any], embeddings: dict[str, TransformerEmbeddings]
    ) -> MultitaskModel:
        heads, ids = [], []
        for task in config["tasks"]:
            head_cls = get_model_class(task["class"])
            if not issubclass(head_cls, Head):
                raise ValueError(f"task {task.get('task_id')!r}: a {head_cls.__name__} cannot be a task head")
            heads.append(head_cls.from_config(task["model"], embeddings))
            ids.append(task["task_id"])
        return cls(
            heads,
            ids,
            loss_factors=config.get("loss_factors"),
            use_all_tasks=config.get("use_all_tasks", False),
            task_sampling=config.get("task_sampling", "proportional"),
            sampling_temperature=config.get("sampling_temperature", 2.0),
        )


def combine_results(task_results: dict[str, tuple[str, Result]], with_loss: bool) -> Result:
    """One Result whose main score and loss are the means over tasks, keeping the per-task results."""
    results = [r for _, r in task_results.values()]
    main = sum(r.main_score for r in results) / max(len(results), 1)
    losses = [r.loss for r in results if r.loss is not None]
    loss = sum(losses) / len(losses) if (with_loss and losses) else None
    header = "\t".join(f"{task}_SCORE" for task in task_results)
    line = "\t".join(f"{r.main_score:.4f}" for _, r in task_results.values())
    details = "\n\n".join(
        f"{task} - {name}\n{r.detailed_results}" for task, (name, r) in task_results.items()
    )
    scores: dict[str, Any] = {"loss": loss}
    scores.update({f"{task}_score": r.main_score for task, (_, r) in task_results.items()})
    result = Result(
        main_score=main,
        log_header=header,
        log_line=line,
        detailed_results=details,
        classification_report={},
        scores=scores,
        loss=loss,
    )
    vars(result)["task_results"] = task_results  # Flair keeps them on the result too
    return result


def make_multitask_model_and_corpus(
    mapping: Any, *more: tuple[Classifier, Corpus], **model_args: Any
) -> tuple[MultitaskModel, MultiCorpus]:
    """``[(model_1, corpus_1), (model_2, corpus_2), ...]`` (or the tuples as separate arguments) ->
    a MultitaskModel with tasks ``Task_0, Task_1, ...`` and a MultiCorpus whose sentences carry them."""
    pairs = (
        [mapping, *more]
        if isinstance(mapping, tuple) and len(mapping) == 2 and isinstance(mapping[0], Model)
        else [*mapping, *more]
    )
    models = [p[0] for p in pairs]
    corpora = [p[1] for p in pairs]
    task_ids = [f"Task_{i}" for i in range(len(pairs))]
    return MultitaskModel(models, task_ids, **model_args), MultiCorpus(corpora, task_ids)
