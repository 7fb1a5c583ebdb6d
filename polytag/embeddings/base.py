"""What an embedding module hands to the task heads (padded token vectors and document vectors), and how
Flair's ``embed`` keeps vectors on tokens and sentences."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from polytag.data import Sentence


@dataclass
class EmbeddingBatch:
    """The output of one encoder pass over a batch of sentences.

    ``token_embeddings`` is ``[B, T, embedding_length]`` (T = most tokens in the batch, zero padded),
    ``lengths`` the number of tokens of each sentence (a CPU long tensor, for packing and loops),
    ``mask`` is ``[B, T]`` and True on real tokens, ``document_embeddings`` is ``[B, document_length]``.
    A field is None when the module was not asked for it (``is_token_embedding`` / ``is_document_embedding``).
    """

    token_embeddings: torch.Tensor | None
    lengths: torch.Tensor
    mask: torch.Tensor
    document_embeddings: torch.Tensor | None

    def __len__(self) -> int:
        return int(self.lengths.shape[0])


# -- Flair's ``embed``: vectors kept on the tokens and sentences ------------------------------------------
# Only an explicit ``embed`` call stores vectors; training and prediction call ``forward_batch``, which
# stores nothing, so no vector outlives its batch there. Each token's vector is a row view of the batch
# tensor (one detach a batch, no copy a token).


def store_token_vectors(sentences: Sequence[Sentence], name: str, vectors: torch.Tensor) -> None:
    """Give token ``j`` of sentence ``i`` the vector ``vectors[i, j]`` under ``name``."""
    vectors = vectors.detach()
    for row, sentence in enumerate(sentences):
        n = len(sentence)
        if n:
            for token, vector in zip(sentence.tokens, vectors[row, :n].unbind(0)):
                token.set_embedding(name, vector)


def store_document_vectors(sentences: Sequence[Sentence], name: str, vectors: torch.Tensor) -> None:
    """Give sentence ``i`` the vector ``vectors[i]`` under ``name``."""
    for sentence, vector in zip(sentences, vectors.detach().unbind(0)):
        sentence.set_embedding(name, vector)


def stored_token_vectors(sentence: Sentence, names: Sequence[str]) -> torch.Tensor | None:
    """``[len(sentence), width]``: each token's vectors of ``names`` side by side, in that order; None
    when a token lacks one of them (not embedded, or cleared) or the sentence has no tokens."""
    rows = []
    for token in sentence.tokens:
        parts = [token.get_embedding([name]) for name in names]
        if any(part.numel() == 0 for part in parts):
            return None
        rows.append(parts[0] if len(parts) == 1 else torch.cat(parts))
    return torch.stack(rows) if rows else None


def stored_document_vector(sentence: Sentence, name: str) -> torch.Tensor | None:
    """The sentence's vector stored under ``name``, or None."""
    vector = sentence.get_embedding([name])
    return vector if vector.numel() else None


def as_sentence_list(sentences: Sentence | Sequence[Sentence]) -> list[Sentence]:
    """``embed`` takes one sentence or several, as in Flair."""
    return [sentences] if isinstance(sentences, Sentence) else list(sentences)
