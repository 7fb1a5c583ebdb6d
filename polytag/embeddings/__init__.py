"""Embeddings: a shared transformer encoder that yields token and document vectors in one pass.

``EncoderSettings`` holds the settings, ``SubtokenPlanner`` turns sentences into encoder rows and gather
indexes (no torch), ``TransformerEmbeddings`` runs the encoder and pools.
"""

from polytag.embeddings.base import EmbeddingBatch
from polytag.embeddings.layers import encoder_hidden_states, needs_all_hidden_states, parse_layers
from polytag.embeddings.planner import BatchPlan, SubtokenPlanner, position_limit
from polytag.embeddings.settings import (
    CONFIG_KEYS,
    DEFAULT_CONTEXT_LENGTH,
    DEFAULT_MODEL_ID,
    EmbeddingConfigError,
    EncoderSettings,
)
from polytag.embeddings.stacked import DocumentPoolEmbeddings, StackedEmbeddings
from polytag.embeddings.tokenizer_files import (
    ALLOWED_TOKENIZER_FILES,
    load_tokenizer,
    tokenizer_from_folder,
)
from polytag.embeddings.transformer import (
    TransformerDocumentEmbeddings,
    TransformerEmbeddings,
    TransformerWordEmbeddings,
    checked_embedding_config,
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
    "ALLOWED_TOKENIZER_FILES",
    "CONFIG_KEYS",
    "DEFAULT_CONTEXT_LENGTH",
    "DEFAULT_MODEL_ID",
    "BatchPlan",
    "EmbeddingBatch",
    "EmbeddingConfigError",
    "EncoderSettings",
    "SubtokenPlanner",
    "TransformerDocumentEmbeddings",
    "TransformerEmbeddings",
    "TransformerWordEmbeddings",
    "checked_embedding_config",
    "encoder_hidden_states",
    "load_tokenizer",
    "needs_all_hidden_states",
    "parse_layers",
    "position_limit",
    "resolve_model_path",
    "tokenizer_from_folder",
]
