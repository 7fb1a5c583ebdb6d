"""Flair's tokenizer objects (``flair.tokenization``): ``tokenize(text) -> list[str]`` and a ``name``.

Every tokenizer is also callable as ``tokenizer(text) -> [(token, start_offset), ...]``, which is the
callable :class:`polytag.data.Sentence` takes as ``use_tokenizer``; so Flair's
``Sentence(text, use_tokenizer=SegtokTokenizer())`` works as it is. Offsets are found by locating each
token in the text from left to right; a token that is not a substring of the text (a tokenizer that
rewrites words) is placed right after the previous one.

``SegtokTokenizer`` and ``SpaceTokenizer`` need nothing beyond polytag's dependencies; the spaCy,
SciSpaCy and Japanese (konoha) tokenizers work when those packages are installed and otherwise raise
:class:`MissingDependencyError` saying what to install or use instead.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from polytag.errors import PolytagError

__all__ = [
    "JapaneseTokenizer",
    "MissingDependencyError",
    "SciSpacyTokenizer",
    "SegtokTokenizer",
    "SpaceTokenizer",
    "SpacyTokenizer",
    "Tokenizer",
    "TokenizerWrapper",
    "align_tokens",
]


class MissingDependencyError(PolytagError, ImportError):
    """An optional package (spaCy, konoha, gensim) that a Flair class needs is not installed."""


def align_tokens(text: str, words: list[str]) -> list[tuple[str, int]]:
    """``(word, start_offset)`` for each word, found left to right in ``text``.

    Why: Flair's tokenizers return strings only, while polytag's Sentence keeps character offsets
    (``start_position``, ``whitespace_after``). A word that is not found is put right after the previous
    word and consumes no text.
    """
    pieces: list[tuple[str, int]] = []
    offset = 0
    for word in words:
        start = text.find(word, offset)
        if start < 0:  # not in the text: takes no characters, so the next word is still found
            pieces.append((word, min(offset, len(text))))
            continue
        pieces.append((word, start))
        offset = start + len(word)
    return pieces


class Tokenizer:
    """Base class: subclasses implement :meth:`tokenize`; ``name`` identifies the tokenizer."""

    def tokenize(self, text: str) -> list[str]:
        raise NotImplementedError

    def tokenize_with_offsets(self, text: str) -> list[tuple[str, int]]:
        """The tokens with their character offsets in ``text``."""
        return align_tokens(text, self.tokenize(text))

    def __call__(self, text: str) -> list[tuple[str, int]]:
        return self.tokenize_with_offsets(text)

    @property
    def name(self) -> str:
        return self.__class__.__name__

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}()"


class SegtokTokenizer(Tokenizer):
    """Flair's default tokenizer: segtok's sentence split, word tokenizer and contraction split."""

    def __init__(self) -> None:
        # segtok is a declared dependency; imported here so that importing polytag stays cheap
        from segtok.segmenter import split_single
        from segtok.tokenizer import split_contractions, word_tokenizer

        self._split_single = split_single
        self._word_tokenizer = word_tokenizer
        self._split_contractions = split_contractions

    def tokenize(self, text: str) -> list[str]:
        return self.run_tokenize(text, self)

    @staticmethod
    def run_tokenize(text: str, tokenizer: SegtokTokenizer | None = None) -> list[str]:
        """segtok's tokens of ``text`` (Flair's static ``SegtokTokenizer.run_tokenize``)."""
        tok = tokenizer or SegtokTokenizer()
        words: list[str] = []
        for sentence in tok._split_single(text):
            words.extend(tok._split_contractions(tok._word_tokenizer(sentence)))
        return [w for w in words if w]


class SpaceTokenizer(Tokenizer):
    """Splits on the space character only (as Flair's: tabs and newlines stay inside tokens)."""

    def tokenize(self, text: str) -> list[str]:
        return self.run_tokenize(text)

    @staticmethod
    def run_tokenize(text: str) -> list[str]:
        return [word for word in text.split(" ") if word]


class TokenizerWrapper(Tokenizer):
    """Makes a function ``str -> list[str]`` a tokenizer (Flair's ``TokenizerWrapper``)."""

    def __init__(self, tokenizer_func: Callable[[str], list[str]]) -> None:
        if not callable(tokenizer_func):
            raise TypeError(f"TokenizerWrapper needs a function str -> list[str], got {tokenizer_func!r}")
        self.tokenizer_func = tokenizer_func

    def tokenize(self, text: str) -> list[str]:
        words = self.tokenizer_func(text)
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise TypeError(
                f"{self.name}: the wrapped function must return a list of strings, got {type(words).__name__}"
            )
        return words

    @property
    def name(self) -> str:
        return self.__class__.__name__ + "_" + getattr(self.tokenizer_func, "__name__", "function")


def load_spacy_model(model: Any, needed_by: str) -> Any:
    """A spaCy ``Language``: ``model`` itself, or ``spacy.load(model)`` for a name or path.

    Why here: the spaCy tokenizer and sentence splitter share this, and both must say clearly that
    spaCy (or the model) is missing instead of failing with a bare ImportError/OSError.
    """
    try:
        import spacy
        from spacy.language import Language
    except ImportError:
        raise MissingDependencyError(
            f"{needed_by} needs spaCy, which is not installed: pip install spacy (and the model, e.g. "
            f"python -m spacy download en_core_web_sm), or use SegtokTokenizer / SegtokSentenceSplitter"
        ) from None
    if isinstance(model, Language):
        return model
    if not isinstance(model, str):
        raise TypeError(f"{needed_by}: model must be a spaCy Language or a model name, got {model!r}")
    try:
        return spacy.load(model)
    except OSError as error:
        raise MissingDependencyError(
            f"{needed_by}: spaCy model {model!r} is not installed (python -m spacy download {model}): {error}"
        ) from None


class SpacyTokenizer(Tokenizer):
    """spaCy's tokenizer (``model``: a spaCy ``Language`` or the name of an installed model)."""

    def __init__(self, model: Any) -> None:
        self.model = load_spacy_model(model, "SpacyTokenizer")

    def tokenize(self, text: str) -> list[str]:
        return [word for word, _ in self.tokenize_with_offsets(text)]

    def tokenize_with_offsets(self, text: str) -> list[tuple[str, int]]:
        # spaCy knows each token's offset, so nothing has to be searched for
        return [(tok.text, tok.idx) for tok in self.model.make_doc(text) if tok.text.strip()]

    @property
    def name(self) -> str:
        meta = getattr(self.model, "meta", {}) or {}
        return f"{self.__class__.__name__}_{meta.get('name', '')}_{meta.get('version', '')}"


class SciSpacyTokenizer(SpacyTokenizer):
    """The tokenizer of SciSpaCy's ``en_core_sci_sm`` model (biomedical text).

    Flair adds its own infix rules for hyphens and brackets on top; polytag uses the model's rules as
    they are (see docs/porting-from-flair.md).
    """

    def __init__(self) -> None:
        super().__init__("en_core_sci_sm")


class JapaneseTokenizer(Tokenizer):
    """Japanese words through konoha (``tokenizer``: ``"mecab"``, ``"janome"`` or ``"sudachi"``)."""

    TOKENIZERS = ("mecab", "janome", "sudachi")

    def __init__(self, tokenizer: str, sudachi_mode: str = "A") -> None:
        if tokenizer.lower() not in self.TOKENIZERS:
            raise ValueError(
                f"JapaneseTokenizer: tokenizer must be one of {self.TOKENIZERS}, got {tokenizer!r}"
            )
        if sudachi_mode not in ("A", "B", "C"):
            raise ValueError(f"JapaneseTokenizer: sudachi_mode must be 'A', 'B' or 'C', got {sudachi_mode!r}")
        try:
            import konoha
        except ImportError:
            raise MissingDependencyError(
                "JapaneseTokenizer needs konoha, which is not installed: pip install konoha "
                f"(with the {tokenizer} backend), or tokenize the text yourself and pass a list of words"
            ) from None
        self.tokenizer = tokenizer
        self.sudachi_mode = sudachi_mode
        self.sentence_tokenizer = konoha.SentenceTokenizer()
        self.word_tokenizer = konoha.WordTokenizer(tokenizer, mode=sudachi_mode)

    def tokenize(self, text: str) -> list[str]:
        words: list[str] = []
        for sentence in self.sentence_tokenizer.tokenize(text):
            words.extend(str(token) for token in self.word_tokenizer.tokenize(sentence))
        return words

    @property
    def name(self) -> str:
        return f"{self.__class__.__name__}_{self.tokenizer}_{self.sudachi_mode}"
