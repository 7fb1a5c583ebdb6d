"""Embeddings: a shared transformer encoder that yields token and document vectors in one pass."""

from polytag.embeddings.base import EmbeddingBatch
from polytag.embeddings.transformer import (
    DEFAULT_CONTEXT_LENGTH,
    DEFAULT_MODEL_ID,
    EmbeddingConfigError,
    TransformerDocumentEmbeddings,
    TransformerEmbeddings,
    TransformerWordEmbeddings,
    resolve_model_path,
)

__all__ = [
    "DEFAULT_CONTEXT_LENGTH",
    "DEFAULT_MODEL_ID",
    "EmbeddingBatch",
    "EmbeddingConfigError",
    "TransformerDocumentEmbeddings",
    "TransformerEmbeddings",
    "TransformerWordEmbeddings",
    "resolve_model_path",
]
