"""Flair's embedding classes that polytag does not offer: importing them works, constructing one raises.

Why: a ported script should fail on the line that uses such a class, with one message that says what to
use instead, rather than with an ImportError at the top of the file that names nothing.
"""

from __future__ import annotations

from typing import Any, NoReturn

from polytag.errors import PolytagError

__all__ = [
    "BytePairEmbeddings",
    "CharacterEmbeddings",
    "DocumentCNNEmbeddings",
    "DocumentLMEmbeddings",
    "DocumentRNNEmbeddings",
    "DocumentTFIDFEmbeddings",
    "ELMoEmbeddings",
    "FastTextEmbeddings",
    "FlairEmbeddings",
    "OneHotEmbeddings",
    "PooledFlairEmbeddings",
    "SentenceTransformerDocumentEmbeddings",
    "UNSUPPORTED_EMBEDDINGS",
    "UnsupportedEmbeddingError",
]

_TRANSFORMER = "TransformerWordEmbeddings('<hub id or local encoder folder>')"
_STACK = "StackedEmbeddings([TransformerWordEmbeddings(...), WordEmbeddings('/path/to/vectors.txt')])"

# class name -> (what it is / why it is missing, what to use instead)
UNSUPPORTED_EMBEDDINGS: dict[str, tuple[str, str]] = {
    "FlairEmbeddings": (
        "Flair's contextual character language models (e.g. 'news-forward') are not offered: polytag has "
        "no character-LM code and does not download Flair's model files",
        f"{_TRANSFORMER}, optionally with word vectors: {_STACK}",
    ),
    "PooledFlairEmbeddings": (
        "pooled Flair character-LM embeddings are not offered (they need FlairEmbeddings)",
        f"{_TRANSFORMER} with use_context=True for document context",
    ),
    "CharacterEmbeddings": (
        "the per-word character BiLSTM is not offered; subword information comes from the "
        "transformer's tokenizer",
        _TRANSFORMER,
    ),
    "ELMoEmbeddings": (
        "ELMo needs allennlp, which is unmaintained and not a polytag dependency",
        _TRANSFORMER,
    ),
    "BytePairEmbeddings": (
        "BPEmb subword vectors need the bpemb package and downloads at run time",
        _TRANSFORMER,
    ),
    "FastTextEmbeddings": (
        "fastText's subword n-gram models (.bin) are not read",
        "WordEmbeddings('/path/to/cc.en.300.vec') for fastText's whole-word vectors (.vec, word2vec text; "
        "no vectors for unknown words), or " + _TRANSFORMER,
    ),
    "OneHotEmbeddings": (
        "trainable one-hot word embeddings built from a corpus are not offered",
        _TRANSFORMER,
    ),
    "DocumentRNNEmbeddings": (
        "an RNN over token vectors as document embedding is not offered",
        "TransformerDocumentEmbeddings('<model>') or DocumentPoolEmbeddings([WordEmbeddings(...)])",
    ),
    "DocumentCNNEmbeddings": (
        "a CNN over token vectors as document embedding is not offered",
        "TransformerDocumentEmbeddings('<model>') or DocumentPoolEmbeddings([WordEmbeddings(...)])",
    ),
    "DocumentLMEmbeddings": (
        "document vectors from Flair character language models are not offered",
        "TransformerDocumentEmbeddings('<model>')",
    ),
    "DocumentTFIDFEmbeddings": (
        "TF-IDF document vectors (scikit-learn) are not offered",
        "TransformerDocumentEmbeddings('<model>') or DocumentPoolEmbeddings([WordEmbeddings(...)])",
    ),
    "SentenceTransformerDocumentEmbeddings": (
        "the sentence-transformers package is not a polytag dependency",
        "TransformerDocumentEmbeddings('<same model id or folder>', cls_pooling='mean'), which mean-pools "
        "the same encoder (without the sentence-transformers model's normalisation or dense layers)",
    ),
}


class UnsupportedEmbeddingError(PolytagError, NotImplementedError):
    """A Flair embedding class that polytag does not offer; the message says what to use instead."""


def unsupported_message(class_name: str) -> str:
    """The one-line message for constructing ``class_name``."""
    why, instead = UNSUPPORTED_EMBEDDINGS[class_name]
    return f"{class_name} is not supported by polytag: {why}. Use {instead} instead."


class _Unsupported:
    """Constructing any subclass raises :class:`UnsupportedEmbeddingError` (the class name picks the text)."""

    @classmethod
    def from_corpus(cls, *args: Any, **kwargs: Any) -> NoReturn:
        """Flair builds some from a corpus (``OneHotEmbeddings.from_corpus``): the same clear error."""
        raise UnsupportedEmbeddingError(unsupported_message(cls.__name__))

    def __init__(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise UnsupportedEmbeddingError(unsupported_message(type(self).__name__))


class FlairEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class PooledFlairEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class CharacterEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class ELMoEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class BytePairEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class FastTextEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class OneHotEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class DocumentRNNEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class DocumentCNNEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class DocumentLMEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class DocumentTFIDFEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""


class SentenceTransformerDocumentEmbeddings(_Unsupported):
    """Not offered; see :data:`UNSUPPORTED_EMBEDDINGS`."""
