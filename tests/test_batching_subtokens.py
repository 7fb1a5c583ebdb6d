"""A token budget counts the encoder's subtokens: one long word can fill a batch on its own."""

from __future__ import annotations

from polytag.data import Sentence
from polytag.embeddings import TransformerWordEmbeddings
from polytag.training.batching import BatchPlan, ShuffleSampler


def test_budget_counts_subtokens_not_words(tiny_encoder_dir) -> None:
    embeddings = TransformerWordEmbeddings(str(tiny_encoder_dir))
    data = [Sentence(["the", "cat"]) for _ in range(30)] + [Sentence(["-" * 80, "|"])]
    lengths = embeddings.subtoken_lengths(data)
    assert lengths[0] == 2 and lengths[-1] >= 80
    plan = BatchPlan(
        data, ShuffleSampler(len(data), 1), 8, max_tokens_per_batch=40, length_fn=embeddings.subtoken_lengths
    )
    batches = plan.batches(1)
    long_batch = next(b for b in batches if len(data) - 1 in b.tolist())
    assert len(long_batch) == 1  # by words (2) it would have shared a batch with ten others
    assert sorted(i for b in batches for i in b.tolist()) == list(range(len(data)))
    assert all(len(b) * max(lengths[i] for i in b) <= 40 for b in batches if len(b) > 1)
