"""The one prediction loop: any set of heads over one encoder pass per batch.

A single classifier runs it with itself as the only head; :class:`MultitaskModel` with all its heads,
each on its own rows. Sentences are batched by encoder length (longest first, so padding stays small),
each batch is encoded once per distinct encoder, and every head scores and labels the rows it was given.
The sentences' own order is never changed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping

import torch
from tqdm import tqdm

from polytag.data import Sentence
from polytag.embeddings import EmbeddingBatch, TransformerEmbeddings
from polytag.models.batching import encoder_lengths, select_rows
from polytag.models.head import Head

# per task: the (summed loss, item count) of every batch, in batch order
TaskLosses = dict[str, list[tuple[torch.Tensor, int]]]

STORAGE_MODES = ("none", "cpu", "gpu")


def warn_unused_prediction_options(embedding_storage_mode: str | None) -> None:
    """Flair's ``embedding_storage_mode`` keeps the vectors on the tokens after ``predict``; polytag
    recomputes them and never stores any, so anything but ``"none"`` is accepted with a warning."""
    if embedding_storage_mode is None or embedding_storage_mode == "none":
        return
    if embedding_storage_mode not in STORAGE_MODES:
        raise ValueError(
            f"embedding_storage_mode must be one of {STORAGE_MODES}, got {embedding_storage_mode!r}"
        )
    warnings.warn(
        f"predict(embedding_storage_mode={embedding_storage_mode!r}) is ignored: polytag does not keep "
        "embeddings on the tokens after predicting (call embeddings.embed(sentence) to get vectors)",
        UserWarning,
        stacklevel=3,
    )


def encoder_groups(heads: Mapping[str, Head]) -> list[tuple[TransformerEmbeddings, list[str]]]:
    """The distinct encoders of ``heads`` (in head order), each with the tasks that share it."""
    groups: dict[int, tuple[TransformerEmbeddings, list[str]]] = {}
    for task, head in heads.items():
        groups.setdefault(id(head.embeddings), (head.embeddings, []))[1].append(task)
    return list(groups.values())


def encode_per_task(
    heads: Mapping[str, Head], sentences: list[Sentence], rows: Mapping[str, list[int]]
) -> Iterator[tuple[str, list[Sentence], EmbeddingBatch]]:
    """(task, its sentences, their sub-batch): one encoder pass per shared encoder over the union of
    the rows its heads need; a task whose rows are all of ``sentences`` gets the batch itself."""
    for embeddings, tasks in encoder_groups(heads):
        needed = sorted({r for task in tasks for r in rows[task]})
        if not needed:
            continue
        union = [sentences[r] for r in needed]
        batch = embeddings.forward_batch(union)
        position = {r: k for k, r in enumerate(needed)}
        for task in tasks:
            if rows[task]:
                local = [position[r] for r in rows[task]]
                yield task, [sentences[r] for r in rows[task]], select_rows(batch, local)


def predict_heads(
    model: torch.nn.Module,
    heads: Mapping[str, Head],
    sentences: list[Sentence],
    rows_of: Mapping[str, list[int]],
    label_names: Mapping[str, str],
    mini_batch_size: int,
    return_loss: bool = False,
    return_probabilities_for_all_classes: bool = False,
    verbose: bool = False,
) -> TaskLosses:
    """Label ``sentences[r]`` for every ``r`` in ``rows_of[task]`` with ``heads[task]`` under
    ``label_names[task]`` (that layer is replaced, others are left alone).

    ``model`` (the module owning the heads) is in eval mode for the run and restored afterwards. A row
    the head does not need encoded (:meth:`Head.needs_encoding`) only has its layer cleared. Returns each
    task's per-batch (loss, count) when ``return_loss``.
    """
    wanted: dict[str, set[int]] = {}
    assigned = {task: set(rows_of.get(task, [])) for task in heads}
    for task, head in heads.items():
        wanted[task] = set()
        for r in assigned[task]:
            if head.needs_encoding(sentences[r]):
                wanted[task].add(r)
            else:
                sentences[r].remove_labels(label_names[task])
    order = [i for i in range(len(sentences)) if any(i in w for w in wanted.values())]
    lengths = encoder_lengths(model, [sentences[i] for i in order])
    size = lengths if lengths is not None else [len(sentences[i]) for i in order]
    by_length = sorted(range(len(order)), key=lambda k: -size[k])
    chunks = [
        [order[k] for k in by_length[s : s + mini_batch_size]]
        for s in range(0, len(by_length), mini_batch_size)
    ]
    losses: TaskLosses = {task: [] for task in heads}
    was_training = model.training
    model.eval()
    with torch.inference_mode():
        for chunk in tqdm(chunks, desc="predict", unit="batch", disable=not verbose):
            batch_sentences = [sentences[g] for g in chunk]
            rows = {task: [k for k, g in enumerate(chunk) if g in assigned[task]] for task in heads}
            for task, subset, sub_batch in encode_per_task(heads, batch_sentences, rows):
                head = heads[task]
                # asked again now: a head may need what an earlier head wrote in this very batch (a linker
                # the spans that NER just found), so one predict call runs NER and linking end to end
                keep = [k for k, sentence in enumerate(subset) if head.needs_encoding(sentence)]
                for k in sorted(set(range(len(subset))) - set(keep)):
                    subset[k].remove_labels(label_names[task])
                if not keep:
                    continue
                if len(keep) < len(subset):
                    subset, sub_batch = [subset[k] for k in keep], select_rows(sub_batch, keep)
                scores = head.compute_scores(subset, sub_batch)
                if return_loss:
                    losses[task].append(head.compute_loss(subset, scores, sub_batch))
                for sentence in subset:
                    sentence.remove_labels(label_names[task])
                head.write_predictions(
                    subset, scores, sub_batch, label_names[task], return_probabilities_for_all_classes
                )
    if was_training:
        model.train()
    return losses
