"""Flair's sentence splitters (``flair.splitter``): ``split(text)`` -> a list of :class:`Sentence`.

Each sentence's ``start_position`` is its character offset in the input text, its tokens' offsets are
relative to the sentence (as in Flair), and the sentences of one ``split`` call are linked as one
document (``previous_sentence()`` / ``next_sentence()``), which is what document context (FLERT) in
:class:`~polytag.embeddings.TransformerWordEmbeddings` follows. ``link_sentences=False`` leaves them
unlinked.
"""

from __future__ import annotations

from typing import Any

from polytag.data import Sentence, link_document
from polytag.tokenization import (
    SciSpacyTokenizer,
    SegtokTokenizer,
    SpacyTokenizer,
    Tokenizer,
    load_spacy_model,
)

__all__ = [
    "NoSentenceSplitter",
    "SciSpacySentenceSplitter",
    "SegtokSentenceSplitter",
    "SentenceSplitter",
    "SpacySentenceSplitter",
    "TagSentenceSplitter",
]


class SentenceSplitter:
    """Base class: subclasses implement :meth:`split_offsets`; :meth:`split` builds the sentences."""

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        self._tokenizer: Tokenizer = tokenizer if tokenizer is not None else SegtokTokenizer()

    def split_offsets(self, text: str) -> list[tuple[str, int]]:
        """The sentence texts with their character offsets in ``text``."""
        raise NotImplementedError

    def split(self, text: str, link_sentences: bool = True) -> list[Sentence]:
        """Sentences of ``text`` tokenized by :attr:`tokenizer`, linked as one document unless told not to."""
        if not isinstance(text, str):
            raise TypeError(f"{self.name}.split expects a str, got {type(text).__name__}")
        sentences = [
            Sentence(piece, use_tokenizer=self._tokenizer, start_position=offset)
            for piece, offset in self.split_offsets(text)
        ]
        if link_sentences:
            link_document(sentences, None)
        return sentences

    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    @tokenizer.setter
    def tokenizer(self, value: Tokenizer) -> None:
        self._tokenizer = value

    @property
    def name(self) -> str:
        return self.__class__.__name__

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(tokenizer={self._tokenizer.name})"


def locate(text: str, pieces: list[str]) -> list[tuple[str, int]]:
    """``(piece, offset)`` for each non-blank piece, searched for left to right in ``text``.

    Why: segtok returns sentence strings only; Flair finds each one with ``text.index`` from the end of
    the previous one, and so do we (a piece not found in the text, which segtok does not produce, is
    placed right after the previous one).
    """
    located: list[tuple[str, int]] = []
    offset = 0
    for piece in pieces:
        if not piece.strip():
            continue
        start = text.find(piece, offset)
        if start < 0:
            start = min(offset, len(text))
        located.append((piece, start))
        offset = start + len(piece)
    return located


class SegtokSentenceSplitter(SentenceSplitter):
    """Flair's default splitter: segtok's ``split_multi`` (sentence ends and line breaks)."""

    def __init__(self, tokenizer: Tokenizer | None = None) -> None:
        super().__init__(tokenizer)
        from segtok.segmenter import split_multi

        self._split_multi = split_multi

    def split_offsets(self, text: str) -> list[tuple[str, int]]:
        return locate(text, list(self._split_multi(text)))


class NoSentenceSplitter(SentenceSplitter):
    """The whole text is one sentence (at offset 0)."""

    def split_offsets(self, text: str) -> list[tuple[str, int]]:
        return [(text, 0)]


class TagSentenceSplitter(SentenceSplitter):
    """Splits at every occurrence of ``tag`` (e.g. ``"#!"`` or a line break); blank pieces are dropped."""

    def __init__(self, tag: str, tokenizer: Tokenizer | None = None) -> None:
        if not isinstance(tag, str) or not tag:
            raise ValueError(f"TagSentenceSplitter needs a non-empty tag string, got {tag!r}")
        super().__init__(tokenizer)
        self._tag = tag

    def split_offsets(self, text: str) -> list[tuple[str, int]]:
        located: list[tuple[str, int]] = []
        offset = 0
        for piece in text.split(self._tag):
            if piece.strip():
                located.append((piece, offset))
            offset += len(piece) + len(self._tag)
        return located

    @property
    def tag(self) -> str:
        return self._tag

    @property
    def name(self) -> str:
        return f"{self.__class__.__name__}_{self._tag}"


class SpacySentenceSplitter(SentenceSplitter):
    """spaCy's sentence boundaries (``model``: a spaCy ``Language`` or an installed model's name).

    Without ``tokenizer`` the sentences are tokenized by the same spaCy model (Flair uses SciSpaCy's
    model there, which few have installed).
    """

    def __init__(self, model: Any, tokenizer: Tokenizer | None = None) -> None:
        self.model = load_spacy_model(model, self.__class__.__name__)
        super().__init__(tokenizer if tokenizer is not None else SpacyTokenizer(self.model))

    def split_offsets(self, text: str) -> list[tuple[str, int]]:
        return [(str(sent), sent.start_char) for sent in self.model(text).sents if str(sent).strip()]

    @property
    def name(self) -> str:
        meta = getattr(self.model, "meta", {}) or {}
        return f"{self.__class__.__name__}_{meta.get('name', '')}_{meta.get('version', '')}"


class SciSpacySentenceSplitter(SpacySentenceSplitter):
    """SciSpaCy's ``en_core_sci_sm`` model for sentences and tokens (biomedical text)."""

    def __init__(self) -> None:
        super().__init__("en_core_sci_sm", SciSpacyTokenizer())
