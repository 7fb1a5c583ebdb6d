"""Embeddings: a shared transformer encoder that yields token and document vectors in one pass."""

from polytag.embeddings.base import EmbeddingBatch
from polytag.embeddings.stacked import DocumentPoolEmbeddings, StackedEmbeddings
from polytag.embeddings.transformer import (
    DEFAULT_CONTEXT_LENGTH,
    DEFAULT_MODEL_ID,
    EmbeddingConfigError,
    TransformerDocumentEmbeddings,
    TransformerEmbeddings,
    TransformerWordEmbeddings,
    resolve_model_path,
)
from polytag.embeddings.unsupported import (
    BytePairEmbeddings,
    CharacterEmbeddings,
    DocumentCNNEmbeddings,
    DocumentLMEmbeddings,
    DocumentRNNEmbeddings,
    DocumentTFIDFEmbeddings,
    ELMoEmbeddings,
    FastTextEmbeddings,
    FlairEmbeddings,
    OneHotEmbeddings,
    PooledFlairEmbeddings,
    SentenceTransformerDocumentEmbeddings,
    UnsupportedEmbeddingError,
)
from polytag.embeddings.word import EmbeddingFileNotFoundError, TokenEmbeddings, WordEmbeddings

__all__ = [
    "BytePairEmbeddings",
    "CharacterEmbeddings",
    "DocumentCNNEmbeddings",
    "DocumentLMEmbeddings",
    "DocumentPoolEmbeddings",
    "DocumentRNNEmbeddings",
    "DocumentTFIDFEmbeddings",
    "ELMoEmbeddings",
    "EmbeddingFileNotFoundError",
    "FastTextEmbeddings",
    "FlairEmbeddings",
    "OneHotEmbeddings",
    "PooledFlairEmbeddings",
    "SentenceTransformerDocumentEmbeddings",
    "StackedEmbeddings",
    "TokenEmbeddings",
    "UnsupportedEmbeddingError",
    "WordEmbeddings",
    "DEFAULT_CONTEXT_LENGTH",
    "DEFAULT_MODEL_ID",
    "EmbeddingBatch",
    "EmbeddingConfigError",
    "TransformerDocumentEmbeddings",
    "TransformerEmbeddings",
    "TransformerWordEmbeddings",
    "resolve_model_path",
]
