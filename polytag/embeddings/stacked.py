"""Flair's ``StackedEmbeddings`` (token vectors side by side) and ``DocumentPoolEmbeddings`` (pooled).

Both are torch modules with the interface the task heads call (``forward_batch`` -> ``EmbeddingBatch``,
``embedding_length``, ``is_token_embedding``), so a stack can stand where a
:class:`~polytag.embeddings.TransformerWordEmbeddings` does (``TokenClassifier``), and a pool where a
:class:`~polytag.embeddings.TransformerDocumentEmbeddings` does (``TextClassifier``), in training too:
gradients reach every member that is fine-tuned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from polytag.data import Sentence
from polytag.embeddings.base import (
    EmbeddingBatch,
    as_sentence_list,
    store_document_vectors,
    store_token_vectors,
    stored_document_vector,
)
from polytag.embeddings.transformer import EmbeddingConfigError
from polytag.embeddings.word import TokenEmbeddings

__all__ = ["DocumentPoolEmbeddings", "StackedEmbeddings"]

POOLINGS = ("mean", "max", "min")
FINE_TUNE_MODES = ("none", "linear", "nonlinear")


def _check_token_embedding(position: int, embedding: Any) -> None:
    if not isinstance(embedding, torch.nn.Module) or not hasattr(embedding, "forward_batch"):
        raise TypeError(
            f"StackedEmbeddings: entry {position} is a {type(embedding).__name__}, expected a polytag token "
            f"embedding (WordEmbeddings, TransformerWordEmbeddings, StackedEmbeddings)"
        )
    if not getattr(embedding, "is_token_embedding", False):
        raise EmbeddingConfigError(
            f"StackedEmbeddings: entry {position} ({type(embedding).__name__}) gives no token vectors "
            f"(is_token_embedding=False); stack token embeddings only"
        )


class StackedEmbeddings(TokenEmbeddings):
    """Concatenates the token vectors of several embeddings: ``embedding_length`` is the sum.

    ``embed`` keeps each member's vectors on the tokens under ``"<position>-<name>"`` (Flair's
    ``overwrite_names=True``), or under the member's own name with ``overwrite_names=False``. Unlike
    Flair, the members themselves are not renamed: a transformer's name is part of its saved settings.
    """

    def __init__(self, embeddings: Sequence[Any], overwrite_names: bool = True) -> None:
        super().__init__()
        members = list(embeddings)
        if not members:
            raise EmbeddingConfigError("StackedEmbeddings needs at least one embedding")
        for position, embedding in enumerate(members):
            _check_token_embedding(position, embedding)
        self.embeddings = torch.nn.ModuleList(members)
        self.name = "Stack"
        self.overwrite_names = overwrite_names

    def members(self) -> list[Any]:
        """The stacked embeddings, in order (typed loosely: any module with ``forward_batch``)."""
        return list(self.embeddings)

    @property
    def embedding_length(self) -> int:  # type: ignore[override]
        return sum(int(e.embedding_length) for e in self.members())

    @property
    def fine_tune(self) -> bool:
        """True when any member is trained (what a span head asks before switching modes)."""
        return any(getattr(e, "fine_tune", False) for e in self.members())

    @property
    def device(self) -> torch.device:
        device: torch.device = self.members()[0].device
        return device

    def forward_batch(self, sentences: Sequence[Sentence]) -> EmbeddingBatch:
        """The members' ``[B, T, d_i]`` vectors concatenated to ``[B, T, sum]`` (on member 0's device)."""
        parts, first = self.member_vectors(sentences)
        return EmbeddingBatch(torch.cat(parts, dim=-1), first.lengths, first.mask, None)

    def member_vectors(self, sentences: Sequence[Sentence]) -> tuple[list[torch.Tensor], EmbeddingBatch]:
        """Each member's ``[B, T, d_i]`` vectors (one pass each, on member 0's device, one dtype) and
        member 0's batch (for lengths and mask)."""
        sentences = list(sentences)
        outputs = [e.forward_batch(sentences) for e in self.members()]
        first = outputs[0]
        parts = []
        for position, output in enumerate(outputs):
            vectors = output.token_embeddings
            if vectors is None or vectors.shape[:2] != first.token_embeddings.shape[:2]:
                shape = None if vectors is None else tuple(vectors.shape)
                raise EmbeddingConfigError(
                    f"StackedEmbeddings: member {position} returned token vectors of shape {shape}, expected "
                    f"{tuple(first.token_embeddings.shape[:2])} + (width,)"
                )
            parts.append(vectors.to(first.token_embeddings.device))
        dtype = torch.promote_types(*(p.dtype for p in parts)) if len(parts) > 1 else parts[0].dtype
        return [p.to(dtype) for p in parts], first

    def store_names(self) -> list[str]:
        """Flair's names for the members' vectors on a token: ``"<position>-<name>"`` (so that
        ``token.embedding``, vectors in name order, is in stack order and equal names do not collide),
        or the members' own names with ``overwrite_names=False``."""
        names = self.get_names()
        return [f"{i}-{name}" for i, name in enumerate(names)] if self.overwrite_names else names

    def embed(self, sentences: Sentence | Sequence[Sentence]) -> list[Sentence]:
        """Embed sentences without gradients, Flair style (one pass per member), and return them:
        each member's vector goes to ``token.embedding`` under :meth:`store_names`."""
        batch = as_sentence_list(sentences)
        with torch.no_grad():
            parts, _ = self.member_vectors(batch)
        for name, vectors in zip(self.store_names(), parts):
            store_token_vectors(batch, name, vectors)
        return batch

    def get_names(self) -> list[str]:
        return [str(getattr(e, "name", type(e).__name__)) for e in self.members()]

    def __str__(self) -> str:
        return f"StackedEmbeddings [{','.join(self.get_names())}]"

    # -- model files ----------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """The members' configs in order (each member's weights are in the model's state dict)."""
        from polytag.errors import ModelFileError

        members = []
        for position, member in enumerate(self.members()):
            if not hasattr(member, "to_config"):
                raise ModelFileError(
                    f"StackedEmbeddings: entry {position} ({type(member).__name__}) cannot be saved in a "
                    "model file (it has no to_config)"
                )
            members.append(member.to_config())
        return {"class": type(self).__name__, "embeddings": members, "overwrite_names": self.overwrite_names}

    @classmethod
    def from_config(cls, config: dict[str, Any], header_shapes: Any = None) -> StackedEmbeddings:
        """Rebuild the stack from :meth:`to_config` output; each member's class comes from a fixed
        allow-list by its config's ``"class"`` (transformer embeddings, word vectors, stacks)."""
        from polytag.embeddings.transformer import TransformerEmbeddings
        from polytag.embeddings.word import WordEmbeddings
        from polytag.errors import ModelFileError

        members = config.get("embeddings")
        if not isinstance(members, list) or not members or not all(isinstance(m, dict) for m in members):
            raise ModelFileError(
                "StackedEmbeddings config entry 'embeddings': expected a list of embedding configs"
            )
        built: list[Any] = []
        for member in members:
            name = member.get("class")
            if name == "StackedEmbeddings":
                built.append(cls.from_config(member, header_shapes))
            elif name == "WordEmbeddings":
                built.append(WordEmbeddings.from_config(member, header_shapes))
            elif name in (
                "TransformerEmbeddings",
                "TransformerWordEmbeddings",
                "TransformerDocumentEmbeddings",
            ):
                built.append(TransformerEmbeddings.from_config(member, header_shapes=header_shapes))
            else:
                raise ModelFileError(f"StackedEmbeddings config: unknown member class {name!r}")
        return cls(built, overwrite_names=bool(config.get("overwrite_names", True)))


class DocumentPoolEmbeddings(torch.nn.Module):
    """One vector per sentence: the mean (or max / min) of its stacked token vectors (Flair's class).

    ``fine_tune_mode`` ``"linear"`` / ``"nonlinear"`` puts a trained square linear map (with ReLU) over
    the token vectors before pooling, as Flair does; ``"none"`` pools them as they are.
    """

    is_token_embedding = False
    is_document_embedding = True

    def __init__(
        self, embeddings: Sequence[Any] | Any, fine_tune_mode: str = "none", pooling: str = "mean"
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise EmbeddingConfigError(
                f"DocumentPoolEmbeddings: pooling must be one of {POOLINGS}, got {pooling!r}"
            )
        if fine_tune_mode not in FINE_TUNE_MODES:
            raise EmbeddingConfigError(
                f"DocumentPoolEmbeddings: fine_tune_mode must be one of {FINE_TUNE_MODES}, "
                f"got {fine_tune_mode!r}"
            )
        members = embeddings if isinstance(embeddings, (list, tuple)) else [embeddings]
        self.embeddings = (
            members[0]
            if isinstance(members[0], StackedEmbeddings) and len(members) == 1
            else (StackedEmbeddings(members))
        )
        self.pooling = pooling
        self.fine_tune_mode = fine_tune_mode
        width = self.embeddings.embedding_length
        self.embedding_flex = torch.nn.Linear(width, width, bias=False) if fine_tune_mode != "none" else None
        if self.embedding_flex is not None:
            torch.nn.init.eye_(self.embedding_flex.weight)
        self.embedding_length = width
        self.document_embedding_length = width
        self.name = f"document_{pooling}"

    @property
    def fine_tune(self) -> bool:
        return self.fine_tune_mode != "none" or self.embeddings.fine_tune

    def forward_batch(self, sentences: Sequence[Sentence]) -> EmbeddingBatch:
        """``document_embeddings`` ``[B, embedding_length]``; an empty sentence gets zeros."""
        return self._pool(self.embeddings.forward_batch(sentences))

    def _pool(self, tokens: EmbeddingBatch) -> EmbeddingBatch:
        vectors = tokens.token_embeddings
        assert vectors is not None
        if self.embedding_flex is not None:
            vectors = self.embedding_flex(vectors)
            if self.fine_tune_mode == "nonlinear":
                vectors = torch.relu(vectors)
        mask = tokens.mask.unsqueeze(-1)
        counts = tokens.lengths.to(vectors.device).clamp(min=1).unsqueeze(-1).to(vectors.dtype)
        if self.pooling == "mean":
            pooled = (vectors * mask).sum(dim=1) / counts
        elif self.pooling == "max":
            pooled = (
                vectors.masked_fill(~mask, float("-inf")).amax(dim=1) if vectors.shape[1] else vectors.sum(1)
            )
        else:
            pooled = (
                vectors.masked_fill(~mask, float("inf")).amin(dim=1) if vectors.shape[1] else vectors.sum(1)
            )
        empty = (tokens.lengths == 0).to(vectors.device).unsqueeze(-1)
        pooled = pooled.masked_fill(empty, 0.0)
        return EmbeddingBatch(None, tokens.lengths, tokens.mask, pooled)

    def forward(self, sentences: Sequence[Sentence]) -> EmbeddingBatch:
        return self.forward_batch(sentences)

    def embed(self, sentences: Sentence | Sequence[Sentence]) -> list[Sentence]:
        """Embed sentences without gradients, Flair style, and return them: the pooled vector goes to
        ``sentence.embedding`` (under this module's name) and the token vectors it pooled to
        ``token.embedding``, as Flair's class does; each member runs once."""
        batch = as_sentence_list(sentences)
        with torch.no_grad():
            parts, first = self.embeddings.member_vectors(batch)
            output = self._pool(EmbeddingBatch(torch.cat(parts, dim=-1), first.lengths, first.mask, None))
        for name, vectors in zip(self.embeddings.store_names(), parts):
            store_token_vectors(batch, name, vectors)
        assert output.document_embeddings is not None
        store_document_vectors(batch, self.name, output.document_embeddings)
        return batch

    def get_document_embedding(self, sentence: Sentence) -> torch.Tensor | None:
        """The vector :meth:`embed` stored on ``sentence``, or None."""
        return stored_document_vector(sentence, self.name)

    def __str__(self) -> str:
        return self.name

    # -- model files ----------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Pooling settings and the pooled stack's config (the weights are in the model's state dict)."""
        return {
            "class": type(self).__name__,
            "embeddings": self.embeddings.to_config(),
            "pooling": self.pooling,
            "fine_tune_mode": self.fine_tune_mode,
        }

    @classmethod
    def from_config(cls, config: dict[str, Any], header_shapes: Any = None) -> DocumentPoolEmbeddings:
        """Rebuild from :meth:`to_config` output (a bad entry is a ModelFileError naming it)."""
        from polytag.errors import ModelFileError

        stack = config.get("embeddings")
        if not isinstance(stack, dict) or stack.get("class") != "StackedEmbeddings":
            raise ModelFileError(
                "DocumentPoolEmbeddings config entry 'embeddings': expected a StackedEmbeddings config"
            )
        try:
            return cls(
                StackedEmbeddings.from_config(stack, header_shapes),
                fine_tune_mode=config.get("fine_tune_mode", "none"),
                pooling=config.get("pooling", "mean"),
            )
        except EmbeddingConfigError as error:
            raise ModelFileError(f"DocumentPoolEmbeddings config: {error}") from None
