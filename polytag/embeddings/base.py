"""What an embedding module hands to the task heads: padded token vectors and document vectors."""

from __future__ import annotations

from dataclasses import dataclass

import torch


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
